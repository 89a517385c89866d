/**
 * Micro-benchmark of the per-event codec work every agent does (not a part of `npm run bench`):
 * building, validating and serialising a typical `task.completed` event as MeshPublisher does,
 * and decoding and validating it as MeshTransportServer does. No bus, no broker.
 *
 *   node -r @swc-node/register bench/src/codec.ts [--n 20000] [--rounds 5]
 *
 * Prints µs per operation, the median of the rounds.
 */
import 'reflect-metadata';
import {
  createMeshEventRegistry,
  envelopeProperties,
  TaskCompletedV1,
  type TaskCompleted,
} from '@agent-mesh/contracts';
import { nextTraceparent } from '@agent-mesh/nest-pulsar';

const registry = createMeshEventRegistry();
const origin = { source: 'worker@bench-1', region: 'local' };
const cause = {
  id: '0190b2a4-7d3c-7abc-8def-0123456789ab',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

/** What a worker publishes for one keywords branch of a 10-branch fan-out. */
function taskCompleted(i: number): TaskCompleted {
  return {
    taskId: `0190b2a4-7d3c-7abc-8def-0123456789ab:${i % 10}`,
    branchIndex: i % 10,
    branchCount: 10,
    skill: 'keywords',
    stepPath: 'root',
    attempt: 1,
    inputId: `doc-${i % 10}`,
    output: {
      keywords: ['mesh', 'pulsar', 'agent', 'event', 'topic', 'broker', 'redis', 'worker'],
      counts: { mesh: 4, pulsar: 3 },
    },
    durationMs: 2,
    worker: 'worker@bench-1',
  };
}

/** MeshPublisher.publish without the bus: what it hands to `bus.publish`. */
function encodeOnce(i: number): Buffer {
  const traceparent = nextTraceparent(cause.traceparent);
  const { envelope, payload } = registry.createEncoded(TaskCompletedV1, taskCompleted(i), origin, {
    correlationId: '0190b2a4-7d3c-7abc-8def-0123456789ab',
    causedBy: cause,
    traceparent,
  });
  envelopeProperties(envelope);
  return payload;
}

function timeUs(n: number, op: (i: number) => unknown): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

function main(): void {
  const n = arg('--n', 20_000);
  const rounds = arg('--rounds', 5);
  const payloads = Array.from({ length: 1000 }, (_, i) => encodeOnce(i));
  const decode = (i: number): void => {
    const result = registry.decode(payloads[i % payloads.length]);
    if (!result.ok) throw new Error(`decode failed: ${result.reason}`);
  };
  timeUs(n, encodeOnce); // warm-up
  timeUs(n, decode);
  const encodeUs: number[] = [];
  const decodeUs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    encodeUs.push(timeUs(n, encodeOnce));
    decodeUs.push(timeUs(n, decode));
  }
  const fmt = (v: number): string => v.toFixed(2);
  console.log(`task.completed, ${payloads[0].length} bytes, n=${n}, median of ${rounds} rounds`);
  console.log(`create+encode µs/event ${fmt(median(encodeUs))}   (rounds: ${encodeUs.map(fmt).join(' ')})`);
  console.log(`decode        µs/event ${fmt(median(decodeUs))}   (rounds: ${decodeUs.map(fmt).join(' ')})`);
}

main();
