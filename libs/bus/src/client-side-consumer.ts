import { describeError } from '@agent-mesh/contracts';
import {
  BusClosedError,
  defaultDeadLetterTopic,
  type BusMessage,
  type Consumer,
  type EventBus,
  type MessageListener,
  type SubscribeOptions,
} from './event-bus';
import { deadLetterMessage } from './dead-letter';

/** The client a consumer belongs to: it publishes the dead letters. */
export interface ConsumerClient {
  readonly publish: EventBus['publish'];
  readonly isClosed: boolean;
}

interface Delivery<Handle> {
  readonly handle: Handle;
  timer?: NodeJS.Timeout;
}

/**
 * The consumer semantics both Pulsar drivers build on the client, in one place, because the
 * broker cannot give them the port's way:
 * - dead letters with a reason: on a nack of a delivery whose redeliveryCount has reached
 *   maxRedeliverCount, or on receipt of a message already past it (ack timeouts, consumers that
 *   died), the message is published to the dead-letter topic with `dlq.reason` — the last
 *   failure's reason — and acked (the broker's DLQ cannot carry a reason);
 * - ack timeout: a timer per delivery that nacks with reason `ack timeout` (the WebSocket
 *   consumer takes no sub-second ack timeouts, the native client none under 10 s);
 * - the listener is called once per delivery, in delivery order; a listener that throws nacks.
 * A driver's consumer extends it with the wire: how to ack and nack one message (`Handle` is what
 * it keeps per delivery, e.g. the native message), how to open and close.
 */
export abstract class ClientSideConsumer<Handle> implements Consumer {
  protected closed = false;
  /** Delivered to the listener and not yet acked, nacked or dead-lettered, by messageId. */
  private readonly inFlight = new Map<string, Delivery<Handle>>();
  /** Why the last delivery of a message failed, for the dead-letter reason. */
  private readonly lastFailure = new Map<string, string>();
  /**
   * Exclusive and Failover: nacks counted here, by messageId, because the broker counts
   * redeliveries on Shared and Key_Shared subscriptions only (its redeliveryCount stays 0).
   */
  private readonly nacked = new Map<string, number>();

  protected constructor(
    protected readonly client: ConsumerClient,
    readonly options: SubscribeOptions,
    private readonly listener: MessageListener,
  ) {}

  get topic(): string {
    return this.options.topic;
  }

  get subscription(): string {
    return this.options.subscription;
  }

  abstract close(): Promise<void>;

  /** Acks the message on the broker; `handle` is what the driver kept for this delivery, if any. */
  protected abstract ackOnWire(message: BusMessage, handle: Handle | undefined): void | Promise<void>;

  /** Asks the broker to redeliver it after the subscription's nack delay. */
  protected abstract nackOnWire(message: BusMessage, handle: Handle | undefined): void;

  /** A delivery ended (acked, nacked, dead-lettered): its in-flight slot is free. */
  protected released(): void {
    // Drivers that bound in-flight deliveries themselves resume receiving here.
  }

  async ack(message: BusMessage): Promise<void> {
    this.assertOpen('ack');
    this.lastFailure.delete(message.messageId); // a message that failed once and then succeeded
    this.nacked.delete(message.messageId);
    await this.ackOnWire(message, this.settle(message));
  }

  /** Redelivery after the nack delay, or the dead-letter topic once maxRedeliverCount is reached. */
  async nack(message: BusMessage, reason = 'negative acknowledgement'): Promise<void> {
    this.assertOpen('nack');
    const handle = this.settle(message);
    const policy = this.options.deadLetter;
    if (policy && message.redeliveryCount >= policy.maxRedeliverCount) {
      await this.sendToDeadLetter(message, reason, handle);
      return;
    }
    this.lastFailure.set(message.messageId, reason);
    if (this.options.type === 'Exclusive' || this.options.type === 'Failover') {
      this.nacked.set(message.messageId, message.redeliveryCount + 1);
    }
    this.nackOnWire(message, handle);
  }

  async deadLetter(message: BusMessage, reason: string, detail?: string): Promise<void> {
    this.assertOpen('deadLetter');
    await this.sendToDeadLetter(message, reason, this.settle(message), detail);
  }

  /** Deliveries not settled yet. */
  protected get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** A message from the broker: dead-lettered if past the limit, else timed and handed to the listener. */
  protected receive(received: BusMessage, handle: Handle): void {
    const counted = this.nacked.get(received.messageId) ?? 0;
    const message = counted > received.redeliveryCount ? { ...received, redeliveryCount: counted } : received;
    const policy = this.options.deadLetter;
    if (policy && message.redeliveryCount > policy.maxRedeliverCount) {
      const reason =
        this.lastFailure.get(message.messageId) ?? `exceeded maxRedeliverCount (${policy.maxRedeliverCount})`;
      void this.sendToDeadLetter(message, reason, handle).catch(() => undefined);
      return;
    }
    // A redelivery of a message still held (after a reconnect, or Exclusive/Failover redelivering
    // everything unacked on a nack) replaces the earlier delivery and its timer.
    const earlier = this.inFlight.get(message.messageId);
    if (earlier?.timer) clearTimeout(earlier.timer);
    const delivery: Delivery<Handle> = { handle };
    this.inFlight.set(message.messageId, delivery);
    const ackTimeout = this.options.ackTimeoutMs ?? 0;
    if (ackTimeout > 0) {
      delivery.timer = setTimeout(() => {
        delivery.timer = undefined;
        if (!this.closed && this.inFlight.get(message.messageId) === delivery) {
          void this.nack(message, `ack timeout: not acknowledged within ${ackTimeout} ms`).catch(() => undefined);
        }
      }, ackTimeout);
      delivery.timer.unref();
    }
    // Called in the turn the message arrived in (no promise turn first): a listener that
    // settles synchronously acks before whatever else this turn runs.
    let outcome: void | Promise<void>;
    try {
      outcome = this.listener(message, this);
    } catch (error) {
      this.listenerFailed(message, error);
      return;
    }
    if (outcome) outcome.catch((error: unknown) => this.listenerFailed(message, error));
  }

  /** A listener that throws (or rejects) nacks its message. */
  private listenerFailed(message: BusMessage, error: unknown): void {
    if (!this.closed) void this.nack(message, `listener threw: ${describeError(error)}`).catch(() => undefined);
  }

  /** Forgets every delivery and stops its timer (connection dropped, or closing): the broker redelivers. */
  protected forgetDeliveries(): void {
    for (const delivery of this.inFlight.values()) if (delivery.timer) clearTimeout(delivery.timer);
    this.inFlight.clear();
  }

  protected assertOpen(what: string): void {
    if (this.closed || this.client.isClosed) throw new BusClosedError(`${what} on ${this.options.topic}`);
  }

  /** Ends a delivery: stops its ack timer, frees its slot; returns what the driver kept for it. */
  private settle(message: BusMessage): Handle | undefined {
    const delivery = this.inFlight.get(message.messageId);
    if (!delivery) return undefined;
    if (delivery.timer) clearTimeout(delivery.timer);
    this.inFlight.delete(message.messageId);
    this.released();
    return delivery.handle;
  }

  private async sendToDeadLetter(
    message: BusMessage,
    reason: string,
    handle: Handle | undefined,
    detail?: string,
  ): Promise<void> {
    const topic =
      this.options.deadLetter?.deadLetterTopic ?? defaultDeadLetterTopic(this.options.topic, this.options.subscription);
    await this.client.publish(topic, deadLetterMessage(message, this.options.subscription, reason, detail));
    this.lastFailure.delete(message.messageId);
    this.nacked.delete(message.messageId);
    await this.ackOnWire(message, handle);
  }
}
