import {
  DEAD_LETTER_SUBSCRIPTION,
  type BusConnectionStatus,
  type BusMessage,
  type Consumer,
  type EventBus,
  type OutgoingMessage,
  type SubscribeOptions,
} from '@agent-mesh/bus';

type MessageListener = Parameters<EventBus['subscribe']>[1];
type ReaderOptions = Parameters<EventBus['createReader']>[0];
type Reader = Awaited<ReturnType<EventBus['createReader']>>;

/** How a replayed message was settled by the handlers of one subscription. */
export type Settlement = 'ack' | 'nack' | 'dead-letter';

/** Deliveries a nacked message gets in a rebuild when the subscription sets no limit (the transport's default). */
const DEFAULT_MAX_REDELIVERIES = 5;

/**
 * One subscription of a rebuilt role, as the mesh transport made it: the rebuild hands it the
 * log's messages one at a time and waits for the transport to settle each.
 */
export class ReplayConsumer implements Consumer {
  private readonly pending = new Map<BusMessage, (settlement: Settlement) => void>();
  private closed = false;

  constructor(
    readonly options: SubscribeOptions,
    private readonly listener: MessageListener,
  ) {}

  get topic(): string {
    return this.options.topic;
  }

  get subscription(): string {
    return this.options.subscription;
  }

  /** Redeliveries a nacked message gets, as the subscription says. */
  get maxRedeliveries(): number {
    return this.options.deadLetter?.maxRedeliverCount ?? DEFAULT_MAX_REDELIVERIES;
  }

  /** Delivers one message and resolves how the transport settled it. */
  deliver(message: BusMessage): Promise<Settlement> {
    if (this.closed) return Promise.resolve('nack');
    const settled = new Promise<Settlement>((resolve) => this.pending.set(message, resolve));
    void Promise.resolve(this.listener(message, this)).catch(() => this.settle(message, 'nack'));
    return settled;
  }

  async ack(message: BusMessage): Promise<void> {
    this.settle(message, 'ack');
  }

  async nack(message: BusMessage): Promise<void> {
    this.settle(message, 'nack');
  }

  async deadLetter(message: BusMessage): Promise<void> {
    this.settle(message, 'dead-letter');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const message of [...this.pending.keys()]) this.settle(message, 'nack');
  }

  private settle(message: BusMessage, settlement: Settlement): void {
    const resolve = this.pending.get(message);
    this.pending.delete(message);
    resolve?.(settlement);
  }
}

/**
 * The EventBus a rebuilt role runs on: its subscriptions receive only what the rebuild hands
 * them (`consumers`), and everything it publishes is dropped — its outputs are in the log
 * already, and live agents act on them. Readers (a blackboard rebuilt from its topic) read the
 * real log through `readerBus`.
 */
export class ReplayBus implements EventBus {
  readonly driver = 'replay';
  readonly connectionStatus: BusConnectionStatus = 'connected';
  readonly consumers: ReplayConsumer[] = [];
  /** Messages the rebuilt handlers tried to publish (dropped). */
  dropped = 0;
  /** What they were: an adoption publishes the ones the log does not have (see RebuildReport.unloggedOutputs). */
  readonly published: { readonly topic: string; readonly message: OutgoingMessage }[] = [];

  constructor(private readonly readerBus: EventBus) {}

  onConnectionStatus(): () => void {
    return () => undefined;
  }

  async publish(topic: string, message: OutgoingMessage): Promise<string> {
    this.published.push({ topic, message });
    this.dropped += 1;
    return `replay:dropped:${this.dropped}`;
  }

  async subscribe(options: SubscribeOptions, listener: MessageListener): Promise<Consumer> {
    const consumer = new ReplayConsumer(options, listener);
    // The transport's keeper of dead letters handles nothing: dead letters are not replayed.
    if (options.subscription !== DEAD_LETTER_SUBSCRIPTION) this.consumers.push(consumer);
    return consumer;
  }

  createReader(options: ReaderOptions): Promise<Reader> {
    return this.readerBus.createReader(options);
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.map((consumer) => consumer.close()));
  }
}
