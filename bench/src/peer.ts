/**
 * peer: the fan-out workload on BullMQ flows against the same Redis, in the same run. A flow is
 * a parent job with 10 child jobs; the children run the same `keywords` skill on the same
 * documents, the parent joins them with the skill's combine (the aggregator's work). Worker
 * processes as many as the mesh has (bench/src/peer-worker.ts: children and parents workers,
 * concurrency 4 each, like the mesh's worker), 20 flows in flight from closed-loop submitters,
 * the same warm-up and window; completion seen through QueueEvents (waitUntilFinished).
 * Queues under a prefix of the run's own, deleted at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { FlowProducer, QueueEvents } from 'bullmq';
import type { BenchContext } from './context';
import { closedLoopOf, documents } from './driver';
import { BRANCHES, IN_FLIGHT } from './fanout';
import { deleteRedisKeys, redisProblem } from './meshes';
import { redisConnection, type BranchJob } from './peer-worker';
import { percentileMs } from './stats';
import { WORKSPACE } from './build';
import { cpuMsOf, pidListeningOn } from './agents';

const CONCURRENCY = 4;

interface PeerWorker {
  readonly child: ChildProcess;
  output: string;
}

function startWorker(env: Record<string, string>): Promise<PeerWorker> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'peer-worker.ts')], {
    cwd: WORKSPACE,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const worker: PeerWorker = { child, output: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`BullMQ worker not ready within 30 s:\n${worker.output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      worker.output = (worker.output + chunk.toString()).slice(-4000);
      if (worker.output.includes('ready')) {
        clearTimeout(timer);
        resolve(worker);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (worker.output = (worker.output + chunk.toString()).slice(-4000)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`BullMQ worker exited with ${String(code)}:\n${worker.output}`));
    });
  });
}

async function stopWorker(worker: PeerWorker): Promise<void> {
  if (worker.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function runPeer(ctx: BenchContext): Promise<void> {
  const { report, env } = ctx;
  const processes = ctx.options.workers;
  process.stdout.write(
    `\npeer: the fan-out on BullMQ flows (parent + ${BRANCHES} children), ${processes} worker processes x concurrency ${CONCURRENCY}, ${IN_FLIGHT} in flight\n`,
  );
  const problem = await redisProblem(env.redisUrl);
  if (problem) {
    report.skip('peer', problem);
    return;
  }
  const prefix = `bench-bull-${env.run}`;
  const children = 'fanout-children';
  const parents = 'fanout-parents';
  const connection = redisConnection(env.redisUrl);
  const workers: PeerWorker[] = [];
  const flows = new FlowProducer({ connection, prefix });
  const events = new QueueEvents(parents, { connection, prefix });
  // every add() in flight listens for the producer closing: 20 in flight is not a leak
  flows.setMaxListeners(IN_FLIGHT * 2);
  events.setMaxListeners(IN_FLIGHT * 4);
  try {
    await events.waitUntilReady();
    for (let i = 0; i < processes; i++) {
      workers.push(
        await startWorker({
          REDIS_URL: env.redisUrl,
          BULL_PREFIX: prefix,
          BULL_CHILDREN: children,
          BULL_PARENTS: parents,
          BULL_CONCURRENCY: String(CONCURRENCY),
        }),
      );
    }
    const runOne = async (n: number) => {
      const startedAt = process.hrtime.bigint();
      const node = await flows.add({
        name: 'fanout',
        queueName: parents,
        data: { branches: BRANCHES },
        children: documents(BRANCHES, n).map((d, index) => ({
          name: 'branch',
          queueName: children,
          data: { index, id: d.id, text: d.text } satisfies BranchJob,
        })),
      });
      await node.job.waitUntilFinished(events, 60_000);
      const endedAt = process.hrtime.bigint();
      return { ok: true, latencyNs: endedAt - startedAt, endedAt };
    };
    const wfps: number[] = [];
    const p99: number[] = [];
    const cpuWorkers: number[] = [];
    const cpuRedis: number[] = [];
    const redisPid = pidListeningOn(Number(new URL(env.redisUrl).port || 6379));
    const workerCpu = () =>
      workers.reduce((sum, w) => sum + (w.child.pid !== undefined ? cpuMsOf(w.child.pid) : Number.NaN), 0);
    for (let r = 0; r <= ctx.options.repeats; r++) {
      const before = { workers: workerCpu(), redis: redisPid !== undefined ? cpuMsOf(redisPid) : Number.NaN };
      const result = await closedLoopOf(runOne, {
        concurrency: IN_FLIGHT,
        warmupMs: ctx.ms(2000),
        durationMs: ctx.ms(6000),
      });
      cpuWorkers.push((workerCpu() - before.workers) / result.total);
      cpuRedis.push(((redisPid !== undefined ? cpuMsOf(redisPid) : Number.NaN) - before.redis) / result.total);
      const failed = result.failed > 0 ? `, ${result.failed} failed (${result.errors[0] ?? ''})` : '';
      process.stdout.write(
        `  bullmq ${r === 0 ? 'warm-up' : `run ${r}`}: ${result.perSecond.toFixed(1)} flows/s, p99 ${percentileMs(result.latenciesNs, 99).toFixed(0)} ms${failed}\n`,
      );
      if (r === 0) {
        cpuWorkers.pop();
        cpuRedis.pop();
        continue;
      }
      wfps.push(result.perSecond);
      p99.push(percentileMs(result.latenciesNs, 99));
    }
    const bull = report.addMedian('peer', 'peer.bullmq.wfps', wfps, 'workflows/s', {
      label: `BullMQ flows, same Redis, ${processes} worker processes`,
    });
    report.addMedian('peer', 'peer.bullmq.p99', p99, 'ms', { label: 'BullMQ flow submit → parent finished, p99' });
    report.addMedian('peer', 'peer.bullmq.cpu.workers', cpuWorkers, 'ms', {
      label: 'CPU per flow, BullMQ worker processes',
      baseline: 'fanout.pulsar.cpu.agents',
    });
    report.addMedian('peer', 'peer.bullmq.cpu.redis', cpuRedis, 'ms', {
      label: 'CPU per flow, the Redis process (BullMQ runs its logic in Lua there)',
    });
    const mesh = report.get('fanout.pulsar.wfps');
    if (mesh !== undefined) {
      report.add('peer', 'peer.bullmq.ratio', mesh / bull, 'x', {
        label: 'mesh (Pulsar) / BullMQ fan-out throughput',
        baseline: 'peer.bullmq.wfps',
      });
    } else {
      report.note('peer: no fanout.pulsar.wfps in this run, so no peer.bullmq.ratio');
    }
    const lean = report.get('fanout.pulsar.lean.wfps');
    if (lean !== undefined)
      report.add('peer', 'peer.bullmq.ratio.lean', lean / bull, 'x', { label: 'lean mesh deployment / BullMQ' });
    const memory = report.get('fanout.memory.wfps');
    if (memory !== undefined)
      report.add('peer', 'peer.bullmq.ratio.memory', memory / bull, 'x', {
        label: 'memory mesh (one process) / BullMQ',
      });
  } finally {
    await Promise.allSettled(workers.map(stopWorker));
    await Promise.allSettled([flows.close(), events.close()]);
    await deleteRedisKeys(env.redisUrl, `${prefix}:`);
  }
}
