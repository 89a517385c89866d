import {
  BusClosedError,
  ConsumerBusyError,
  type BusMessage,
  type MessageListener,
  type OutgoingMessage,
  type Reader,
  type ReaderOptions,
  type SubscribeOptions,
} from '../event-bus';
import { redactCredentials } from '@agent-mesh/contracts';
import { ClientSideConsumer } from '../client-side-consumer';
import { PulsarEventBusBase, type PulsarBusOptions } from '../pulsar-bus-base';
import { DEFAULT_NACK_DELAY_MS, DEFAULT_READ_TIMEOUT_MS, DEFAULT_RECEIVER_QUEUE_SIZE } from '../port-defaults';
import { comparePositions, decodeMessageId, encodeMessageId, type MessagePosition } from './message-id';
import { readFileSync } from 'node:fs';
import { trustedFetch, type HttpFetch } from '../trusted-fetch';
import { DEFAULT_RECONNECT, UpgradeRefusedError, WsSession, type ReconnectPolicy, type WsTarget } from './ws-session';

export interface PulsarWsOptions extends PulsarBusOptions {
  /** The broker's web service, e.g. http://127.0.0.1:8080 (WebSocket API under /ws/v2). */
  readonly webUrl: string;
  /** JWT for brokers with token authentication, sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** PEM file of the CA that signed the broker's certificate, for an https:// webUrl (wss://). */
  readonly tlsCaFile?: string;
  /** How long the first connection of a producer, consumer or reader may take. Default 10 s. */
  readonly connectTimeoutMs?: number;
  readonly reconnect?: ReconnectPolicy;
}

interface WireMessage {
  readonly messageId: string;
  readonly payload: string;
  readonly properties?: Record<string, string>;
  readonly publishTime: string;
  readonly eventTime?: string;
  readonly redeliveryCount?: number;
  readonly key?: string;
}

interface ProducerReply {
  readonly result: string;
  readonly messageId?: string;
  readonly errorMsg?: string;
  readonly context?: string;
}

function topicPath(topic: string): string {
  const match = /^(persistent|non-persistent):\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(topic);
  if (!match)
    throw new Error(`pulsar-ws needs a fully qualified topic (persistent://tenant/namespace/name), got "${topic}"`);
  return `${match[1]}/${match[2]}/${match[3]}/${encodeURIComponent(match[4])}`;
}

function toBusMessage(topic: string, wire: WireMessage): BusMessage {
  return {
    topic,
    messageId: wire.messageId,
    payload: Buffer.from(wire.payload, 'base64'),
    key: wire.key || undefined,
    properties: wire.properties ?? {},
    eventTime: wire.eventTime ? Date.parse(wire.eventTime) : undefined,
    publishTime: Date.parse(wire.publishTime),
    redeliveryCount: wire.redeliveryCount ?? 0,
  };
}

/**
 * EventBus over Pulsar's WebSocket API. Everything the WebSocket API cannot say is done here,
 * the same way for every subscription:
 * - dead letters with a reason and ack timeouts are client-side (`ClientSideConsumer`, shared
 *   with the native driver): the broker's own DLQ could not carry the reason, and the WebSocket
 *   consumer takes no sub-second ack timeouts;
 * - an inclusive reader start begins at the entry before the given one;
 * - producers, consumers and readers reconnect with backoff; unconfirmed publishes are resent
 *   (at-least-once: consumers dedupe by event id), unacked messages come back from the broker.
 */
export class PulsarWsEventBus extends PulsarEventBusBase<WsProducer> {
  readonly driver = 'pulsar-ws';
  readonly wsBase: string;
  /** @internal How every socket of this client connects: the token header, the CA. */
  readonly wsTarget: WsTarget;
  private readonly fetch: HttpFetch;

  constructor(readonly options: PulsarWsOptions) {
    super(options);
    const url = new URL(options.webUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`PULSAR_WEB_URL must be http(s)://host:port, got "${redactCredentials(options.webUrl)}"`);
    }
    this.wsBase = `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}/ws/v2`;
    this.wsTarget = {
      headers: this.headers,
      ...(options.tlsCaFile ? { ca: readFileSync(options.tlsCaFile) } : {}),
    };
    this.fetch = trustedFetch(options.tlsCaFile);
  }

  get headers(): Record<string, string> {
    return this.options.token ? { Authorization: `Bearer ${this.options.token}` } : {};
  }

  get reconnectPolicy(): ReconnectPolicy {
    return this.options.reconnect ?? DEFAULT_RECONNECT;
  }

  get connectTimeoutMs(): number {
    return this.options.connectTimeoutMs ?? 10_000;
  }

  protected checkTopic(topic: string): void {
    topicPath(topic);
  }

  protected openProducer(topic: string): Promise<WsProducer> {
    return WsProducer.open(this, topic);
  }

  protected newConsumer(options: SubscribeOptions, listener: MessageListener): WsConsumer {
    return new WsConsumer(this, options, listener);
  }

  protected newReader(options: ReaderOptions): WsReader {
    return new WsReader(this, options);
  }

  /**
   * @internal Opens a link's session; a first connection that does not reach the broker marks the
   * client disconnected until a link opens. A refusal (an HTTP answer to the upgrade, 409 busy or
   * 503 while a topic loads) came from the broker, so it does not.
   */
  async openSession(session: WsSession): Promise<void> {
    try {
      await session.open(this.connectTimeoutMs);
    } catch (error) {
      if (!(error instanceof UpgradeRefusedError)) this.connection.openFailed();
      throw error;
    }
  }

  /** @internal Last message id of a topic from the admin API, or undefined for an empty topic. */
  async lastMessagePosition(topic: string): Promise<MessagePosition | undefined> {
    const response = await this.fetch(
      `${this.options.webUrl.replace(/\/$/, '')}/admin/v2/${topicPath(topic)}/lastMessageId`,
      { headers: this.headers },
    );
    if (!response.ok) throw new Error(`lastMessageId of ${topic}: HTTP ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { ledgerId: number; entryId: number; batchIndex?: number };
    if (body.ledgerId < 0 || body.entryId < 0) return undefined;
    return {
      ledgerId: BigInt(body.ledgerId),
      entryId: BigInt(body.entryId),
      batchIndex: BigInt(body.batchIndex ?? -1),
    };
  }
}

interface PendingSend {
  readonly frame: string;
  readonly resolve: (messageId: string) => void;
  readonly reject: (error: Error) => void;
  /** performance.now() after which the publish fails. */
  readonly deadline: number;
}

class WsProducer {
  /** Sends the broker has not confirmed, in send order (Map keeps insertion order). */
  private readonly pending = new Map<string, PendingSend>();
  private sequence = 0;
  private session!: WsSession;
  /**
   * One timer per producer fails the sends past their deadline, instead of a timer per publish
   * (two timer-list operations per message); it runs while sends are pending. A send fails
   * between sendTimeoutMs and sendTimeoutMs + sweepMs after it was made.
   */
  private sweepTimer?: NodeJS.Timeout;

  private constructor(
    private readonly bus: PulsarWsEventBus,
    private readonly topic: string,
  ) {}

  static async open(bus: PulsarWsEventBus, topic: string): Promise<WsProducer> {
    const producer = new WsProducer(bus, topic);
    producer.session = new WsSession(
      `${bus.wsBase}/producer/${topicPath(topic)}`,
      bus.wsTarget,
      {
        // After a reconnect, everything not confirmed is sent again, in order (in one write).
        onOpen: (reconnected) => {
          bus.connection.linkUp(producer);
          if (reconnected) for (const send of producer.pending.values()) producer.session.send(send.frame);
        },
        onMessage: (data) => producer.onReply(data),
        onDrop: () => bus.connection.linkDown(producer),
      },
      bus.reconnectPolicy,
    );
    await bus.openSession(producer.session);
    return producer;
  }

  private get timeoutMs(): number {
    return this.bus.sendTimeoutMs;
  }

  send(message: OutgoingMessage): Promise<string> {
    const context = String(++this.sequence);
    const payload = Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(message.payload, 'utf8');
    const frame = JSON.stringify({
      payload: payload.toString('base64'),
      properties: message.properties ?? {},
      context,
      key: message.key,
      eventTime: message.eventTime !== undefined ? new Date(message.eventTime).toISOString() : undefined,
      deliverAt: message.deliverAt,
      deliverAfterMs: message.deliverAfterMs,
    });
    return new Promise<string>((resolve, reject) => {
      this.pending.set(context, { frame, resolve, reject, deadline: performance.now() + this.timeoutMs });
      this.sweepTimer ??= this.scheduleSweep();
      this.session.send(frame); // if the socket is down, onOpen resends it
    });
  }

  async close(): Promise<void> {
    await this.session.close();
    this.bus.connection.linkClosed(this);
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const send of this.pending.values()) send.reject(new BusClosedError(`publish to ${this.topic}`));
    this.pending.clear();
  }

  private scheduleSweep(): NodeJS.Timeout {
    const sweepMs = Math.max(5, Math.min(1000, this.timeoutMs / 10));
    return setTimeout(() => this.sweep(), sweepMs);
  }

  /** Fails the sends past their deadline; runs again while any send is pending. */
  private sweep(): void {
    this.sweepTimer = undefined;
    const now = performance.now();
    for (const [context, send] of this.pending) {
      // Deadlines grow with send order, so the first one still in time ends the sweep.
      if (send.deadline > now) break;
      this.pending.delete(context);
      send.reject(
        new Error(
          `publish to ${this.topic} not confirmed within ${this.timeoutMs} ms (broker at ${redactCredentials(this.bus.options.webUrl)})`,
        ),
      );
    }
    if (this.pending.size > 0) this.sweepTimer = this.scheduleSweep();
  }

  private onReply(data: string): void {
    const reply = JSON.parse(data) as ProducerReply;
    const send = reply.context ? this.pending.get(reply.context) : undefined;
    if (!send) return;
    this.pending.delete(reply.context as string);
    if (reply.result === 'ok' && reply.messageId) send.resolve(reply.messageId);
    else send.reject(new Error(`publish to ${this.topic} failed: ${reply.result} ${reply.errorMsg ?? ''}`.trim()));
  }
}

/** Acks and nacks are frames on the consumer's socket; nothing is kept per delivery. */
class WsConsumer extends ClientSideConsumer<undefined> {
  private session!: WsSession;
  /** Acks made while the socket was down, sent on reconnect. */
  private readonly unsentFrames: string[] = [];

  constructor(
    private readonly bus: PulsarWsEventBus,
    options: SubscribeOptions,
    listener: MessageListener,
  ) {
    super(bus, options, listener);
  }

  async open(): Promise<void> {
    const params = new URLSearchParams({
      subscriptionType: this.options.type,
      receiverQueueSize: String(this.options.receiverQueueSize ?? DEFAULT_RECEIVER_QUEUE_SIZE),
      negativeAckRedeliveryDelay: String(this.options.nackRedeliveryDelayMs ?? DEFAULT_NACK_DELAY_MS),
      subscriptionInitialPosition: this.options.initialPosition === 'earliest' ? 'Earliest' : 'Latest',
    });
    if (this.options.consumerName) params.set('consumerName', this.options.consumerName);
    const url = `${this.bus.wsBase}/consumer/${topicPath(this.options.topic)}/${encodeURIComponent(this.options.subscription)}?${params}`;
    this.session = new WsSession(
      url,
      this.bus.wsTarget,
      {
        onOpen: () => {
          this.bus.connection.linkUp(this);
          for (const frame of this.unsentFrames.splice(0)) this.session.send(frame);
        },
        onMessage: (data) => this.onMessage(JSON.parse(data) as WireMessage),
        // The broker redelivers whatever was unacked; local timers for those deliveries are void.
        onDrop: () => {
          this.bus.connection.linkDown(this);
          this.forgetDeliveries();
        },
      },
      this.bus.reconnectPolicy,
    );
    try {
      await this.bus.openSession(this.session);
    } catch (error) {
      if (error instanceof UpgradeRefusedError && error.status === 409 && this.options.type === 'Exclusive') {
        throw new ConsumerBusyError(this.options.topic, this.options.subscription);
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forgetDeliveries();
    await this.session.close();
    this.bus.forget(this);
  }

  protected ackOnWire(message: BusMessage): void {
    this.sendFrame(JSON.stringify({ messageId: message.messageId }));
  }

  protected nackOnWire(message: BusMessage): void {
    this.sendFrame(JSON.stringify({ type: 'negativeAcknowledge', messageId: message.messageId }));
  }

  private onMessage(wire: WireMessage): void {
    if (this.closed) return;
    this.receive(toBusMessage(this.options.topic, wire), undefined);
  }

  private sendFrame(frame: string): void {
    if (!this.session.send(frame)) this.unsentFrames.push(frame);
  }
}

class WsReader implements Reader {
  private session!: WsSession;
  private closed = false;
  private readonly buffer: BusMessage[] = [];
  private waiter?: () => void;
  private lastSeen?: MessagePosition;
  /** Inclusive start at the first entry of a ledger: skip what precedes the start id. */
  private skipBefore?: MessagePosition;

  constructor(
    private readonly bus: PulsarWsEventBus,
    private readonly options: ReaderOptions,
  ) {}

  get topic(): string {
    return this.options.topic;
  }

  async open(): Promise<void> {
    const start = this.startPosition();
    // After a reconnect the reader resumes after the last message it received, not at its start.
    const url = () =>
      `${this.bus.wsBase}/reader/${topicPath(this.options.topic)}?${new URLSearchParams({
        messageId: this.lastSeen ? encodeMessageId(this.lastSeen.ledgerId, this.lastSeen.entryId) : start,
        receiverQueueSize: '1000',
      })}`;
    this.session = new WsSession(
      url,
      this.bus.wsTarget,
      {
        onOpen: () => this.bus.connection.linkUp(this),
        onMessage: (data) => this.onMessage(JSON.parse(data) as WireMessage),
        onDrop: () => this.bus.connection.linkDown(this),
      },
      this.bus.reconnectPolicy,
    );
    await this.bus.openSession(this.session);
  }

  async hasMessageAvailable(): Promise<boolean> {
    if (this.buffer.length > 0) return true;
    // entryId -1 means "the current ledger is empty", not "the topic is empty" (after a ledger
    // roll-over the last message sits in an older ledger): then only waiting tells.
    const last = await this.bus.lastMessagePosition(this.options.topic);
    if (this.buffer.length > 0) return true; // arrived while we asked
    if (!last) return this.lastSeen ? false : (await this.waitForMessage(500)) !== undefined;
    if (this.lastSeen && comparePositions(this.lastSeen, last) >= 0) return false;
    // From 'latest', messages published before the reader existed do not count.
    return (
      (await this.waitForMessage(this.options.startMessageId === 'latest' && !this.lastSeen ? 200 : 2000)) !== undefined
    );
  }

  async readNext(timeoutMs = DEFAULT_READ_TIMEOUT_MS): Promise<BusMessage | null> {
    if (this.closed || this.bus.isClosed) throw new BusClosedError(`readNext on ${this.options.topic}`);
    const message = this.buffer.shift() ?? (await this.waitForMessage(timeoutMs), this.buffer.shift());
    return message ?? null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.close();
    this.waiter?.();
    this.bus.forget(this);
  }

  private startPosition(): string {
    const start = this.options.startMessageId;
    if (start === 'earliest' || start === 'latest') return start;
    if (!this.options.startMessageIdInclusive) return start;
    const position = decodeMessageId(start);
    if (position.entryId > 0n) return encodeMessageId(position.ledgerId, position.entryId - 1n);
    this.skipBefore = position;
    return 'earliest';
  }

  private waitForMessage(timeoutMs: number): Promise<BusMessage | undefined> {
    if (this.buffer.length > 0) return Promise.resolve(this.buffer[0]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(this.buffer[0]);
      };
    });
  }

  private onMessage(wire: WireMessage): void {
    // The reader's acks are flow control only: they tell the proxy to send more.
    this.session.send(JSON.stringify({ messageId: wire.messageId }));
    const position = decodeMessageId(wire.messageId);
    if (this.skipBefore && comparePositions(position, this.skipBefore) < 0) return;
    this.skipBefore = undefined;
    this.lastSeen = position;
    this.buffer.push({ ...toBusMessage(this.options.topic, wire), redeliveryCount: 0 });
    this.waiter?.();
  }
}
