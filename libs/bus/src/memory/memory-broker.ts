import { describeError } from '@agent-mesh/contracts';
import {
  BusClosedError,
  ConsumerBusyError,
  defaultDeadLetterTopic,
  type BusConnectionStatus,
  type BusMessage,
  type ConnectionStatusListener,
  type Consumer,
  type EventBus,
  type MessageListener,
  type OutgoingMessage,
  type Reader,
  type ReaderOptions,
  type SubscribeOptions,
  type SubscriptionType,
} from '../event-bus';
import { ConnectionStatusTracker } from '../connection-status';
import { deadLetterMessage } from '../dead-letter';
import { DEFAULT_NACK_DELAY_MS, DEFAULT_READ_TIMEOUT_MS, DEFAULT_RECEIVER_QUEUE_SIZE } from '../port-defaults';
import { MessageLog } from './message-log';

const DEFAULT_RETENTION = 1000;

export interface MemoryBrokerOptions {
  /**
   * How many of each topic's newest messages it keeps once no subscription and no open reader
   * needs them, for readers and subscriptions that start from `earliest`. Messages a
   * subscription has not acked, or an open reader has not read yet, are always kept. Default
   * 1,000; `Infinity` keeps every message (the Pulsar deployment's retention -1).
   */
  readonly retention?: number;
}

/** One subscription's figures, as a broker's admin stats report them. */
export interface MemorySubscriptionStats {
  readonly topic: string;
  readonly subscription: string;
  /** Messages not acked yet. */
  readonly backlog: number;
  readonly consumers: number;
  /** Messages delivered to its consumers since the subscription was created (redeliveries included). */
  readonly delivered: number;
}

interface StoredMessage {
  readonly index: number;
  readonly messageId: string;
  readonly payload: Buffer;
  readonly key?: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly eventTime?: number;
  readonly publishTime: number;
  readonly deliverAt?: number;
}

interface InFlight {
  readonly consumer: MemoryConsumer;
  readonly delivery: number;
  timer?: NodeJS.Timeout;
}

/**
 * An in-process Pulsar: topics are append-only logs, subscriptions are durable cursors with
 * Pulsar's dispatch rules. Each `connect()` is one client ("process"); closing a client is
 * what a crash looks like to the broker — its unacked messages go to other consumers.
 *
 * Retention: a topic drops the messages every subscription has acked and every open reader has
 * read, beyond its newest `retention` (options), as Pulsar drops acknowledged messages beyond its
 * retention policy — so a long-running embedded mesh does not grow with every message it ever
 * carried. A reader or a new subscription from `earliest` starts at the oldest message kept, and
 * a reader from a dropped message id at the oldest one kept after it.
 */
export class MemoryBroker {
  private readonly topics = new Map<string, MemoryTopic>();
  private nextLedgerId = 1;
  private stopped = false;
  /** @internal */
  readonly retention: number;

  constructor(options: MemoryBrokerOptions = {}) {
    const retention = options.retention ?? DEFAULT_RETENTION;
    if (!(retention >= 0) || (Number.isFinite(retention) && !Number.isInteger(retention))) {
      throw new Error(`MemoryBroker retention must be a whole number of messages ≥ 0 or Infinity, got ${retention}`);
    }
    this.retention = retention;
  }

  connect(): MemoryEventBus {
    if (this.stopped) throw new Error('memory broker is shut down');
    return new MemoryEventBus(this);
  }

  /** Stops every timer; the broker cannot be used afterwards. */
  shutdown(): void {
    this.stopped = true;
    for (const topic of this.topics.values()) topic.shutdown();
  }

  /** Backlog of a subscription: messages not yet acked (for tests and stats). */
  backlog(topic: string, subscription: string): number {
    return this.topics.get(topic)?.subscriptionBacklog(subscription) ?? 0;
  }

  /** Messages a topic holds now, acked or not (for tests and stats). */
  storedMessages(topic: string): number {
    return this.topics.get(topic)?.log.size ?? 0;
  }

  /** Every subscription of every topic, with its figures (a broker's admin stats). */
  subscriptionStats(): MemorySubscriptionStats[] {
    return [...this.topics.values()].flatMap((topic) => topic.subscriptionStats());
  }

  /** @internal */
  topic(name: string): MemoryTopic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = new MemoryTopic(name, this.nextLedgerId++, this);
      this.topics.set(name, topic);
    }
    return topic;
  }
}

/** Where an open reader is: it needs every message from `position` on. */
interface ReaderCursor {
  readonly position: number;
}

/** @internal */
export class MemoryTopic {
  readonly log = new MessageLog<StoredMessage>();
  private readonly subscriptions = new Map<string, MemorySubscription>();
  private readonly readers = new Set<ReaderCursor>();
  private readonly publishWaiters = new Set<() => void>();

  constructor(
    readonly name: string,
    private readonly ledgerId: number,
    readonly broker: MemoryBroker,
  ) {}

  append(message: OutgoingMessage): StoredMessage {
    const index = this.log.end;
    const deliverAt =
      message.deliverAt ?? (message.deliverAfterMs !== undefined ? Date.now() + message.deliverAfterMs : undefined);
    const stored: StoredMessage = {
      index,
      messageId: `${this.ledgerId}:${index}`,
      payload: Buffer.isBuffer(message.payload) ? Buffer.from(message.payload) : Buffer.from(message.payload, 'utf8'),
      key: message.key,
      properties: { ...(message.properties ?? {}) },
      eventTime: message.eventTime,
      publishTime: Date.now(),
      deliverAt,
    };
    this.log.append(stored);
    for (const sub of this.subscriptions.values()) sub.onPublish(stored);
    for (const wake of [...this.publishWaiters]) wake();
    this.release();
    return stored;
  }

  /** A message that must still be held (unacked by a subscription, or unread by a reader). */
  entry(index: number): StoredMessage {
    const stored = this.log.at(index);
    if (!stored) throw new Error(`message ${index} of ${this.name} is not held (dropped or never written)`);
    return stored;
  }

  /**
   * Drops what nobody needs: below every subscription's first unacked message, every open
   * reader's position and the newest `retention` messages. Called when one of those moves.
   */
  release(): void {
    let keepFrom = this.log.end - this.broker.retention;
    if (keepFrom <= this.log.start) return;
    for (const sub of this.subscriptions.values()) keepFrom = Math.min(keepFrom, sub.firstUnacked);
    for (const reader of this.readers) keepFrom = Math.min(keepFrom, reader.position);
    this.log.dropBelow(keepFrom);
  }

  openReader(reader: ReaderCursor): void {
    this.readers.add(reader);
  }

  closeReader(reader: ReaderCursor): void {
    if (this.readers.delete(reader)) this.release();
  }

  indexOf(messageId: string): number {
    const [ledger, entry] = messageId.split(':');
    const index = Number(entry);
    if (Number(ledger) !== this.ledgerId || !Number.isInteger(index) || index < 0) {
      throw new Error(`message id ${messageId} does not belong to topic ${this.name}`);
    }
    return index;
  }

  subscription(options: SubscribeOptions): MemorySubscription {
    let sub = this.subscriptions.get(options.subscription);
    if (!sub) {
      sub = new MemorySubscription(this, options.subscription, options.type, options.initialPosition ?? 'latest');
      this.subscriptions.set(options.subscription, sub);
    }
    return sub;
  }

  subscriptionBacklog(name: string): number {
    return this.subscriptions.get(name)?.backlog() ?? 0;
  }

  subscriptionStats(): MemorySubscriptionStats[] {
    return [...this.subscriptions.values()].map((sub) => ({
      topic: this.name,
      subscription: sub.name,
      ...sub.stats(),
    }));
  }

  onNextPublish(wake: () => void): () => void {
    this.publishWaiters.add(wake);
    return () => this.publishWaiters.delete(wake);
  }

  shutdown(): void {
    for (const sub of this.subscriptions.values()) sub.shutdown();
  }
}

/** A durable cursor with Pulsar's dispatch rules for its type. */
class MemorySubscription {
  private readonly consumers: MemoryConsumer[] = [];
  /** Entry indices ready to dispatch, ascending (redeliveries go back in order). */
  private readonly pending: number[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly delayed = new Map<number, NodeJS.Timeout>();
  private readonly nackTimers = new Map<number, NodeJS.Timeout>();
  private readonly redeliveryCounts = new Map<number, number>();
  private readonly lastFailure = new Map<number, string>();
  private readonly acked = new Set<number>();
  /** Key_Shared: which consumer holds in-flight messages of a key (keeps per-key order). */
  private readonly keyOwners = new Map<string, { consumer: MemoryConsumer; count: number }>();
  private ackedBelow = 0;
  private deliveries = 0;
  private roundRobin = 0;
  private dispatchScheduled = false;

  constructor(
    private readonly topic: MemoryTopic,
    readonly name: string,
    private type: SubscriptionType,
    initialPosition: 'earliest' | 'latest',
  ) {
    if (initialPosition === 'earliest') {
      this.ackedBelow = topic.log.start;
      for (let index = topic.log.start; index < topic.log.end; index++) this.onPublish(topic.entry(index));
    } else {
      this.ackedBelow = topic.log.end;
    }
  }

  /** Every message below this one is acked: the topic may drop them. */
  get firstUnacked(): number {
    return this.ackedBelow;
  }

  attach(consumer: MemoryConsumer, type: SubscriptionType): void {
    if (this.consumers.length > 0 && type !== this.type) {
      throw new Error(
        `subscription "${this.name}" on ${this.topic.name} is ${this.type}; a ${type} consumer cannot join it`,
      );
    }
    if (this.consumers.length > 0 && type === 'Exclusive') {
      throw new ConsumerBusyError(this.topic.name, this.name);
    }
    this.type = type;
    this.consumers.push(consumer);
    this.scheduleDispatch();
  }

  detach(consumer: MemoryConsumer): void {
    const at = this.consumers.indexOf(consumer);
    if (at < 0) return;
    this.consumers.splice(at, 1);
    for (const [index, flight] of [...this.inFlight]) {
      if (flight.consumer !== consumer) continue;
      this.clearFlight(index, flight);
      this.insertPending(index);
    }
    this.scheduleDispatch();
  }

  onPublish(message: StoredMessage): void {
    const delay = message.deliverAt !== undefined ? message.deliverAt - Date.now() : 0;
    if (delay > 0 && (this.type === 'Shared' || this.type === 'Key_Shared')) {
      const timer = setTimeout(() => {
        this.delayed.delete(message.index);
        this.insertPending(message.index);
        this.scheduleDispatch();
      }, delay);
      timer.unref();
      this.delayed.set(message.index, timer);
      return;
    }
    this.pending.push(message.index);
    this.scheduleDispatch();
  }

  ack(index: number): void {
    if (index < this.ackedBelow || this.acked.has(index)) return;
    const flight = this.inFlight.get(index);
    if (flight) this.clearFlight(index, flight);
    else this.removePending(index);
    const nack = this.nackTimers.get(index);
    if (nack) {
      clearTimeout(nack);
      this.nackTimers.delete(index);
    }
    this.redeliveryCounts.delete(index);
    this.lastFailure.delete(index);
    this.markAcked(index);
    this.scheduleDispatch();
  }

  /** Nack or ack timeout: the message comes back after `delayMs`, or goes to the DLQ. */
  redeliverLater(consumer: MemoryConsumer, index: number, delayMs: number, reason: string): void {
    const flight = this.inFlight.get(index);
    if (!flight || flight.consumer !== consumer) return; // already acked, or redelivered elsewhere
    this.clearFlight(index, flight);
    this.redeliveryCounts.set(index, (this.redeliveryCounts.get(index) ?? 0) + 1);
    this.lastFailure.set(index, reason);
    const redeliver = () => {
      this.nackTimers.delete(index);
      if (this.acked.has(index) || index < this.ackedBelow) return;
      const policy = consumer.options.deadLetter;
      if (policy && (this.redeliveryCounts.get(index) ?? 0) > policy.maxRedeliverCount) {
        this.moveToDeadLetter(index, policy.deadLetterTopic ?? defaultDeadLetterTopic(this.topic.name, this.name));
        return;
      }
      this.insertPending(index);
      this.scheduleDispatch();
    };
    if (delayMs <= 0) {
      redeliver();
    } else {
      const timer = setTimeout(redeliver, delayMs);
      timer.unref();
      this.nackTimers.set(index, timer);
    }
    this.scheduleDispatch();
  }

  backlog(): number {
    return this.topic.log.end - this.ackedBelow - this.acked.size;
  }

  stats(): { backlog: number; consumers: number; delivered: number } {
    return { backlog: this.backlog(), consumers: this.consumers.length, delivered: this.deliveries };
  }

  shutdown(): void {
    for (const timer of this.delayed.values()) clearTimeout(timer);
    for (const timer of this.nackTimers.values()) clearTimeout(timer);
    for (const flight of this.inFlight.values()) if (flight.timer) clearTimeout(flight.timer);
  }

  private moveToDeadLetter(index: number, deadLetterTopic: string): void {
    const stored = this.topic.entry(index);
    const message = this.toBusMessage(stored, (this.redeliveryCounts.get(index) ?? 1) - 1);
    const reason = this.lastFailure.get(index) ?? 'exceeded maxRedeliverCount';
    this.topic.broker.topic(deadLetterTopic).append(deadLetterMessage(message, this.name, reason));
    this.redeliveryCounts.delete(index);
    this.lastFailure.delete(index);
    this.markAcked(index);
  }

  private markAcked(index: number): void {
    this.acked.add(index);
    const before = this.ackedBelow;
    while (this.acked.delete(this.ackedBelow)) this.ackedBelow++;
    if (this.ackedBelow !== before) this.topic.release();
  }

  private clearFlight(index: number, flight: InFlight): void {
    if (flight.timer) clearTimeout(flight.timer);
    this.inFlight.delete(index);
    flight.consumer.inFlight--;
    const key = this.topic.entry(index).key ?? '';
    const owner = this.keyOwners.get(key);
    if (owner && owner.consumer === flight.consumer && --owner.count === 0) this.keyOwners.delete(key);
  }

  private pendingSlot(index: number): number {
    let lo = 0;
    let hi = this.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.pending[mid] < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insertPending(index: number): void {
    const at = this.pendingSlot(index);
    if (this.pending[at] !== index) this.pending.splice(at, 0, index);
  }

  private removePending(index: number): void {
    const at = this.pendingSlot(index);
    if (this.pending[at] === index) this.pending.splice(at, 1);
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.consumers.length === 0 || this.pending.length === 0) return;
    const delivered = new Set<number>();
    const blockedKeys = new Set<string>();
    let contiguous = true; // delivered messages are all at the head of `pending` (the common case)
    for (const index of this.pending) {
      if (!this.consumers.some((c) => c.permits() > 0)) break;
      const message = this.topic.entry(index);
      const target = this.pickConsumer(message, blockedKeys);
      if (!target) {
        if (this.type !== 'Key_Shared') break;
        contiguous = false;
        continue;
      }
      delivered.add(index);
      this.deliver(target, message);
    }
    if (delivered.size === 0) return;
    if (contiguous) {
      this.pending.splice(0, delivered.size);
    } else {
      const remaining = this.pending.filter((i) => !delivered.has(i));
      this.pending.length = 0;
      for (const i of remaining) this.pending.push(i);
    }
  }

  private pickConsumer(message: StoredMessage, blockedKeys: Set<string>): MemoryConsumer | undefined {
    switch (this.type) {
      case 'Exclusive':
      case 'Failover': {
        const active = this.consumers[0];
        return active.permits() > 0 ? active : undefined;
      }
      case 'Shared': {
        for (let i = 0; i < this.consumers.length; i++) {
          const candidate = this.consumers[(this.roundRobin + i) % this.consumers.length];
          if (candidate.permits() > 0) {
            this.roundRobin = (this.roundRobin + i + 1) % this.consumers.length;
            return candidate;
          }
        }
        return undefined;
      }
      case 'Key_Shared': {
        const key = message.key ?? '';
        if (blockedKeys.has(key)) return undefined;
        const owner = this.keyOwners.get(key)?.consumer ?? this.hashConsumer(key);
        if (owner.permits() > 0) return owner;
        blockedKeys.add(key); // later messages of this key must wait behind this one
        return undefined;
      }
    }
  }

  /** Consistent hashing over consumer names, so a joining consumer moves only some keys. */
  private hashConsumer(key: string): MemoryConsumer {
    const point = hashKey(key);
    let best = this.consumers[0];
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const consumer of this.consumers) {
      for (const vnode of consumer.ringPoints) {
        const distance = (vnode - point + 0x100000000) % 0x100000000;
        if (distance < bestDistance) {
          bestDistance = distance;
          best = consumer;
        }
      }
    }
    return best;
  }

  private deliver(consumer: MemoryConsumer, stored: StoredMessage): void {
    const delivery = ++this.deliveries;
    const flight: InFlight = { consumer, delivery };
    this.inFlight.set(stored.index, flight);
    consumer.inFlight++;
    if (this.type === 'Key_Shared') {
      const key = stored.key ?? '';
      const owner = this.keyOwners.get(key);
      if (owner) owner.count++;
      else this.keyOwners.set(key, { consumer, count: 1 });
    }
    const ackTimeout = consumer.options.ackTimeoutMs ?? 0;
    if (ackTimeout > 0) {
      flight.timer = setTimeout(() => {
        if (this.inFlight.get(stored.index)?.delivery !== delivery) return;
        this.redeliverLater(consumer, stored.index, 0, `ack timeout: not acknowledged within ${ackTimeout} ms`);
      }, ackTimeout);
      flight.timer.unref();
    }
    consumer.deliver(this.toBusMessage(stored, this.redeliveryCounts.get(stored.index) ?? 0));
  }

  private toBusMessage(stored: StoredMessage, redeliveryCount: number): BusMessage {
    return {
      topic: this.topic.name,
      messageId: stored.messageId,
      payload: stored.payload,
      key: stored.key,
      properties: stored.properties,
      eventTime: stored.eventTime,
      publishTime: stored.publishTime,
      redeliveryCount,
    };
  }
}

let consumerSequence = 0;

class MemoryConsumer implements Consumer {
  readonly ringPoints: number[];
  /** Messages delivered to this consumer and not yet acked or nacked (kept by the subscription). */
  inFlight = 0;
  private closed = false;

  constructor(
    private readonly client: MemoryEventBus,
    private readonly sub: MemorySubscription,
    private readonly topicRef: MemoryTopic,
    readonly options: SubscribeOptions,
    private readonly listener: MessageListener,
  ) {
    const name = options.consumerName ?? `consumer-${++consumerSequence}`;
    this.ringPoints = Array.from({ length: 16 }, (_, i) => hashKey(`${name}#${i}`));
  }

  get topic(): string {
    return this.options.topic;
  }

  get subscription(): string {
    return this.options.subscription;
  }

  permits(): number {
    if (this.closed) return 0;
    return (this.options.receiverQueueSize ?? DEFAULT_RECEIVER_QUEUE_SIZE) - this.inFlight;
  }

  deliver(message: BusMessage): void {
    // Listeners run in delivery order; a listener that throws nacks its message, never loses it.
    void Promise.resolve()
      .then(() => this.listener(message, this))
      .catch((error: unknown) => {
        if (!this.closed) void this.nack(message, `listener threw: ${describeError(error)}`);
      });
  }

  async ack(message: BusMessage): Promise<void> {
    this.assertOpen('ack');
    this.sub.ack(this.topicRef.indexOf(message.messageId));
  }

  async nack(message: BusMessage, reason = 'negative acknowledgement'): Promise<void> {
    this.assertOpen('nack');
    const delay = this.options.nackRedeliveryDelayMs ?? DEFAULT_NACK_DELAY_MS;
    this.sub.redeliverLater(this, this.topicRef.indexOf(message.messageId), delay, reason);
  }

  async deadLetter(message: BusMessage, reason: string, detail?: string): Promise<void> {
    this.assertOpen('deadLetter');
    const topic =
      this.options.deadLetter?.deadLetterTopic ?? defaultDeadLetterTopic(this.options.topic, this.options.subscription);
    await this.client.publish(topic, deadLetterMessage(message, this.options.subscription, reason, detail));
    await this.ack(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub.detach(this);
    this.client.forget(this);
  }

  private assertOpen(what: string): void {
    if (this.closed || this.client.isClosed) throw new BusClosedError(`${what} on ${this.options.topic}`);
  }
}

/** A reader holds the topic's messages from its position on until it reads them or closes. */
class MemoryReader implements Reader {
  private closed = false;
  /** Ends the wait of a readNext under way (close() calls it: the read then gives null, as on Pulsar). */
  private wake?: () => void;

  constructor(
    private readonly topicRef: MemoryTopic,
    private next: number,
    private readonly client: MemoryEventBus,
  ) {
    topicRef.openReader(this);
  }

  get topic(): string {
    return this.topicRef.name;
  }

  /** Index of the next message to read (the topic keeps it and what follows). */
  get position(): number {
    return this.next;
  }

  async hasMessageAvailable(): Promise<boolean> {
    return this.next < this.topicRef.log.end;
  }

  async readNext(timeoutMs = DEFAULT_READ_TIMEOUT_MS): Promise<BusMessage | null> {
    if (this.closed || this.client.isClosed) throw new BusClosedError(`readNext on ${this.topicRef.name}`);
    if (this.next >= this.topicRef.log.end) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        const stop = this.topicRef.onNextPublish(done);
        this.wake = done;
        function done() {
          clearTimeout(timer);
          stop();
          resolve();
        }
      });
      this.wake = undefined;
      if (this.closed || this.next >= this.topicRef.log.end) return null;
    }
    const stored = this.topicRef.entry(this.next++);
    return {
      topic: this.topicRef.name,
      messageId: stored.messageId,
      payload: stored.payload,
      key: stored.key,
      properties: stored.properties,
      eventTime: stored.eventTime,
      publishTime: stored.publishTime,
      redeliveryCount: 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.topicRef.closeReader(this);
    this.client.forget(this);
  }
}

/** One client of a MemoryBroker: the EventBus an agent process holds. */
export class MemoryEventBus implements EventBus {
  readonly driver = 'memory';
  private closed = false;
  private readonly resources = new Set<MemoryConsumer | MemoryReader>();
  /** In-process: connected from the start until closed. */
  private readonly connection = new ConnectionStatusTracker();

  constructor(private readonly broker: MemoryBroker) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** The broker's figures of every subscription (what the Pulsar admin API's topic stats give). */
  subscriptionStats(): MemorySubscriptionStats[] {
    return this.broker.subscriptionStats();
  }

  get connectionStatus(): BusConnectionStatus {
    return this.connection.status;
  }

  onConnectionStatus(listener: ConnectionStatusListener): () => void {
    return this.connection.onChange(listener);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<string> {
    if (this.closed) throw new BusClosedError(`publish to ${topic}`);
    return this.broker.topic(topic).append(message).messageId;
  }

  async subscribe(options: SubscribeOptions, listener: MessageListener): Promise<Consumer> {
    if (this.closed) throw new BusClosedError(`subscribe to ${options.topic}`);
    const topic = this.broker.topic(options.topic);
    const sub = topic.subscription(options);
    const consumer = new MemoryConsumer(this, sub, topic, options, listener);
    sub.attach(consumer, options.type);
    this.resources.add(consumer);
    return consumer;
  }

  async createReader(options: ReaderOptions): Promise<Reader> {
    if (this.closed) throw new BusClosedError(`createReader on ${options.topic}`);
    const topic = this.broker.topic(options.topic);
    let position: number;
    if (options.startMessageId === 'earliest') position = topic.log.start;
    else if (options.startMessageId === 'latest') position = topic.log.end;
    // A start id already dropped begins at the oldest message kept, as on Pulsar.
    else
      position = Math.max(
        topic.log.start,
        topic.indexOf(options.startMessageId) + (options.startMessageIdInclusive ? 0 : 1),
      );
    const reader = new MemoryReader(topic, position, this);
    this.resources.add(reader);
    return reader;
  }

  /** Closing a client is what a crashed process looks like: its unacked messages go elsewhere. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const resource of [...this.resources]) await resource.close();
    this.closed = true;
    this.connection.markClosed();
  }

  /** @internal */
  forget(resource: MemoryConsumer | MemoryReader): void {
    this.resources.delete(resource);
  }
}

/** FNV-1a with Murmur3's finalizer, so keys differing in their last characters spread over the ring. */
function hashKey(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
