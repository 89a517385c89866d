import { createRequire } from 'node:module';

/**
 * The parts of the official `pulsar-client` package (apache/pulsar-client-node, a C++ addon over
 * pulsar-client-cpp) that the pulsar-native driver uses, declared locally: the package is an
 * optionalDependency and may be absent, so nothing may import its types statically.
 *
 * Checked against apache/pulsar-client-node index.d.ts and src/*.cc; see the notes on each member.
 */

/** `MessageId` instances (src/MessageId.cc). */
export interface PulsarMessageId {
  /** The MessageIdData protobuf (pulsar-client-cpp lib/MessageId.cc: partition and batch_index only when != -1). */
  serialize(): Buffer;
  toString(): string;
}

/** The `MessageId` class: static factories (src/MessageId.cc, StaticMethod earliest/latest/deserialize). */
export interface PulsarMessageIdClass {
  earliest(): PulsarMessageId;
  latest(): PulsarMessageId;
  deserialize(data: Buffer): PulsarMessageId;
}

/** A received message (src/Message.cc). */
export interface PulsarMessage {
  getTopicName(): string;
  /** A JS object (an Array carrying string keys, in src/Message.cc GetProperties): read it with Object.entries. */
  getProperties(): Readonly<Record<string, string>>;
  /** A copy of the payload (Napi::Buffer::Copy). */
  getData(): Buffer;
  getMessageId(): PulsarMessageId;
  getPublishTimestamp(): number;
  /** 0 when the producer set none. */
  getEventTimestamp(): number;
  getRedeliveryCount(): number;
  /** '' when the message has no key. */
  getPartitionKey(): string;
}

/** What `Producer.send` takes (src/Message.cc BuildMessage: `data` must be a Buffer). */
export interface PulsarProducerMessage {
  data: Buffer;
  properties?: Record<string, string>;
  /** Epoch ms; ignored when negative. */
  eventTimestamp?: number;
  partitionKey?: string;
  /** Relative delay in ms (pulsar_message_set_deliver_after). */
  deliverAfter?: number;
  /** Epoch ms (pulsar_message_set_deliver_at). */
  deliverAt?: number;
}

export interface PulsarProducer {
  /** Resolves with the broker-assigned id; rejects with "Failed to send message: <Result>". */
  send(message: PulsarProducerMessage): Promise<PulsarMessageId>;
  flush(): Promise<unknown>;
  close(): Promise<unknown>;
}

export interface PulsarProducerConfig {
  topic: string;
  sendTimeoutMs?: number;
  batchingEnabled?: boolean;
  blockIfQueueFull?: boolean;
}

export type PulsarSubscriptionType = 'Exclusive' | 'Shared' | 'Failover' | 'KeyShared';

export interface PulsarConsumerConfig {
  topic: string;
  subscription: string;
  subscriptionType?: PulsarSubscriptionType;
  subscriptionInitialPosition?: 'Latest' | 'Earliest';
  /** 0 or >= 10000 (MIN_ACK_TIMEOUT_MILLIS): smaller values are rejected, hence our client-side timers. */
  ackTimeoutMs?: number;
  /** The negative-ack redelivery delay (pulsar_configure_set_negative_ack_redelivery_delay_ms). */
  nAckRedeliverTimeoutMs?: number;
  receiverQueueSize?: number;
  consumerName?: string;
}

export interface PulsarConsumer {
  /**
   * Without a timeout: pulsar_consumer_receive_async (no thread held). With a timeout the addon
   * parks a libuv pool thread for the whole wait (ConsumerReceiveWorker), so the driver never
   * passes one. Rejects with "Failed to receive message: <Result>" (AlreadyClosed after close()).
   */
  receive(timeoutMs?: number): Promise<PulsarMessage>;
  acknowledge(message: PulsarMessage): Promise<unknown>;
  acknowledgeId(messageId: PulsarMessageId): Promise<unknown>;
  /** Synchronous in the addon (returns void). */
  negativeAcknowledge(message: PulsarMessage): void;
  negativeAcknowledgeId(messageId: PulsarMessageId): void;
  close(): Promise<unknown>;
}

export interface PulsarReaderConfig {
  topic: string;
  startMessageId: PulsarMessageId;
  receiverQueueSize?: number;
  readerName?: string;
}

export interface PulsarReader {
  /**
   * Waits on a libuv pool thread for the next message (src/Reader.cc ReaderReadNextWorker). Only
   * the untimed form is declared: in 1.18.0 a failed read — the timed form timing out, or a read
   * on a reader closed under it — frees an uninitialised message pointer (heap corruption), so the
   * driver calls it only once `hasNext()` said a message is there.
   */
  readNext(): Promise<PulsarMessage>;
  /** Synchronous (pulsar_reader_has_message_available; may ask the broker, blocking the event loop); throws on failure. */
  hasNext(): boolean;
  /** Synchronous, local (pulsar_reader_is_connected); absent in old releases. */
  isConnected?(): boolean;
  close(): Promise<unknown>;
}

export type PulsarAuthentication = object;

export interface PulsarClientConfig {
  serviceUrl: string;
  authentication?: PulsarAuthentication;
  /** PEM file of the CA that signed the broker's certificate (pulsar+ssl://). */
  tlsTrustCertsFilePath?: string;
  operationTimeoutSeconds?: number;
  connectionTimeoutMs?: number;
  ioThreads?: number;
  messageListenerThreads?: number;
}

export interface PulsarClient {
  createProducer(config: PulsarProducerConfig): Promise<PulsarProducer>;
  /** Rejects with "Failed to create consumer: <Result>", e.g. "…: ConsumerBusy" for a second Exclusive consumer. */
  subscribe(config: PulsarConsumerConfig): Promise<PulsarConsumer>;
  /** Rejects with "Failed to create reader: <Result>". */
  createReader(config: PulsarReaderConfig): Promise<PulsarReader>;
  /** A promise in index.d.ts, but src/Client.js of some versions does not return it: await defensively. */
  close(): unknown;
}

export interface PulsarClientModule {
  Client: new (config: PulsarClientConfig) => PulsarClient;
  MessageId: PulsarMessageIdClass;
  AuthenticationToken: new (params: { token: string }) => PulsarAuthentication;
}

export type PulsarClientLoadResult = { ok: true; module: PulsarClientModule } | { ok: false; reason: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function checkShape(loaded: unknown): string | undefined {
  if (!isObject(loaded)) return 'require("pulsar-client") did not return an object';
  if (typeof loaded['Client'] !== 'function') return 'pulsar-client exports no Client class';
  if (typeof loaded['AuthenticationToken'] !== 'function') return 'pulsar-client exports no AuthenticationToken class';
  const messageId = loaded['MessageId'];
  if (!isObject(messageId)) return 'pulsar-client exports no MessageId class';
  for (const method of ['earliest', 'latest', 'deserialize']) {
    if (typeof messageId[method] !== 'function') return `pulsar-client MessageId has no static ${method}()`;
  }
  return undefined;
}

function isPulsarClientModule(loaded: unknown): loaded is PulsarClientModule {
  return checkShape(loaded) === undefined;
}

let cached: PulsarClientLoadResult | undefined;

/**
 * Loads `pulsar-client` at run time. Its install downloads a prebuilt binary, so it is often
 * missing (no network) or present without a binary for this platform; either way this says why
 * instead of throwing. Node's own require (not a bundler's or Jest's module registry) so the
 * addon is loaded once per process. The result is cached.
 */
export function loadPulsarClient(): PulsarClientLoadResult {
  if (cached) return cached;
  try {
    const loaded: unknown = createRequire(__filename)('pulsar-client');
    if (isPulsarClientModule(loaded)) {
      cached = { ok: true, module: loaded };
    } else {
      cached = { ok: false, reason: checkShape(loaded) ?? 'pulsar-client has an unexpected shape' };
    }
  } catch (error) {
    // Not `instanceof Error`: errors thrown by a test runner's module registry may come from another realm.
    const message = isObject(error) && typeof error['message'] === 'string' ? error['message'] : String(error);
    cached = { ok: false, reason: message.split('\n')[0] };
  }
  return cached;
}
