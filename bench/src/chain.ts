/**
 * chain-3: a three-stage chained workflow (summarize → summarize its summary → keywords of
 * that), one at a time, submit (POST /workflows) → `workflow.completed` seen on the bus; p50
 * and p99 on the memory mesh and on the Pulsar mesh, state in Redis. Baselines in the same run:
 * - `direct`: the three skill calls as plain function calls (the work itself);
 * - `raw`: the same three stages as request/response pairs over raw WebSocket producers and
 *   consumers on the same broker (a hand-written chain without the framework: 6 hops, no
 *   state), alternating with the mesh in every repeat.
 */
import { randomBytes } from 'node:crypto';
import { createDefaultSkillRegistry, type SkillOutput } from '@agent-mesh/skills';
import type { BenchContext } from './context';
import { getJson, runWorkflow, type RunResult, type WorkflowTarget } from './driver';
import type { PulsarMeshSession } from './meshes';
import { RawConsumer, RawProducer, wsTopicPath } from './raw-ws';
import { percentileMs } from './stats';

const TEXT =
  'The city council met on Tuesday to discuss the new harbour plan. Residents asked for more cycle lanes and fewer cars in the old town. ' +
  'The mayor promised a vote on the plan before the summer. Shop owners worried about deliveries during the building works. ' +
  'Engineers said the first phase could start in the autumn and finish within a year. The council will publish the full plan next week.';

interface Stage {
  readonly skill: string;
  readonly params?: Record<string, unknown>;
}

const STAGES: readonly Stage[] = [
  { skill: 'summarize', params: { sentences: 3 } },
  { skill: 'summarize', params: { sentences: 1 } },
  { skill: 'keywords' },
];

export function chainSpec(n: number): unknown {
  return {
    name: 'chain-3',
    step: {
      kind: 'chain',
      stages: [
        {
          step: {
            kind: 'task',
            skill: 'summarize',
            input: { id: `doc-${n}`, text: `${TEXT} Run ${n}.` },
            params: { sentences: 3 },
          },
        },
        {
          step: {
            kind: 'task',
            skill: 'summarize',
            inputFrom: { source: 'previous', field: 'summary' },
            params: { sentences: 1 },
          },
        },
        { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
      ],
    },
  };
}

/** The work alone: the three skills called in a row. */
async function directChain(n: number): Promise<bigint> {
  const skills = createDefaultSkillRegistry();
  const signal = new AbortController().signal;
  const started = process.hrtime.bigint();
  let text = `${TEXT} Run ${n}.`;
  for (const stage of STAGES) {
    const output = await skills.require(stage.skill).run({ id: `doc-${n}`, text, params: stage.params }, { signal });
    if (typeof output['summary'] === 'string') text = output['summary'];
  }
  return process.hrtime.bigint() - started;
}

interface RawTask {
  readonly id: string;
  readonly stage: number;
  readonly text: string;
}

interface RawResult {
  readonly id: string;
  readonly output: SkillOutput;
}

/** A chain over raw ws producers/consumers: client → tasks → raw worker → results → client. */
class RawChain {
  private readonly waiting = new Map<string, (output: SkillOutput) => void>();
  private readonly closers: (() => Promise<void>)[] = [];
  private tasks!: RawProducer;
  private sequence = 0;

  async start(wsBase: string, tenant: string, namespace: string): Promise<void> {
    const suffix = randomBytes(3).toString('hex');
    const tasksPath = wsTopicPath(tenant, namespace, `raw-chain-tasks-${suffix}`);
    const resultsPath = wsTopicPath(tenant, namespace, `raw-chain-results-${suffix}`);
    const skills = createDefaultSkillRegistry();
    const signal = new AbortController().signal;
    const results = await RawProducer.open(wsBase, resultsPath);
    const worker = await RawConsumer.open(wsBase, tasksPath, 'raw-worker', (body) => {
      const task = body as RawTask;
      const stage = STAGES[task.stage];
      void skills
        .require(stage.skill)
        .run({ id: task.id, text: task.text, params: stage.params }, { signal })
        .then((output) => results.send({ id: task.id, output } satisfies RawResult));
    });
    const client = await RawConsumer.open(wsBase, resultsPath, 'raw-client', (body) => {
      const result = body as RawResult;
      const resolve = this.waiting.get(result.id);
      this.waiting.delete(result.id);
      resolve?.(result.output);
    });
    this.tasks = await RawProducer.open(wsBase, tasksPath);
    this.closers.push(
      () => this.tasks.close(),
      () => client.close(),
      () => worker.close(),
      () => results.close(),
    );
  }

  async run(n: number): Promise<bigint> {
    const started = process.hrtime.bigint();
    let text = `${TEXT} Run ${n}.`;
    for (let stage = 0; stage < STAGES.length; stage++) {
      const id = `t${++this.sequence}`;
      const output = new Promise<SkillOutput>((resolve) => this.waiting.set(id, resolve));
      await this.tasks.send({ id, stage, text } satisfies RawTask);
      const result = await output;
      if (typeof result['summary'] === 'string') text = result['summary'];
    }
    return process.hrtime.bigint() - started;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.closers.map((c) => c()));
  }
}

async function meshChainRun(target: WorkflowTarget, n: number): Promise<RunResult> {
  const result = await runWorkflow(target, chainSpec(n), 30_000);
  if (result.status !== 'completed') throw new Error(`chain-3 workflow ${result.id} ended ${result.status}`);
  return result;
}

async function meshChain(target: WorkflowTarget, n: number): Promise<bigint> {
  return (await meshChainRun(target, n)).latencyNs;
}

interface TimelineView {
  readonly timeline?: readonly {
    readonly at: string;
    readonly type: string;
    readonly source: string;
    readonly stepPath?: string;
  }[];
}

/** Where a chain's time goes: its timeline (event times, ms after submission; clocks of one machine). */
async function printTimeline(target: WorkflowTarget, run: RunResult): Promise<void> {
  const view = await getJson<TimelineView>(`${target.orchestratorUrl}/workflows/${run.id}`);
  const entries = [...(view.timeline ?? [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  if (entries.length === 0) return;
  const start = Date.parse(entries[0].at);
  const line = entries
    .map((e) => `+${Date.parse(e.at) - start} ${e.type}${e.stepPath ? ` ${e.stepPath}` : ''}`)
    .join(' · ');
  process.stdout.write(
    `  timeline of a median run (${(Number(run.latencyNs) / 1e6).toFixed(1)} ms submit → result seen): ${line}\n`,
  );
}

export async function runChain(ctx: BenchContext): Promise<void> {
  const { report } = ctx;
  const repeats = ctx.options.repeats;
  const n = ctx.count(60);
  const warmup = ctx.count(15);
  process.stdout.write(
    `\nchain-3: summarize -> summarize -> keywords, one at a time, ${repeats} x ${n} after ${warmup} warm-up\n`,
  );

  const direct: number[] = [];
  for (let i = 0; i < warmup; i++) await directChain(i);
  for (let r = 0; r < repeats; r++) {
    const samples: bigint[] = [];
    for (let i = 0; i < n; i++) samples.push(await directChain(i));
    direct.push(percentileMs(samples, 50));
  }
  report.addMedian('chain', 'chain3.direct.p50', direct, 'ms', {
    label: 'the three skills as plain calls (the work alone)',
  });

  const memory = await ctx.memory('chain-3');
  if (memory) {
    for (let i = 0; i < warmup; i++) await meshChain(memory, i);
    const p50: number[] = [];
    const p99: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const samples: bigint[] = [];
      for (let i = 0; i < n; i++) samples.push(await meshChain(memory, i));
      p50.push(percentileMs(samples, 50));
      p99.push(percentileMs(samples, 99));
    }
    report.addMedian('chain', 'chain3.memory.p50', p50, 'ms', {
      label: 'memory mesh, submit → result, p50',
      baseline: 'chain3.direct.p50',
    });
    report.addMedian('chain', 'chain3.memory.p99', p99, 'ms', { label: 'memory mesh, p99' });
  }

  const pulsar: PulsarMeshSession | undefined = await ctx.pulsar('chain-3');
  if (pulsar) {
    const raw = new RawChain();
    try {
      await raw.start(pulsar.wsBase, pulsar.naming.tenant, pulsar.naming.namespace);
      for (let i = 0; i < warmup; i++) {
        await meshChain(pulsar, i);
        await raw.run(i);
      }
      const p50: number[] = [];
      const p99: number[] = [];
      const rawP50: number[] = [];
      const rawP99: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const runs: RunResult[] = [];
        const base: bigint[] = [];
        // alternate so broker drift falls on both
        for (let i = 0; i < n; i++) {
          runs.push(await meshChainRun(pulsar, i));
          base.push(await raw.run(i));
        }
        const mesh = runs.map((x) => x.latencyNs);
        if (r === 0)
          await printTimeline(
            pulsar,
            [...runs].sort((a, b) => Number(a.latencyNs - b.latencyNs))[Math.floor(runs.length / 2)],
          );
        p50.push(percentileMs(mesh, 50));
        p99.push(percentileMs(mesh, 99));
        rawP50.push(percentileMs(base, 50));
        rawP99.push(percentileMs(base, 99));
        ratios.push(percentileMs(mesh, 50) / percentileMs(base, 50));
      }
      report.addMedian('chain', 'chain3.raw.p50', rawP50, 'ms', {
        label: 'raw ws request/response chain on the same broker (6 hops, no state), p50',
      });
      report.addMedian('chain', 'chain3.raw.p99', rawP99, 'ms', { label: 'raw chain, p99' });
      report.addMedian('chain', 'chain3.pulsar.p50', p50, 'ms', {
        label: 'Pulsar mesh (processes, Redis), submit → result, p50',
        baseline: 'chain3.raw.p50',
      });
      report.addMedian('chain', 'chain3.pulsar.p99', p99, 'ms', {
        label: 'Pulsar mesh, p99',
        baseline: 'chain3.raw.p99',
      });
      report.addMedian('chain', 'chain3.ratio.p50', ratios, 'x', { label: 'Pulsar mesh / raw chain, p50' });
    } finally {
      await raw.close();
    }
  }
}
