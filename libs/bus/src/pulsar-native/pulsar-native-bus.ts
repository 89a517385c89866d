import {
  BusClosedError,
  ConsumerBusyError,
  type BusMessage,
  type MessageListener,
  type OutgoingMessage,
  type Reader,
  type ReaderOptions,
  type SubscribeOptions,
  type SubscriptionType,
} from '../event-bus';
import { redactCredentials } from '@agent-mesh/contracts';
import { ClientSideConsumer } from '../client-side-consumer';
import { PulsarEventBusBase, type PulsarBusOptions } from '../pulsar-bus-base';
import { DEFAULT_NACK_DELAY_MS, DEFAULT_READ_TIMEOUT_MS, DEFAULT_RECEIVER_QUEUE_SIZE } from '../port-defaults';
import { comparePositions, decodeMessageId, encodeMessageId, type MessagePosition } from '../pulsar-ws/message-id';
import {
  loadPulsarClient,
  type PulsarClient,
  type PulsarClientModule,
  type PulsarConsumer,
  type PulsarMessage,
  type PulsarMessageId,
  type PulsarProducer,
  type PulsarProducerMessage,
  type PulsarReader,
  type PulsarSubscriptionType,
} from './load';

export interface PulsarNativeOptions extends PulsarBusOptions {
  /** The broker's binary protocol endpoint, e.g. pulsar://127.0.0.1:6650. */
  readonly serviceUrl: string;
  /** JWT for brokers with token authentication. */
  readonly token?: string;
  /** PEM file of the CA that signed the broker's certificate, for a pulsar+ssl:// serviceUrl. */
  readonly tlsCaFile?: string;
  /** Timeout of lookups, producer/consumer/reader creation and other broker operations. Default 30 s. */
  readonly operationTimeoutSeconds?: number;
}

const SUBSCRIPTION_TYPES: Readonly<Record<SubscriptionType, PulsarSubscriptionType>> = {
  Exclusive: 'Exclusive',
  Failover: 'Failover',
  Shared: 'Shared',
  Key_Shared: 'KeyShared',
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The addon rejects with plain messages ending in pulsar-client-cpp's strResult() (lib/Result.cc). */
const isConsumerBusy = (error: unknown): boolean => /\bConsumerBusy\b/.test(errorText(error));
const isAlreadyClosed = (error: unknown): boolean => /\bAlreadyClosed\b/.test(errorText(error));

function assertTopic(topic: string): void {
  if (!/^(persistent|non-persistent):\/\/[^/]+\/[^/]+\/.+$/.test(topic)) {
    throw new Error(`pulsar-native needs a fully qualified topic (persistent://tenant/namespace/name), got "${topic}"`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** base64 of MessageIdData: the encoding the WebSocket API uses, so ids look the same on every Pulsar driver. */
function encodeId(id: PulsarMessageId): string {
  return id.serialize().toString('base64');
}

function toBusMessage(topic: string, message: PulsarMessage): BusMessage {
  const eventTime = message.getEventTimestamp();
  // An Array with string keys in some versions (src/Message.cc): copy into a plain object.
  const properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.getProperties() ?? {})) properties[name] = String(value);
  return {
    topic,
    messageId: encodeId(message.getMessageId()),
    payload: message.getData(),
    key: message.getPartitionKey() || undefined,
    properties,
    // 0 means "not set" (pulsar-client-cpp): an event time of exactly the epoch is not representable.
    eventTime: eventTime > 0 ? eventTime : undefined,
    publishTime: message.getPublishTimestamp(),
    redeliveryCount: message.getRedeliveryCount(),
  };
}

function toProducerMessage(message: OutgoingMessage): PulsarProducerMessage {
  const out: PulsarProducerMessage = {
    data: Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(message.payload, 'utf8'),
    properties: { ...(message.properties ?? {}) },
  };
  if (message.key !== undefined) out.partitionKey = message.key;
  if (message.eventTime !== undefined) out.eventTimestamp = message.eventTime;
  if (message.deliverAfterMs !== undefined) out.deliverAfter = message.deliverAfterMs;
  if (message.deliverAt !== undefined) out.deliverAt = message.deliverAt;
  return out;
}

/**
 * EventBus over the official native client (`pulsar-client`, C++ addon). Behaves exactly like the
 * pulsar-ws driver, which is why it deliberately does some things client-side that the native
 * client could do itself:
 * - dead letters with a reason and ack timeouts are client-side, the same code as pulsar-ws
 *   (`ClientSideConsumer`): the client's deadLetterPolicy cannot carry the reason, and it
 *   rejects ack timeouts < 10 s;
 * - receiverQueueSize bounds the messages handed to the listener and not yet settled: the driver
 *   receives only while fewer are in flight (the native client alone refills its queue on
 *   receipt, not on ack);
 * - an inclusive reader start begins at the entry before the given one (the Node client's reader
 *   has no startMessageIdInclusive: src/ReaderConfig.cc reads no such key);
 * - batching is off, so one message is one id.
 * The native client reconnects producers, consumers and readers itself.
 */
export class PulsarNativeEventBus extends PulsarEventBusBase<NativeProducer> {
  readonly driver = 'pulsar-native';
  /** @internal */
  readonly client: PulsarClient;

  /** Prefer `create`; this takes the already-loaded module (tests can pass a stand-in). */
  constructor(
    readonly options: PulsarNativeOptions,
    /** @internal */ readonly pulsar: PulsarClientModule,
  ) {
    super(options);
    if (!/^pulsar(\+ssl)?:\/\//.test(options.serviceUrl)) {
      throw new Error(
        `PULSAR_SERVICE_URL must be pulsar://host:port or pulsar+ssl://host:port, got "${redactCredentials(options.serviceUrl)}"`,
      );
    }
    this.client = new pulsar.Client({
      serviceUrl: options.serviceUrl,
      operationTimeoutSeconds: options.operationTimeoutSeconds ?? 30,
      ...(options.token ? { authentication: new pulsar.AuthenticationToken({ token: options.token }) } : {}),
      ...(options.tlsCaFile ? { tlsTrustCertsFilePath: options.tlsCaFile } : {}),
    });
  }

  /** Connects through `pulsar-client`; throws, naming the package, when it cannot be loaded. */
  static create(options: PulsarNativeOptions): PulsarNativeEventBus {
    const loaded = loadPulsarClient();
    if (!loaded.ok) {
      throw new Error(
        `The pulsar-native bus driver needs the optional package "pulsar-client" (the native Pulsar client), ` +
          `which cannot be loaded: ${loaded.reason}. Install it (npm install pulsar-client; it downloads a prebuilt ` +
          `binary) or use the pulsar-ws driver.`,
      );
    }
    return new PulsarNativeEventBus(options, loaded.module);
  }

  /** @internal A native MessageId from one of our ids (base64 MessageIdData). */
  nativeMessageId(messageId: string): PulsarMessageId {
    return this.pulsar.MessageId.deserialize(Buffer.from(messageId, 'base64'));
  }

  protected checkTopic(topic: string): void {
    assertTopic(topic);
  }

  protected openProducer(topic: string): Promise<NativeProducer> {
    return NativeProducer.open(this, topic);
  }

  protected newConsumer(options: SubscribeOptions, listener: MessageListener): NativeConsumer {
    return new NativeConsumer(this, options, listener);
  }

  protected newReader(options: ReaderOptions): NativeReader {
    return new NativeReader(this, options);
  }

  protected override async closeClient(): Promise<void> {
    // src/Client.js of some versions drops the promise of close(): resolve whatever comes back.
    await Promise.resolve()
      .then(() => this.client.close())
      .catch(() => undefined);
  }
}

/**
 * One topic's producer. The addon reconnects by itself and says nothing about it, so the
 * connection status follows the sends: a failed one marks the link down, a confirmed one up.
 */
class NativeProducer {
  private constructor(
    private readonly bus: PulsarNativeEventBus,
    private readonly topic: string,
    private readonly native: PulsarProducer,
  ) {}

  static async open(bus: PulsarNativeEventBus, topic: string): Promise<NativeProducer> {
    try {
      const native = await bus.client.createProducer({
        topic,
        batchingEnabled: false,
        sendTimeoutMs: bus.sendTimeoutMs,
      });
      return new NativeProducer(bus, topic, native);
    } catch (error) {
      if (bus.isClosed) throw new BusClosedError(`publish to ${topic}`);
      bus.connection.openFailed();
      throw new Error(
        `publish to ${topic} failed: ${errorText(error)} (broker at ${redactCredentials(bus.options.serviceUrl)})`,
      );
    }
  }

  async send(message: OutgoingMessage): Promise<string> {
    try {
      const id = encodeId(await this.native.send(toProducerMessage(message)));
      this.bus.connection.linkUp(this);
      return id;
    } catch (error) {
      if (this.bus.isClosed) throw new BusClosedError(`publish to ${this.topic}`);
      this.bus.connection.linkDown(this);
      throw new Error(
        `publish to ${this.topic} failed: ${errorText(error)} (broker at ${redactCredentials(this.bus.options.serviceUrl)})`,
      );
    }
  }

  async close(): Promise<void> {
    this.bus.connection.linkClosed(this);
    await this.native.close();
  }
}

/** Each delivery keeps its native message: the addon acks a message without parsing an id. */
class NativeConsumer extends ClientSideConsumer<PulsarMessage> {
  private native!: PulsarConsumer;
  private wakePump?: () => void;
  private readonly maxInFlight: number;

  constructor(
    private readonly bus: PulsarNativeEventBus,
    options: SubscribeOptions,
    listener: MessageListener,
  ) {
    super(bus, options, listener);
    this.maxInFlight = Math.max(1, options.receiverQueueSize ?? DEFAULT_RECEIVER_QUEUE_SIZE);
  }

  async open(): Promise<void> {
    try {
      this.native = await this.bus.client.subscribe({
        topic: this.options.topic,
        subscription: this.options.subscription,
        subscriptionType: SUBSCRIPTION_TYPES[this.options.type],
        subscriptionInitialPosition: this.options.initialPosition === 'earliest' ? 'Earliest' : 'Latest',
        // The native queue prefetches; the in-flight bound itself is enforced in pump().
        receiverQueueSize: this.maxInFlight,
        nAckRedeliverTimeoutMs: this.options.nackRedeliveryDelayMs ?? DEFAULT_NACK_DELAY_MS,
        // No ackTimeoutMs (client-side timers) and no deadLetterPolicy (client-side dead letters).
        ...(this.options.consumerName ? { consumerName: this.options.consumerName } : {}),
      });
    } catch (error) {
      // "Failed to create consumer: ConsumerBusy" (src/Consumer.cc + strResult).
      if (this.options.type === 'Exclusive' && isConsumerBusy(error)) {
        throw new ConsumerBusyError(this.options.topic, this.options.subscription);
      }
      if (this.bus.isClosed) throw new BusClosedError(`subscribe to ${this.options.topic}`);
      this.bus.connection.openFailed();
      throw new Error(`subscribe to ${this.options.topic} (${this.options.subscription}) failed: ${errorText(error)}`);
    }
    this.bus.connection.linkUp(this);
    void this.pump().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forgetDeliveries();
    this.wake();
    try {
      // Unacked messages, prefetched ones included, go back to the subscription.
      await this.native.close();
    } catch {
      // Already closed along with its client.
    }
    this.bus.forget(this);
  }

  /**
   * Receives one message at a time while fewer than receiverQueueSize are in flight.
   * `receive()` without a timeout uses pulsar_consumer_receive_async (src/Consumer.cc); with a
   * timeout the addon would park a libuv pool thread per consumer, so none is passed. (Old addon
   * releases ran the no-timeout receive on a pool thread too — apache/pulsar-client-node#131 —
   * where more than UV_THREADPOOL_SIZE consumers starve Node's pool; current sources do not.)
   * Not the addon's `listener` option: newer releases block the client's single listener thread
   * until a returned promise settles (so one full consumer would stall the others), older ones
   * ignore the promise (so nothing bounds delivery).
   */
  private async pump(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.inFlightCount >= this.maxInFlight) {
        await new Promise<void>((resolve) => (this.wakePump = resolve));
        continue;
      }
      let received: PulsarMessage;
      try {
        received = await this.native.receive();
        if (failures > 0) this.bus.connection.linkUp(this);
        failures = 0;
      } catch (error) {
        if (this.closed || this.bus.isClosed || isAlreadyClosed(error)) return;
        // The addon reconnects by itself and tells nothing of it: a failing receive is what shows.
        this.bus.connection.linkDown(this);
        failures++;
        await sleep(Math.min(100 * 2 ** failures, 5000));
        continue;
      }
      // After close() a message received here is simply not acked: the broker redelivers it.
      if (this.closed) return;
      try {
        this.receive(toBusMessage(this.options.topic, received), received);
      } catch {
        // Unreadable (getters failed): hand it back rather than lose it.
        try {
          this.native.negativeAcknowledge(received);
        } catch {
          // closing
        }
      }
    }
  }

  private wake(): void {
    const wake = this.wakePump;
    this.wakePump = undefined;
    wake?.();
  }

  /** A delivery ended: the pump may receive again. */
  protected override released(): void {
    this.wake();
  }

  protected async ackOnWire(message: BusMessage, native: PulsarMessage | undefined): Promise<void> {
    try {
      if (native) await this.native.acknowledge(native);
      else await this.native.acknowledgeId(this.bus.nativeMessageId(message.messageId));
    } catch (error) {
      // Closed meanwhile: the message is unacked and returns to the subscription, as documented.
      if (this.closed || this.bus.isClosed) return;
      throw new Error(`ack on ${this.options.topic} failed: ${errorText(error)}`);
    }
  }

  protected nackOnWire(message: BusMessage, native: PulsarMessage | undefined): void {
    try {
      // Synchronous in the addon; redelivery follows after nAckRedeliverTimeoutMs.
      if (native) this.native.negativeAcknowledge(native);
      else this.native.negativeAcknowledgeId(this.bus.nativeMessageId(message.messageId));
    } catch (error) {
      if (this.closed || this.bus.isClosed) return; // unacked: it comes back to the subscription anyway
      throw new Error(`nack on ${this.options.topic} failed: ${errorText(error)}`);
    }
  }
}

/** hasNext() polls while nothing is available: the first at once, then backing off up to the maximum. */
const FIRST_POLL_DELAY_MS = 10;
const MAX_POLL_DELAY_MS = 250;
/** How long close() waits for a read under way before closing the reader anyway. */
const CLOSE_READ_WAIT_MS = 5000;

/**
 * A reader that never calls the addon's timed `readNext(timeout)`: in pulsar-client 1.18.0 a
 * read that fails — a timed read timing out, or any read on a reader closed under it — frees a
 * message pointer it never set (src/Reader.cc, ReaderReadNextWorker::Execute), corrupting the
 * heap; the process dies within a few timed-out reads. So it asks `hasNext()` first and calls
 * the untimed `readNext()` only when a message is there (it then returns at once), and close()
 * lets a read under way finish before it closes the native reader.
 *
 * `hasNext()` is synchronous in the addon (pulsar_reader_has_message_available): with messages
 * in the local queue it answers at once, but a reader that has caught up asks the broker for its
 * last message id, holding the event loop for that round trip. So a wait polls it sparingly —
 * once at once, then after growing pauses (10 ms up to 250 ms) in which the event loop runs,
 * until the caller's timeout — and not at all while the reader is not connected (it would block
 * until the operation timeout). docs/bus-drivers.md has the details.
 */
class NativeReader implements Reader {
  private native!: PulsarReader;
  private closed = false;
  private readonly buffer: BusMessage[] = [];
  /** Inclusive start at the first entry of a ledger: skip what precedes the start id. */
  private skipBefore?: MessagePosition;
  /** The untimed read under way, if any: close() waits for it. */
  private reading?: Promise<unknown>;

  constructor(
    private readonly bus: PulsarNativeEventBus,
    private readonly options: ReaderOptions,
  ) {}

  get topic(): string {
    return this.options.topic;
  }

  async open(): Promise<void> {
    const startMessageId = this.startPosition();
    try {
      this.native = await this.bus.client.createReader({
        topic: this.options.topic,
        startMessageId,
        receiverQueueSize: 1000,
      });
    } catch (error) {
      if (this.bus.isClosed) throw new BusClosedError(`createReader on ${this.options.topic}`);
      this.bus.connection.openFailed();
      throw new Error(`createReader on ${this.options.topic} failed: ${errorText(error)}`);
    }
    this.bus.connection.linkUp(this);
  }

  async hasMessageAvailable(): Promise<boolean> {
    this.assertOpen('hasMessageAvailable');
    if (this.buffer.length > 0) return true;
    // One poll, no wait; what it finds is kept for readNext (entries before an inclusive start are passed over).
    const message = await this.readPastSkipped(Date.now());
    if (message) this.buffer.push(message);
    return message !== null;
  }

  async readNext(timeoutMs = DEFAULT_READ_TIMEOUT_MS): Promise<BusMessage | null> {
    this.assertOpen('readNext');
    return this.buffer.shift() ?? (await this.readPastSkipped(Date.now() + timeoutMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reading) await Promise.race([this.reading.catch(() => undefined), sleep(CLOSE_READ_WAIT_MS)]);
    try {
      await this.native.close();
    } catch {
      // Already closed along with its client.
    }
    this.bus.forget(this);
  }

  private startPosition(): PulsarMessageId {
    const { MessageId } = this.bus.pulsar;
    const start = this.options.startMessageId;
    if (start === 'earliest') return MessageId.earliest();
    if (start === 'latest') return MessageId.latest();
    const position = decodeMessageId(start); // rejects what is not a Pulsar id before the addon sees it
    if (!this.options.startMessageIdInclusive) return this.bus.nativeMessageId(start);
    if (position.entryId > 0n)
      return this.bus.nativeMessageId(encodeMessageId(position.ledgerId, position.entryId - 1n));
    this.skipBefore = position;
    return MessageId.earliest();
  }

  /** The next message not before the inclusive start, if one is available by `deadline` (epoch ms); else null. */
  private async readPastSkipped(deadline: number): Promise<BusMessage | null> {
    while (await this.waitUntilAvailable(deadline)) {
      const message = await this.readAvailable();
      if (!message) return null;
      if (this.skipBefore && comparePositions(decodeMessageId(message.messageId), this.skipBefore) < 0) continue;
      this.skipBefore = undefined;
      return message;
    }
    return null;
  }

  /** Polls hasNext() until it says yes or `deadline` passes: at once, then after growing pauses. */
  private async waitUntilAvailable(deadline: number): Promise<boolean> {
    for (let pause = FIRST_POLL_DELAY_MS; ; pause = Math.min(2 * pause, MAX_POLL_DELAY_MS)) {
      if (this.closed) return false;
      if (this.hasNext()) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(pause, left));
    }
  }

  /** Synchronous in the addon, see the class comment; false without asking while the reader is not connected. */
  private hasNext(): boolean {
    if (this.native.isConnected && !this.native.isConnected()) {
      this.bus.connection.linkDown(this);
      return false;
    }
    try {
      const available = this.native.hasNext();
      this.bus.connection.linkUp(this);
      return available;
    } catch (error) {
      if (this.closed || this.bus.isClosed) throw new BusClosedError(`hasMessageAvailable on ${this.options.topic}`);
      throw new Error(`hasMessageAvailable on ${this.options.topic} failed: ${errorText(error)}`);
    }
  }

  /** The untimed readNext(), only ever called once hasNext() said a message is there; null when closed meanwhile. */
  private async readAvailable(): Promise<BusMessage | null> {
    const reading = this.native.readNext();
    this.reading = reading;
    try {
      return { ...toBusMessage(this.options.topic, await reading), redeliveryCount: 0 };
    } catch (error) {
      if (this.closed) return null;
      if (this.bus.isClosed) throw new BusClosedError(`readNext on ${this.options.topic}`);
      throw new Error(`readNext on ${this.options.topic} failed: ${errorText(error)}`);
    } finally {
      this.reading = undefined;
    }
  }

  private assertOpen(what: string): void {
    if (this.closed || this.bus.isClosed) throw new BusClosedError(`${what} on ${this.options.topic}`);
  }
}
