/**
 * The EventBus port. Its semantics are Apache Pulsar's, so that every driver — the in-process
 * memory driver, Pulsar over WebSocket, the native Pulsar client — behaves the same way and
 * the conformance suite (./conformance) can hold each of them to it.
 */

export type SubscriptionType = 'Exclusive' | 'Failover' | 'Shared' | 'Key_Shared';

export type InitialPosition = 'earliest' | 'latest';

/** A message to publish. */
export interface OutgoingMessage {
  readonly payload: Buffer | string;
  /** Partition/ordering key. Key_Shared subscriptions deliver one key to one consumer, in order. */
  readonly key?: string;
  readonly properties?: Readonly<Record<string, string>>;
  /** Application event time, epoch ms. */
  readonly eventTime?: number;
  /** Delay delivery by this many ms (Shared and Key_Shared subscriptions only, as in Pulsar). */
  readonly deliverAfterMs?: number;
  /** Deliver at this epoch ms (Shared and Key_Shared subscriptions only, as in Pulsar). */
  readonly deliverAt?: number;
}

/** A message as a consumer or reader receives it. */
export interface BusMessage {
  readonly topic: string;
  /** Broker-assigned id, unique per topic, usable as a reader start position. */
  readonly messageId: string;
  readonly payload: Buffer;
  readonly key?: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly eventTime?: number;
  /** Epoch ms at which the broker accepted the message. */
  readonly publishTime: number;
  /** How many times this message was delivered before this delivery (0 on first delivery). */
  readonly redeliveryCount: number;
}

export interface DeadLetterPolicy {
  /**
   * Deliveries allowed after the first. A message nacked (or timed out) on its
   * (maxRedeliverCount+1)-th delivery goes to the dead-letter topic instead of coming back.
   */
  readonly maxRedeliverCount: number;
  /** Defaults to `<topic>-<subscription>-DLQ`, as in Pulsar. */
  readonly deadLetterTopic?: string;
}

export interface SubscribeOptions {
  readonly topic: string;
  readonly subscription: string;
  readonly type: SubscriptionType;
  /** Where a new subscription starts. Default 'latest', as in Pulsar. */
  readonly initialPosition?: InitialPosition;
  /** Redeliver a message not acked within this many ms. 0 (default) turns it off. */
  readonly ackTimeoutMs?: number;
  /** Delay before a nacked message is redelivered. Default 1000 ms. */
  readonly nackRedeliveryDelayMs?: number;
  readonly deadLetter?: DeadLetterPolicy;
  /** Most messages delivered to this consumer and not yet acked or nacked. Default 100. */
  readonly receiverQueueSize?: number;
  /** Shown in stats and used to order Failover consumers. */
  readonly consumerName?: string;
}

/** Properties set on a message moved to a dead-letter topic (see dead-letter.ts). */
export const DeadLetterProperties = {
  reason: 'dlq.reason',
  /** The error's message and stack, or the validation errors; at most 4000 characters. */
  error: 'dlq.error',
  /** The topic it was published to (not the retry topic it last came from). */
  originTopic: 'dlq.origin-topic',
  originMessageId: 'dlq.origin-message-id',
  subscription: 'dlq.subscription',
  redeliveryCount: 'dlq.redelivery-count',
  /** Failed attempts in all, across retries and earlier replays. */
  attempts: 'dlq.attempts',
  /** ISO times of the first failure (kept across replays) and of the last one. */
  firstFailureAt: 'dlq.first-failure-at',
  lastFailureAt: 'dlq.last-failure-at',
  /** How many times it was replayed from the dead-letter topic (set by `mesh dlq replay`). */
  replays: 'dlq.replays',
  /** Pulsar's own property names, kept so Pulsar tooling reads our dead letters too. */
  pulsarRealTopic: 'REAL_TOPIC',
  pulsarOriginMessageId: 'ORIGIN_MESSAGE_ID',
} as const;

/** Properties of a message republished to a retry topic (see dead-letter.ts); a dead letter drops them. */
export const RetryProperties = {
  /** Failed attempts so far. */
  attempts: 'retry.attempts',
  originTopic: 'retry.origin-topic',
  subscription: 'retry.subscription',
  firstFailureAt: 'retry.first-failure-at',
  lastFailureAt: 'retry.last-failure-at',
  lastError: 'retry.last-error',
} as const;

export interface Consumer {
  readonly topic: string;
  readonly subscription: string;
  ack(message: BusMessage): Promise<void>;
  /**
   * Negative ack: redeliver after the nack delay, with redeliveryCount + 1; past
   * maxRedeliverCount the message goes to the dead-letter topic with `reason`.
   */
  nack(message: BusMessage, reason?: string): Promise<void>;
  /**
   * Sends the message straight to the dead-letter topic with `reason` and acks it: for
   * messages that can never succeed (unparseable, unknown type, invalid, a non-retryable error)
   * or whose retries are spent. `detail`: the error's message and stack, or the validation errors.
   */
  deadLetter(message: BusMessage, reason: string, detail?: string): Promise<void>;
  /** Stops delivery. Messages delivered and not acked return to the subscription. */
  close(): Promise<void>;
}

/** Called for every delivered message; the caller acks or nacks through the consumer. */
export type MessageListener = (message: BusMessage, consumer: Consumer) => void | Promise<void>;

export interface ReaderOptions {
  readonly topic: string;
  /** 'earliest', 'latest', or a messageId from this topic. */
  readonly startMessageId: InitialPosition | string;
  /** With a messageId start: include that message. Default false, as in Pulsar. */
  readonly startMessageIdInclusive?: boolean;
}

/**
 * A non-durable cursor over a topic, for replay, or to follow a topic without a subscription (the
 * worker's watch for workflow ends). Sees every message, in publish order.
 */
export interface Reader {
  readonly topic: string;
  /** The next message, or null if none arrives within timeoutMs. */
  readNext(timeoutMs?: number): Promise<BusMessage | null>;
  /** True when a message is available now. */
  hasMessageAvailable(): Promise<boolean>;
  /** A readNext under way then gives null. */
  close(): Promise<void>;
}

/**
 * 'connected' while the client reaches its broker; 'disconnected' once it is closed, or while a
 * connection of one of its producers, consumers or readers is down (it reconnects meanwhile).
 */
export type BusConnectionStatus = 'connected' | 'disconnected';

export type ConnectionStatusListener = (status: BusConnectionStatus) => void;

export interface EventBus {
  /** 'memory', 'pulsar-ws', 'pulsar-native'. */
  readonly driver: string;
  readonly connectionStatus: BusConnectionStatus;
  /** Calls `listener` on every change of `connectionStatus`; returns what stops it. */
  onConnectionStatus(listener: ConnectionStatusListener): () => void;
  /** Publishes and resolves with the broker's message id once the broker has it. */
  publish(topic: string, message: OutgoingMessage): Promise<string>;
  /** Attaches a consumer; fails if the subscription type forbids it (second Exclusive consumer). */
  subscribe(options: SubscribeOptions, listener: MessageListener): Promise<Consumer>;
  createReader(options: ReaderOptions): Promise<Reader>;
  /** Closes every producer, consumer and reader of this client. */
  close(): Promise<void>;
}

export class BusClosedError extends Error {
  constructor(what: string) {
    super(`${what}: the bus client is closed`);
    this.name = 'BusClosedError';
  }
}

export class ConsumerBusyError extends Error {
  constructor(topic: string, subscription: string) {
    super(`subscription "${subscription}" on ${topic} is Exclusive and already has a consumer`);
    this.name = 'ConsumerBusyError';
  }
}

export function defaultDeadLetterTopic(topic: string, subscription: string): string {
  return `${topic}-${subscription}-DLQ`;
}

/** The durable subscription on a dead-letter topic whose backlog is the pending dead letters (`mesh dlq`). */
export const DEAD_LETTER_SUBSCRIPTION = 'mesh-dlq';

/** Where a subscription's retries wait out their backoff, as Pulsar's retryLetterTopic: `<topic>-<subscription>-RETRY`. */
export function defaultRetryTopic(topic: string, subscription: string): string {
  return `${topic}-${subscription}-RETRY`;
}
