/**
 * bus: raw EventBus throughput on the memory driver — publish, deliver to a Shared consumer,
 * ack — with many messages in flight, beside a trivial in-process queue doing the same
 * (publish = push, a scheduled drain hands each message to the listener, ack = delete) in the
 * same run. No envelope, no validation: the driver alone.
 */
import { MemoryBroker, type BusMessage } from '@agent-mesh/bus';
import type { Report } from './report';

export interface BusOptions {
  readonly messages: number;
  readonly window: number;
  readonly repeats: number;
}

const TOPIC = 'persistent://agentmesh/mesh/bench-bus';
const PAYLOAD = Buffer.from(
  JSON.stringify({ id: '0'.repeat(36), type: 'bench.bus', version: 1, data: { text: 'x'.repeat(480) } }),
);

/**
 * Flow control shared by the bus run and its baseline: at most `window` unacked messages; a
 * publisher awaits room, the listener counts acks; `finished` resolves at the last ack.
 */
class AckWindow {
  acked = 0;
  readonly finished: Promise<void>;
  private done!: () => void;
  private wake: (() => void) | undefined;

  constructor(
    private readonly messages: number,
    private readonly window: number,
  ) {
    this.finished = new Promise<void>((resolve) => (this.done = resolve));
  }

  /** Resolves when message number `sent` may be published. */
  async room(sent: number): Promise<void> {
    while (sent - this.acked >= this.window) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  onAck(): void {
    this.acked++;
    if (this.acked === this.messages) this.done();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Publishes `messages` with at most `window` unacked; resolves with events/s. */
async function memoryBusRun(messages: number, window: number): Promise<number> {
  const broker = new MemoryBroker();
  const producer = broker.connect();
  const consumerClient = broker.connect();
  const flow = new AckWindow(messages, window);
  await consumerClient.subscribe(
    { topic: TOPIC, subscription: 'bench', type: 'Shared', receiverQueueSize: window, initialPosition: 'latest' },
    (message: BusMessage, consumer) => {
      void consumer.ack(message);
      flow.onAck();
    },
  );
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < messages; sent++) {
    await flow.room(sent);
    await producer.publish(TOPIC, { payload: PAYLOAD, key: `k${sent % 64}` });
  }
  await flow.finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.close();
  await consumerClient.close();
  broker.shutdown();
  return messages / seconds;
}

interface QueueMessage {
  readonly seq: number;
  readonly payload: Buffer;
  readonly key: string;
}

/** The baseline: an array, a setImmediate drain, a listener per message, a Set for unacked. */
class TrivialQueue {
  private readonly queue: QueueMessage[] = [];
  private readonly unacked = new Set<number>();
  private scheduled = false;

  constructor(private readonly listener: (message: QueueMessage) => void | Promise<void>) {}

  async publish(message: QueueMessage): Promise<number> {
    this.queue.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
    return message.seq;
  }

  ack(message: QueueMessage): void {
    this.unacked.delete(message.seq);
  }

  private drain(): void {
    this.scheduled = false;
    for (const message of this.queue.splice(0)) {
      this.unacked.add(message.seq);
      void Promise.resolve().then(() => this.listener(message));
    }
  }
}

async function trivialQueueRun(messages: number, window: number): Promise<number> {
  const flow = new AckWindow(messages, window);
  const queue: TrivialQueue = new TrivialQueue((message) => {
    queue.ack(message);
    flow.onAck();
  });
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < messages; sent++) {
    await flow.room(sent);
    await queue.publish({ seq: sent, payload: PAYLOAD, key: `k${sent % 64}` });
  }
  await flow.finished;
  return messages / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function runBus(report: Report, options: BusOptions): Promise<void> {
  process.stdout.write(
    `\nbus: memory driver, publish + Shared delivery + ack, ${options.messages} messages of ${PAYLOAD.length} B, ` +
      `${options.window} in flight, ${options.repeats} runs (alternating with a trivial queue)\n`,
  );
  await memoryBusRun(Math.min(20_000, options.messages), options.window); // warm-up (JIT)
  await trivialQueueRun(Math.min(20_000, options.messages), options.window);
  const bus: number[] = [];
  const baseline: number[] = [];
  for (let r = 0; r < options.repeats; r++) {
    bus.push(await memoryBusRun(options.messages, options.window));
    baseline.push(await trivialQueueRun(options.messages, options.window));
  }
  report.addMedian('bus', 'bus.baseline.eps', baseline, 'events/s', {
    label: 'trivial in-process queue, same pattern',
  });
  const eps = report.addMedian('bus', 'bus.memory.eps', bus, 'events/s', {
    label: `memory EventBus: publish + Shared delivery + ack, ${options.window} in flight`,
    baseline: 'bus.baseline.eps',
  });
  report.add('bus', 'bus.memory.ratio', eps / (report.get('bus.baseline.eps') ?? Number.NaN), 'x', {
    label: 'memory bus / trivial queue',
  });
}
