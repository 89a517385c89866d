/**
 * fan-out: workflows of 10 branches (the `keywords` skill over ten short documents), kept 20 in
 * flight by closed-loop submitters for a fixed window: completed workflows per second and the
 * p99 of submit → result of the workflows that ended in the window. On the memory mesh and on
 * the Pulsar mesh (every role its own process). On Pulsar also the curves:
 * - 1, 2 and 4 worker processes (10 branches, 20 in flight), measured in turn in every repeat;
 * - 10, 100 and 1,000 branches per workflow (short documents, ~200 branches in flight:
 *   20, 2 and 1 workflows), reported as workflows/s and branches/s;
 * - the lean deployment: only the roles a fan-out needs (no saga coordinator, no market maker).
 *   Their task results have topics of their own (`replyTopic`), so the two idle roles should
 *   cost the fan-out nothing: the lean figures check that.
 * Baseline in the same run: the skill work alone (workflows/s if one core did nothing but run
 * the ten keyword extractions and the combine).
 */
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import type { BenchContext } from './context';
import { closedLoop, documents, fanOutBody, fixedCount, type LoadResult, type WorkflowTarget } from './driver';
import { PulsarMeshSession } from './meshes';
import { median, percentileMs } from './stats';

export const BRANCHES = 10;
export const IN_FLIGHT = 20;
const TIMEOUT_MS = 120_000;

/** Workflows/s if one core ran only the skill work (10 keyword runs + combine). */
async function skillCeiling(durationMs: number): Promise<number> {
  const keywords = createDefaultSkillRegistry().require('keywords');
  const signal = new AbortController().signal;
  let n = 0;
  const started = Date.now();
  while (Date.now() - started < durationMs) {
    const docs = documents(BRANCHES, n++);
    const outputs = await Promise.all(
      docs.map(async (d) => ({ inputId: d.id, output: await keywords.run(d, { signal }) })),
    );
    keywords.combine(outputs);
  }
  return n / ((Date.now() - started) / 1000);
}

function describe(result: LoadResult): string {
  const extra =
    result.failed > 0 ? `, ${result.failed} failed${result.errors.length ? ` (${result.errors[0]})` : ''}` : '';
  return `${result.perSecond.toFixed(1)} wf/s, p50 ${percentileMs(result.latenciesNs, 50).toFixed(0)} ms, p99 ${percentileMs(result.latenciesNs, 99).toFixed(0)} ms${extra}`;
}

export interface FanOutRun {
  readonly wfps: number;
  readonly p99: number;
  /** CPU ms per completed workflow, by role (Pulsar) or of this process (memory). */
  readonly cpu: Map<string, number>;
}

/** Starts counting CPU: the returned function gives ms per workflow by role for `workflows`. */
export function cpuMeter(target: WorkflowTarget): (workflows: number) => Map<string, number> {
  if (target instanceof PulsarMeshSession) {
    const before = target.cpuMs();
    const driverBefore = process.cpuUsage();
    return (workflows) => {
      const after = target.cpuMs();
      const driver = process.cpuUsage(driverBefore);
      const perWorkflow = new Map<string, number>();
      let agents = 0;
      for (const [role, ms] of after) {
        const delta = ms - (before.get(role) ?? Number.NaN);
        perWorkflow.set(role, delta / workflows);
        if (role !== 'broker' && role !== 'redis') agents += delta;
      }
      perWorkflow.set('agents', agents / workflows);
      // the benchmark's own process: HTTP submissions and the completion observer
      perWorkflow.set('driver', (driver.user + driver.system) / 1000 / workflows);
      return perWorkflow;
    };
  }
  const before = process.cpuUsage();
  return (workflows) => {
    const used = process.cpuUsage(before);
    return new Map([['process', (used.user + used.system) / 1000 / workflows]]);
  };
}

async function saturate(ctx: BenchContext, target: WorkflowTarget, label: string): Promise<FanOutRun> {
  const meter = cpuMeter(target);
  const result = await closedLoop(target, {
    concurrency: IN_FLIGHT,
    warmupMs: ctx.ms(2000),
    durationMs: ctx.ms(6000),
    timeoutMs: TIMEOUT_MS,
    body: (n) => fanOutBody(BRANCHES, n),
  });
  const cpu = meter(result.total);
  const cpuText = [...cpu].map(([role, ms]) => `${role} ${ms.toFixed(1)}`).join(', ');
  process.stdout.write(`  ${label}: ${describe(result)}; CPU ms/workflow: ${cpuText}\n`);
  if (result.completed === 0)
    throw new Error(
      `${label}: no workflow completed in the window${result.errors.length ? `: ${result.errors.join('; ')}` : ''}`,
    );
  return { wfps: result.perSecond, p99: percentileMs(result.latenciesNs, 99), cpu };
}

/** CPU ms per workflow figures, the median over runs, per role. */
function addCpuFigures(ctx: BenchContext, prefix: string, runs: readonly FanOutRun[], what: string): void {
  const roles = new Set(runs.flatMap((r) => [...r.cpu.keys()]));
  const order = [
    'agents',
    'orchestrator',
    'aggregator',
    'worker',
    'saga-coordinator',
    'market-maker',
    'broker',
    'redis',
    'driver',
    'process',
  ];
  for (const role of [...roles].sort((a, b) => order.indexOf(a) - order.indexOf(b))) {
    const label =
      role === 'agents'
        ? `CPU per workflow, all agent processes together, ${what}`
        : role === 'broker' || role === 'redis'
          ? `CPU per workflow, the ${role} process (shared with anything else using it)`
          : role === 'process'
            ? `CPU per workflow, the whole in-process mesh and the driver, ${what}`
            : role === 'driver'
              ? 'CPU per workflow, the benchmark process (HTTP submissions, completion observer)'
              : `CPU per workflow, ${role} process${role === 'worker' ? 'es' : ''}`;
    ctx.report.addMedian(
      'fanout',
      `${prefix}.cpu.${role}`,
      runs.map((r) => r.cpu.get(role) ?? Number.NaN),
      'ms',
      { label },
    );
  }
}

export interface FanOutParts {
  /** The memory mesh figures (default true). */
  readonly memory?: boolean;
  /** The worker and branch curves on Pulsar (default true). */
  readonly curves?: boolean;
}

export async function runFanOut(ctx: BenchContext, parts: FanOutParts = {}): Promise<void> {
  const withCurves = parts.curves ?? true;
  const { report } = ctx;
  const repeats = ctx.options.repeats;
  process.stdout.write(
    `\nfan-out: ${BRANCHES} branches (keywords), ${IN_FLIGHT} workflows in flight, ${repeats} runs per figure\n`,
  );

  const ceiling: number[] = [];
  for (let r = 0; r < repeats; r++) ceiling.push(await skillCeiling(ctx.ms(1000)));
  report.addMedian('fanout', 'fanout.skill.wfps', ceiling, 'workflows/s', {
    label: 'the skill work alone on one core (10 × keywords + combine)',
  });

  const memory = parts.memory === false ? undefined : await ctx.memory('fan-out');
  if (memory) {
    await saturate(ctx, memory, 'memory warm-up');
    const runs: FanOutRun[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await saturate(ctx, memory, `memory run ${r + 1}`));
    report.addMedian(
      'fanout',
      'fanout.memory.wfps',
      runs.map((x) => x.wfps),
      'workflows/s',
      {
        label: `memory mesh (every role in one process, ${memory.workerCount} workers), state in Redis`,
        baseline: 'fanout.skill.wfps',
      },
    );
    report.addMedian(
      'fanout',
      'fanout.memory.p99',
      runs.map((x) => x.p99),
      'ms',
      { label: 'memory mesh, submit → result, p99' },
    );
    addCpuFigures(ctx, 'fanout.memory', runs, 'memory mesh');
  }

  const pulsar = await ctx.pulsar('fan-out');
  if (!pulsar) return;
  await saturate(ctx, pulsar, 'pulsar warm-up');
  const counts = withCurves ? [2, 1, 4] : [ctx.options.workers];
  const byWorkers = new Map<number, FanOutRun[]>(counts.map((w) => [w, []]));
  for (let r = 0; r < repeats; r++) {
    for (const workers of counts) {
      await pulsar.setWorkers(workers);
      byWorkers.get(workers)?.push(await saturate(ctx, pulsar, `pulsar, ${pulsar.describe()}, run ${r + 1}`));
    }
  }
  await pulsar.setWorkers(ctx.options.workers);
  const main = byWorkers.get(ctx.options.workers) ?? [];
  report.addMedian(
    'fanout',
    'fanout.pulsar.wfps',
    main.map((x) => x.wfps),
    'workflows/s',
    {
      label: `Pulsar mesh, every role its own process (${ctx.options.workers} workers), state in Redis`,
      baseline: 'fanout.skill.wfps',
    },
  );
  report.addMedian(
    'fanout',
    'fanout.pulsar.p99',
    main.map((x) => x.p99),
    'ms',
    { label: 'Pulsar mesh, submit → result, p99' },
  );
  addCpuFigures(ctx, 'fanout.pulsar', main, 'Pulsar mesh');
  ctx.afterFanOutRss = pulsar.rss();
  if (!withCurves) return;

  for (const workers of counts.slice().sort((a, b) => a - b)) {
    const runs = byWorkers.get(workers) ?? [];
    report.addMedian(
      'fanout',
      `fanout.pulsar.workers${workers}.wfps`,
      runs.map((x) => x.wfps),
      'workflows/s',
      { label: `${workers} worker process${workers > 1 ? 'es' : ''}` },
    );
    report.addMedian(
      'fanout',
      `fanout.pulsar.workers${workers}.p99`,
      runs.map((x) => x.p99),
      'ms',
      { label: `${workers} worker process${workers > 1 ? 'es' : ''}, p99` },
    );
  }

  await branchCurve(ctx, pulsar);
}

/** 10, 100 and 1,000 branches per workflow, ~200 branches in flight. */
async function branchCurve(ctx: BenchContext, pulsar: PulsarMeshSession): Promise<void> {
  const { report } = ctx;
  for (const branches of [10, 100, 1000]) {
    const inFlight = Math.max(1, Math.round(200 / branches));
    const runs: LoadResult[] = [];
    for (let r = 0; r < ctx.options.repeats; r++) {
      const result =
        branches >= 1000
          ? await fixedCount(pulsar, 1, 1, (n) => fanOutBody(branches, n, true), TIMEOUT_MS)
          : await closedLoop(pulsar, {
              concurrency: inFlight,
              warmupMs: ctx.ms(branches >= 100 ? 2500 : 1500),
              durationMs: ctx.ms(branches >= 100 ? 6000 : 4000),
              timeoutMs: TIMEOUT_MS,
              body: (n) => fanOutBody(branches, n, true),
            });
      process.stdout.write(
        `  pulsar, ${branches} branches, ${inFlight} in flight, run ${r + 1}: ${describe(result)}\n`,
      );
      runs.push(result);
    }
    const wfps = runs.map((x) => x.perSecond);
    report.addMedian('fanout', `fanout.pulsar.branches${branches}.wfps`, wfps, 'workflows/s', {
      label: `${branches} branches (short documents), ${inFlight} in flight`,
    });
    report.add('fanout', `fanout.pulsar.branches${branches}.bps`, median(wfps) * branches, 'branches/s', {
      label: `${branches} branches: branches completed per second`,
    });
    report.addMedian(
      'fanout',
      `fanout.pulsar.branches${branches}.p99`,
      runs.map((x) => percentileMs(x.latenciesNs, 99)),
      'ms',
      { label: `${branches} branches, p99` },
    );
  }
}

/**
 * Only what a fan-out needs: orchestrator, aggregator, workers. Stops the saga coordinator and
 * the market maker for good: run it after every part that needs those roles.
 */
export async function runFanOutLean(ctx: BenchContext): Promise<void> {
  const pulsar = await ctx.pulsar('fan-out lean');
  if (!pulsar) return;
  await pulsar.stopRole('saga-coordinator');
  await pulsar.stopRole('market-maker');
  const runs: FanOutRun[] = [];
  for (let r = 0; r < ctx.options.repeats; r++)
    runs.push(await saturate(ctx, pulsar, `pulsar lean, ${pulsar.describe()}, run ${r + 1}`));
  ctx.report.addMedian(
    'fanout',
    'fanout.pulsar.lean.wfps',
    runs.map((x) => x.wfps),
    'workflows/s',
    {
      label: `Pulsar, only orchestrator + aggregator + ${pulsar.workerCount} workers`,
      baseline: 'fanout.pulsar.wfps',
    },
  );
  ctx.report.addMedian(
    'fanout',
    'fanout.pulsar.lean.p99',
    runs.map((x) => x.p99),
    'ms',
    { label: 'Pulsar lean, p99' },
  );
  ctx.report.addMedian(
    'fanout',
    'fanout.pulsar.lean.cpu.agents',
    runs.map((x) => x.cpu.get('agents') ?? Number.NaN),
    'ms',
    {
      label: 'CPU per workflow, all agent processes, lean deployment',
      baseline: 'fanout.pulsar.cpu.agents',
    },
  );
}
