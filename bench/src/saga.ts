/**
 * saga: 4-step sagas (each step a `keywords` task, each with a `keywords` compensation and a
 * 5 s deadline), run by the saga coordinator.
 * - throughput: sagas that complete, per second, 10 in flight (closed loop, fixed window);
 * - compensation time: sagas whose 4th step fails (bad input: `top` out of range, not
 *   retried), one at a time; the time from the step's `task.failed` to the `task.completed`
 *   of the last compensation (step 1's), both seen by the benchmark's own subscription on
 *   `task.results.saga` (the saga coordinator's reply topic). Three compensations run one after
 *   the other: after the failure at least six hops (coordinator → worker → coordinator, three
 *   times), so the floor is 6 × the hop p50 measured in the same run (derived figure, when the
 *   hop part ran).
 */
import { Topics, type TaskCompleted } from '@agent-mesh/contracts';
import type { BenchContext } from './context';
import { closedLoop, runWorkflow, type CompletionObserver, type WorkflowTarget } from './driver';
import { median, percentileMs } from './stats';

const TEXTS = [
  'Reserve two units of stock for the order in the warehouse near the harbour.',
  'Charge the customer card for the order total including the delivery fee.',
  'Book a courier for the delivery window the customer picked at checkout.',
  'Send the confirmation email with the tracking link and the invoice.',
];

export function sagaSpec(n: number, failLast: boolean): unknown {
  return {
    name: 'saga-4',
    step: {
      kind: 'saga',
      steps: TEXTS.map((text, i) => ({
        name: `step-${i + 1}`,
        action: {
          skill: 'keywords',
          input: { id: `s${n}-${i}`, text: `${text} Order ${n}.` },
          // top 999 is out of range: the skill refuses the input (not retried) and the step fails
          ...(failLast && i === TEXTS.length - 1 ? { params: { top: 999 } } : {}),
        },
        compensation: { skill: 'keywords', input: { id: `undo-s${n}-${i}`, text: `Undo: ${text}` } },
        deadlineMs: 5000,
      })),
    },
  };
}

/** Watches task.results.saga for the failure of step 4 and the end of step 1's compensation. */
class CompensationClock {
  readonly failedAt = new Map<string, bigint>();
  readonly lastCompensationAt = new Map<string, bigint>();
  private stop?: () => Promise<void>;

  async start(observer: CompletionObserver): Promise<void> {
    this.stop = await observer.listen(Topics.sagaTaskResults, (type, correlationId, at, message) => {
      if (type !== 'task.failed' && type !== 'task.completed') return;
      const { data } = JSON.parse(message.payload.toString('utf8')) as { data: Pick<TaskCompleted, 'taskId'> };
      if (type === 'task.failed' && data.taskId.endsWith(':saga:3:action')) this.failedAt.set(correlationId, at);
      if (type === 'task.completed' && data.taskId.endsWith(':saga:0:compensation'))
        this.lastCompensationAt.set(correlationId, at);
    });
  }

  /** Failure → last compensation for a workflow, waiting briefly for both sightings. */
  async interval(workflowId: string): Promise<bigint> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const failed = this.failedAt.get(workflowId);
      const last = this.lastCompensationAt.get(workflowId);
      if (failed !== undefined && last !== undefined) return last - failed;
      if (Date.now() > deadline)
        throw new Error(
          `saga ${workflowId}: did not see both the failure and the last compensation on ${Topics.sagaTaskResults}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    await this.stop?.();
  }
}

async function sagaFigures(ctx: BenchContext, target: WorkflowTarget, bus: 'memory' | 'pulsar'): Promise<void> {
  const { report } = ctx;
  const repeats = ctx.options.repeats;
  const throughput: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const result = await closedLoop(target, {
      concurrency: 10,
      warmupMs: ctx.ms(1500),
      durationMs: ctx.ms(5000),
      timeoutMs: 60_000,
      body: (n) => sagaSpec(n, false),
    });
    const note = result.failed > 0 ? `, ${result.failed} failed ${result.errors[0] ?? ''}` : '';
    process.stdout.write(
      `  ${bus}${r === 0 ? ' warm-up' : ` run ${r}`}: ${result.perSecond.toFixed(1)} sagas/s, p99 ${percentileMs(result.latenciesNs, 99).toFixed(0)} ms${note}\n`,
    );
    if (r > 0) throughput.push(result.perSecond);
  }
  report.addMedian('saga', `saga.${bus}.sps`, throughput, 'sagas/s', {
    label: `4-step sagas completed per second, 10 in flight, ${bus} mesh`,
  });

  const clock = new CompensationClock();
  await clock.start(target.observer);
  try {
    const n = ctx.count(15);
    const p50: number[] = [];
    const p99: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      const samples: bigint[] = [];
      for (let i = 0; i < (r === 0 ? 3 : n); i++) {
        const result = await runWorkflow(target, sagaSpec(100_000 + r * 1000 + i, true), 60_000);
        if (result.status !== 'failed')
          throw new Error(`saga ${result.id} should have ended compensated, ended ${result.status}`);
        samples.push(await clock.interval(result.id));
      }
      if (r === 0) continue; // warm-up
      p50.push(percentileMs(samples, 50));
      p99.push(percentileMs(samples, 99));
    }
    const hop = report.get(bus === 'pulsar' ? 'hop.raw.p50' : 'hop.memory.p50');
    if (hop !== undefined) {
      report.add('saga', `saga.${bus}.floor`, 6 * hop, 'ms', {
        label: `6 hops × ${bus === 'pulsar' ? 'raw' : 'memory'} hop p50 of this run (derived)`,
      });
    }
    report.addMedian('saga', `saga.${bus}.compensation.p50`, p50, 'ms', {
      label: `step 4 fails → step 1's compensation done (3 compensations in turn), ${bus}, p50`,
      ...(hop !== undefined ? { baseline: `saga.${bus}.floor` } : {}),
    });
    report.addMedian('saga', `saga.${bus}.compensation.p99`, p99, 'ms', {
      label: `failure → last compensation, ${bus}, p99`,
    });
    process.stdout.write(`  ${bus}: failure -> last compensation p50 ${median(p50).toFixed(2)} ms\n`);
  } finally {
    await clock.close();
  }
}

export async function runSaga(ctx: BenchContext): Promise<void> {
  process.stdout.write(
    `\nsaga: 4-step sagas; throughput (10 in flight) and failure -> last compensation (one at a time)\n`,
  );
  const memory = await ctx.memory('saga');
  if (memory) await sagaFigures(ctx, memory, 'memory');
  const pulsar = await ctx.pulsar('saga');
  if (pulsar) {
    await pulsar.ensureRole('saga-coordinator');
    await sagaFigures(ctx, pulsar, 'pulsar');
  }
}
