import {
  DEAD_LETTER_SUBSCRIPTION,
  DeadLetterProperties,
  RetryProperties,
  type BusMessage,
  type Consumer,
  type EventBus,
} from '@agent-mesh/bus';
import { EnvelopeProperties } from '@agent-mesh/contracts';

/** One pending dead letter, as `mesh dlq` shows it. `id` is its message id on the dead-letter topic. */
export interface DeadLetter {
  readonly id: string;
  readonly originTopic: string;
  readonly subscription: string;
  readonly reason: string;
  readonly error?: string;
  readonly attempts: number;
  readonly firstFailureAt?: string;
  readonly lastFailureAt?: string;
  readonly replays: number;
  /** When it reached the dead-letter topic (ISO). */
  readonly deadLetteredAt: string;
  readonly eventType?: string;
  readonly correlationId?: string;
  readonly message: BusMessage;
}

/** Which dead letters a command acts on; every field given must match. */
export interface DeadLetterFilter {
  /** The origin topic: its full name, or its short name (`tasks.keywords`). */
  readonly topic?: string;
  /** A substring of the reason, any case. */
  readonly reason?: string;
  /** Dead-lettered at or after this epoch ms. */
  readonly since?: number;
}

export interface DeadLetterSessionOptions {
  readonly bus: EventBus;
  /** The dead-letter topic, fully qualified. */
  readonly topic: string;
  /** How many dead letters are pending (the subscription's backlog), to stop waiting as soon as all arrived. */
  readonly backlog?: () => Promise<number>;
  /** Stop waiting after this long without a new message. Default 1500 ms. */
  readonly idleMs?: number;
  /** Most dead letters one session holds. Default 10,000. */
  readonly limit?: number;
}

/**
 * The pending dead letters of a dead-letter topic: the backlog of its durable subscription
 * `mesh-dlq` (which the mesh transport creates). A session receives them all without acking;
 * `replay` republishes one to its origin topic and then acks it, `purge` acks it — so each is
 * replayed once, and a later session no longer sees it. `close()` returns the others to the
 * subscription.
 */
export class DeadLetterSession {
  private constructor(
    private readonly bus: EventBus,
    private readonly consumer: Consumer,
    readonly letters: readonly DeadLetter[],
  ) {}

  static async open(options: DeadLetterSessionOptions): Promise<DeadLetterSession> {
    const received = new Map<string, BusMessage>();
    let lastArrival = Date.now();
    const limit = options.limit ?? 10_000;
    const consumer = await options.bus.subscribe(
      {
        topic: options.topic,
        subscription: DEAD_LETTER_SUBSCRIPTION,
        type: 'Shared',
        initialPosition: 'earliest',
        receiverQueueSize: limit,
        consumerName: 'mesh-cli',
      },
      (message) => {
        received.set(message.messageId, message);
        lastArrival = Date.now();
      },
    );
    const expected = options.backlog ? await options.backlog().catch(() => undefined) : undefined;
    const idleMs = options.idleMs ?? 1500;
    while ((expected === undefined || received.size < Math.min(expected, limit)) && Date.now() - lastArrival < idleMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const letters = [...received.values()]
      .map(toDeadLetter)
      .sort((a, b) => a.message.publishTime - b.message.publishTime);
    return new DeadLetterSession(options.bus, consumer, letters);
  }

  find(filter: DeadLetterFilter): DeadLetter[] {
    return this.letters.filter((letter) => matches(letter, filter));
  }

  get(id: string): DeadLetter | undefined {
    return this.letters.find((letter) => letter.id === id);
  }

  /**
   * Republishes the dead letter to its origin topic — payload, key and properties, its history
   * kept and `dlq.replays` counted — then acks it. A replayed message that fails again comes
   * back with its earlier attempts and first failure time.
   */
  async replay(letter: DeadLetter): Promise<string> {
    const { message } = letter;
    const properties = Object.fromEntries(
      Object.entries(message.properties).filter(
        ([name]) => !(Object.values(RetryProperties) as string[]).includes(name),
      ),
    );
    properties[DeadLetterProperties.replays] = String(letter.replays + 1);
    const id = await this.bus.publish(letter.originTopic, {
      payload: message.payload,
      key: message.key,
      eventTime: message.eventTime,
      properties,
    });
    await this.consumer.ack(message);
    return id;
  }

  /** Removes the dead letter (acks it). */
  async purge(letter: DeadLetter): Promise<void> {
    await this.consumer.ack(letter.message);
  }

  /** Returns every dead letter not replayed or purged to the subscription. */
  async close(): Promise<void> {
    await this.consumer.close();
  }
}

export function toDeadLetter(message: BusMessage): DeadLetter {
  const p = message.properties;
  return {
    id: message.messageId,
    originTopic: p[DeadLetterProperties.originTopic] ?? p[DeadLetterProperties.pulsarRealTopic] ?? '?',
    subscription: p[DeadLetterProperties.subscription] ?? '?',
    reason: p[DeadLetterProperties.reason] ?? '(no reason)',
    error: p[DeadLetterProperties.error],
    attempts: Number(p[DeadLetterProperties.attempts] ?? 0) || 0,
    firstFailureAt: p[DeadLetterProperties.firstFailureAt],
    lastFailureAt: p[DeadLetterProperties.lastFailureAt],
    replays: Number(p[DeadLetterProperties.replays] ?? 0) || 0,
    deadLetteredAt: new Date(message.publishTime).toISOString(),
    eventType: p[EnvelopeProperties.eventType],
    correlationId: p[EnvelopeProperties.correlationId],
    message,
  };
}

function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.topic && letter.originTopic !== filter.topic && !letter.originTopic.endsWith(`/${filter.topic}`)) {
    return false;
  }
  if (filter.reason && !letter.reason.toLowerCase().includes(filter.reason.toLowerCase())) return false;
  if (filter.since !== undefined && letter.message.publishTime < filter.since) return false;
  return true;
}
