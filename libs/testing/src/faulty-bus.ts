import {
  RetryProperties,
  type BusConnectionStatus,
  type Consumer,
  type EventBus,
  type SubscribeOptions,
} from '@agent-mesh/bus';

type OutgoingMessage = Parameters<EventBus['publish']>[1];
type MessageListener = Parameters<EventBus['subscribe']>[1];
type ReaderOptions = Parameters<EventBus['createReader']>[0];
type Reader = Awaited<ReturnType<EventBus['createReader']>>;
type ConnectionStatusListener = Parameters<EventBus['onConnectionStatus']>[0];

/** What to do with a publish: go through; fail `before` it reaches the broker; or fail `after` the broker has it (the reply lost). */
export type PublishFault = 'pass' | 'before' | 'after';

export interface FaultyBusOptions {
  /** Asked about every publish of this client. */
  readonly decide: (topic: string, message: OutgoingMessage) => PublishFault;
  /**
   * Overrides every subscription's nack redelivery delay, and the backoff of every retry (a
   * message republished to a retry topic), so that a fast suite waits that long instead.
   */
  readonly nackRedeliveryDelayMs?: number;
}

/**
 * A process's bus client whose publishes can fail once, as a transient broker error would: the
 * handler that published sees the error, and its event is nacked and redelivered. Everything
 * else goes to the real client.
 */
export class FaultyBus implements EventBus {
  readonly driver: string;

  constructor(
    private readonly bus: EventBus,
    private readonly options: FaultyBusOptions,
  ) {
    this.driver = bus.driver;
  }

  get connectionStatus(): BusConnectionStatus {
    return this.bus.connectionStatus;
  }

  onConnectionStatus(listener: ConnectionStatusListener): () => void {
    return this.bus.onConnectionStatus(listener);
  }

  async publish(topic: string, sent: OutgoingMessage): Promise<string> {
    const delay = this.options.nackRedeliveryDelayMs;
    const isRetry = sent.properties?.[RetryProperties.attempts] !== undefined && sent.deliverAfterMs !== undefined;
    const message = isRetry && delay !== undefined ? { ...sent, deliverAfterMs: delay } : sent;
    const fault = this.options.decide(topic, message);
    if (fault === 'before') throw new InjectedPublishFault(topic, fault);
    const id = await this.bus.publish(topic, message);
    if (fault === 'after') throw new InjectedPublishFault(topic, fault);
    return id;
  }

  subscribe(options: SubscribeOptions, listener: MessageListener): Promise<Consumer> {
    const delay = this.options.nackRedeliveryDelayMs;
    return this.bus.subscribe(delay === undefined ? options : { ...options, nackRedeliveryDelayMs: delay }, listener);
  }

  createReader(options: ReaderOptions): Promise<Reader> {
    return this.bus.createReader(options);
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

export class InjectedPublishFault extends Error {
  override readonly name = 'InjectedPublishFault';
  constructor(topic: string, fault: PublishFault) {
    super(`injected publish fault ${fault} ${topic}`);
  }
}
