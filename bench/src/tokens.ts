/**
 * tokens: what streaming an LLM's tokens costs the worker, per flush interval of its TokenStream
 * (libs/agents/worker/src/token-stream.ts): `answers` concurrent answers of `tokens` tokens, one
 * token every `gapMs`, published as `task.token` on workflow.stream.<id> over pulsar-ws (or the
 * memory bus with --memory). Prints, per interval: messages sent, the worker's CPU time, and the
 * wait after an answer's last token until every piece was sent (what the result waits for).
 *
 *   node -r @swc-node/register bench/src/tokens.ts [--memory] [--answers 8] [--tokens 400] [--gap-ms 2]
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { MemoryBroker, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import { createMeshEventRegistry, type EventEnvelope } from '@agent-mesh/contracts';
import { TokenStream } from '@agent-mesh/agents/worker';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const answers = flag('--answers', 8);
const tokens = flag('--tokens', 400);
const gapMs = flag('--gap-ms', 2);
const webUrl = process.env['PULSAR_WEB_URL'] || 'http://127.0.0.1:8080';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One answer: a token every gapMs, then close; returns the ms close waited. */
async function stream(publisher: MeshPublisher, flushMs: number, run: string, i: number): Promise<number> {
  const workflowId = `bench-${run}-${i}`;
  const cause = { id: randomUUID(), correlationId: workflowId } as EventEnvelope;
  const out = new TokenStream(publisher, { workflowId, taskId: `${workflowId}:root:task:a`, cause }, flushMs);
  for (let t = 0; t < tokens; t++) {
    out.emit(` tok${t}`);
    await sleep(gapMs);
  }
  const closing = performance.now();
  await out.close();
  return performance.now() - closing;
}

async function main(): Promise<void> {
  const memory = args.includes('--memory');
  const broker = memory ? new MemoryBroker() : undefined;
  const bus: EventBus = broker ? broker.connect() : new PulsarWsEventBus({ webUrl });
  let sent = 0;
  const counting: EventBus = Object.assign(Object.create(bus) as EventBus, {
    publish: (topic: string, message: Parameters<EventBus['publish']>[1]) => {
      sent++;
      return bus.publish(topic, message);
    },
  });
  const publisher = new MeshPublisher({
    bus: counting,
    registry: createMeshEventRegistry(),
    naming: { tenant: 'agentmesh', namespace: 'mesh' },
    origin: { source: 'worker@bench', region: 'bench' },
  });
  console.log(`${memory ? 'memory' : 'pulsar-ws'}: ${answers} answers x ${tokens} tokens, one every ${gapMs} ms`);
  for (const flushMs of [0, 10, 50, 100]) {
    sent = 0;
    const run = randomUUID().slice(0, 8);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const waits = await Promise.all(Array.from({ length: answers }, (_, i) => stream(publisher, flushMs, run, i)));
    const used = process.cpuUsage(cpu);
    console.log(
      `flush ${String(flushMs).padStart(3)} ms: ${String(sent).padStart(5)} messages (${(sent / answers).toFixed(0)} per answer), ` +
        `CPU ${((used.user + used.system) / 1000).toFixed(0)} ms over ${(performance.now() - started).toFixed(0)} ms, ` +
        `close waited max ${Math.max(...waits).toFixed(1)} ms`,
    );
  }
  await bus.close();
  broker?.shutdown();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
