import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiError, MeshApi, WORKFLOW_STATUSES, type WorkflowSummary, type WorkflowView } from '../api';
import { UsageError, type ApiCommandGroup, type ApiContext } from '../command';
import { LiveView, styles } from '../live-view';
import {
  elapsedMs,
  isEnded,
  progressLine,
  seconds,
  statusText,
  stepCount,
  timelineKey,
  timelineLine,
  workflowReport,
} from '../workflow-format';

/** How often `mesh submit` asks for the workflow's state while it waits. */
const POLL_INTERVAL_MS = 500;
/** How long `mesh submit` keeps asking an orchestrator that does not answer before it gives up. */
const UNREACHABLE_GIVE_UP_MS = 120_000;

/**
 * `mesh submit <spec.json>`: posts the spec, then follows the workflow to its end by polling
 * `GET /workflows/:id` (the state is kept, so a poll can be late but never misses the end, and
 * it needs nothing but the API). Exit 0 when it completed, 1 with the reason otherwise.
 */
export const submitCommand: ApiCommandGroup = {
  name: 'submit',
  uses: 'api',
  summary: 'submit a workflow spec and follow it to its end (exit 0 only when it completed)',
  usage: [
    'mesh submit <spec.json | -> [--no-wait] [--json] [--interval <ms>]',
    '  (-: the spec on standard input; --no-wait: print the id and exit; --json: the final state as JSON)',
    '  (MESH_API_URL: the orchestrator, default http://127.0.0.1:3000; MESH_API_KEY: its API key)',
  ],
  async run(args, context) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { 'no-wait': { type: 'boolean' }, json: { type: 'boolean' }, interval: { type: 'string' } },
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('give one spec file (or - for standard input)');
    const interval = values.interval === undefined ? POLL_INTERVAL_MS : positiveInt('--interval', values.interval);
    const api = MeshApi.fromEnvironment(context.env);
    const spec = await readSpec(positionals[0]);
    const id = await api.submit(spec);
    if (values['no-wait']) {
      context.output.out(id);
      return 0;
    }
    const view = await follow(api, id, context, { interval, totalSteps: stepCount(spec), json: values.json ?? false });
    if (!view) return 130;
    if (values.json) context.output.out(JSON.stringify(view, null, 2));
    if (view.status === 'completed') {
      if (!values.json) context.output.out(`result: ${JSON.stringify(view.result ?? {})}`);
      return 0;
    }
    context.output.err(`workflow ${id} ${view.status}: ${view.reason ?? '(no reason given)'}`);
    return 1;
  },
};

/** `mesh status <id>`: one workflow's state, steps, branches and events. */
export const statusCommand: ApiCommandGroup = {
  name: 'status',
  uses: 'api',
  summary: "a workflow's state: status, steps, branches, result or reason, events",
  usage: ['mesh status <workflow id> [--json]'],
  async run(args, context) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('give one workflow id');
    const view = await MeshApi.fromEnvironment(context.env).workflow(positionals[0]);
    if (values.json) context.output.out(JSON.stringify(view, null, 2));
    else for (const line of workflowReport(view, styles(context.output, context.env))) context.output.out(line);
    return 0;
  },
};

/** `mesh approve <id> <stepPath>`: decides a step waiting for approval (approves unless --reject). */
export const approveCommand: ApiCommandGroup = {
  name: 'approve',
  uses: 'api',
  summary: 'approve (or --reject) a workflow step waiting for approval',
  usage: [
    'mesh approve <workflow id> <step path> [--reject] [--comment "<why>"]',
    '  (mesh status <id> lists the steps waiting)',
  ],
  async run(args, context) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { reject: { type: 'boolean' }, comment: { type: 'string' } },
      allowPositionals: true,
    });
    if (positionals.length !== 2) throw new UsageError('give the workflow id and the step path (e.g. root.stages.1)');
    const [id, stepPath] = positionals;
    const approve = !values.reject;
    await MeshApi.fromEnvironment(context.env).decide(id, stepPath, { approve, comment: values.comment });
    context.output.out(`${approve ? 'approved' : 'rejected'} ${stepPath} of ${id}: mesh status ${id} follows it`);
    return 0;
  },
};

/** `mesh ls`: workflows, newest first, paging through the API with its cursor. */
export const lsCommand: ApiCommandGroup = {
  name: 'ls',
  uses: 'api',
  summary: 'list workflows, newest first',
  usage: [`mesh ls [--status ${WORKFLOW_STATUSES.join('|')}] [--limit <n, default 50>] [--cursor <id>] [--json]`],
  async run(args, context) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        status: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`mesh ls takes no arguments (got "${positionals[0]}")`);
    if (values.status !== undefined && !(WORKFLOW_STATUSES as readonly string[]).includes(values.status)) {
      throw new UsageError(`--status must be one of ${WORKFLOW_STATUSES.join(', ')} (got "${values.status}")`);
    }
    const limit = values.limit === undefined ? 50 : positiveInt('--limit', values.limit);
    const api = MeshApi.fromEnvironment(context.env);
    const workflows: WorkflowSummary[] = [];
    let cursor = values.cursor;
    do {
      const page = await api.list({ status: values.status, limit: Math.min(1000, limit - workflows.length), cursor });
      workflows.push(...page.workflows);
      cursor = page.nextCursor;
    } while (cursor && workflows.length < limit);
    const { output } = context;
    if (values.json) {
      output.out(JSON.stringify({ workflows, nextCursor: cursor }, null, 2));
      return 0;
    }
    const s = styles(output, context.env);
    const width = Math.max(0, ...workflows.map((w) => w.status.length));
    for (const w of workflows) {
      const took = isEnded(w.status) ? seconds(elapsedMs(w)) : `${seconds(elapsedMs(w))} so far`;
      const status = statusText(w.status, s) + ' '.repeat(width - w.status.length);
      output.out(`${w.id}  ${status}  ${w.submittedAt}  ${took.padStart(11)}${w.name ? `  ${w.name}` : ''}`);
    }
    output.out(
      `${workflows.length} workflow(s)${values.status ? ` ${values.status}` : ''}` +
        (cursor ? `; more: mesh ls${values.status ? ` --status ${values.status}` : ''} --cursor ${cursor}` : ''),
    );
    return 0;
  },
};

/**
 * Polls the workflow until it ends, printing each new event and the progress line (redrawn in
 * place on a terminal). Resolves with its final state, or undefined when Ctrl-C stopped it.
 */
async function follow(
  api: MeshApi,
  id: string,
  { output, env }: ApiContext,
  options: { interval: number; totalSteps?: number; json: boolean },
): Promise<WorkflowView | undefined> {
  const s = styles(output, env);
  // With --json, stdout is the final JSON alone: the progress goes to stderr.
  const view = new LiveView(options.json ? { out: output.err, err: output.err } : output);
  view.log(`submitted ${s.bold(id)}${output.terminal ? s.dim('  (Ctrl-C stops watching; the workflow goes on)') : ''}`);
  const seen = new Set<string>();
  let interrupted = false;
  const stop = () => {
    interrupted = true;
  };
  process.once('SIGINT', stop);
  let unreachableSince: number | undefined;
  try {
    for (;;) {
      let state: WorkflowView;
      try {
        state = await api.workflow(id);
        unreachableSince = undefined;
      } catch (error) {
        // The orchestrator restarting is no reason to stop watching; anything else is.
        if (!(error instanceof ApiError) || error.status !== undefined) throw error;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > UNREACHABLE_GIVE_UP_MS) throw error;
        view.render([`${s.yellow('waiting')}  ${error.message}`]);
        await sleepUnless(options.interval, () => interrupted);
        if (interrupted) break;
        continue;
      }
      for (const entry of state.timeline ?? []) {
        const key = timelineKey(entry);
        if (seen.has(key)) continue;
        seen.add(key);
        view.log(`  ${timelineLine(entry, s)}`);
      }
      view.render([progressLine(state, s, options.totalSteps)]);
      if (isEnded(state.status)) return state;
      await sleepUnless(options.interval, () => interrupted);
      if (interrupted) break;
    }
  } finally {
    process.removeListener('SIGINT', stop);
  }
  output.err(`stopped watching; workflow ${id} goes on: mesh status ${id}`);
  return undefined;
}

async function readSpec(path: string): Promise<unknown> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the spec ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(
      `the spec ${path === '-' ? 'on standard input' : path} is not JSON: ${(error as Error).message}`,
    );
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${name} must be a positive integer (got "${text}")`);
  }
  return value;
}

/** Waits `ms`, waking early (every 50 ms) once `stopped()` is true. */
async function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stopped() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, until - Date.now())));
  }
}
