/**
 * The driver's own logic (id encoding, message mapping, in-flight bound, client-side dead
 * letters, error mapping, reader start positions) against a small in-process stand-in for the
 * `pulsar-client` module. It imitates the addon's documented behaviour (rejection messages from
 * src/*.cc, MessageIdData ids), not Pulsar: the real broker is the conformance suite's job.
 */
import { BusClosedError, ConsumerBusyError, DeadLetterProperties, type BusMessage } from '../event-bus';
import { sleep, waitFor } from '../conformance/helpers';
import { decodeMessageId, encodeMessageId } from '../pulsar-ws/message-id';
import type {
  PulsarClientConfig,
  PulsarClientModule,
  PulsarConsumer,
  PulsarConsumerConfig,
  PulsarMessage,
  PulsarMessageId,
  PulsarProducer,
  PulsarProducerConfig,
  PulsarProducerMessage,
  PulsarReader,
  PulsarReaderConfig,
} from './load';
import { PulsarNativeEventBus } from './pulsar-native-bus';

const LEDGER = 7n;

class FakeId implements PulsarMessageId {
  constructor(readonly entry: bigint) {}
  serialize(): Buffer {
    return Buffer.from(encodeMessageId(LEDGER, this.entry), 'base64');
  }
  toString(): string {
    return `${LEDGER}:${this.entry}`;
  }
}
const EARLIEST = new FakeId(-1n);
const LATEST = new FakeId(1n << 62n);

interface Stored {
  readonly id: FakeId;
  readonly message: PulsarProducerMessage;
  readonly publishTime: number;
}

class FakeMessage implements PulsarMessage {
  constructor(
    readonly topic: string,
    readonly stored: Stored,
    readonly redeliveryCount: number,
  ) {}
  getTopicName = (): string => this.topic;
  getProperties = (): Record<string, string> => ({ ...(this.stored.message.properties ?? {}) });
  getData = (): Buffer => Buffer.from(this.stored.message.data);
  getMessageId = (): PulsarMessageId => this.stored.id;
  getPublishTimestamp = (): number => this.stored.publishTime;
  getEventTimestamp = (): number => this.stored.message.eventTimestamp ?? 0;
  getRedeliveryCount = (): number => this.redeliveryCount;
  getPartitionKey = (): string => this.stored.message.partitionKey ?? '';
}

/** One queue of deliveries per consumer; every consumer is its own subscription here. */
class FakeConsumer implements PulsarConsumer {
  readonly queue: FakeMessage[] = [];
  private waiter?: (message: FakeMessage) => void;
  private failWaiter?: (error: Error) => void;
  readonly acked: string[] = [];
  closed = false;

  constructor(
    readonly broker: FakeBroker,
    readonly config: PulsarConsumerConfig,
  ) {}

  deliver(message: FakeMessage): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(message);
    } else this.queue.push(message);
  }
  receive(): Promise<PulsarMessage> {
    if (this.closed) return Promise.reject(new Error('Failed to receive message: AlreadyClosed'));
    const next = this.queue.shift();
    if (next) return Promise.resolve(next);
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }
  async acknowledge(message: PulsarMessage): Promise<null> {
    this.acked.push(message.getMessageId().toString());
    return null;
  }
  async acknowledgeId(messageId: PulsarMessageId): Promise<null> {
    this.acked.push(messageId.toString());
    return null;
  }
  negativeAcknowledge(message: PulsarMessage): void {
    const fake = message as FakeMessage;
    setTimeout(
      () => this.deliver(new FakeMessage(fake.topic, fake.stored, fake.redeliveryCount + 1)),
      this.config.nAckRedeliverTimeoutMs ?? 60_000,
    );
  }
  negativeAcknowledgeId(): void {
    throw new Error('not used by these tests');
  }
  async close(): Promise<null> {
    this.closed = true;
    this.broker.consumers.delete(this);
    this.failWaiter?.(new Error('Failed to receive message: AlreadyClosed'));
    return null;
  }
}

class FakeReader implements PulsarReader {
  private position: bigint;
  constructor(
    readonly broker: FakeBroker,
    readonly config: PulsarReaderConfig,
  ) {
    const start = config.startMessageId as FakeId;
    this.position = start === LATEST ? BigInt(broker.log(config.topic).length) - 1n : start.entry;
  }
  hasNext(): boolean {
    this.broker.hasNextCalls++;
    return this.next() !== undefined;
  }
  /**
   * pulsar-client 1.18.0 frees an uninitialised pointer when a read fails (src/Reader.cc,
   * ReaderReadNextWorker::Execute): a timed read that times out, or an untimed one on a reader
   * closed under it, corrupts the heap. Either use is recorded and fails the test.
   */
  async readNext(...args: unknown[]): Promise<PulsarMessage> {
    if (args.length > 0) this.broker.misuse.push(`timed readNext(${String(args[0])})`);
    if (!this.next()) this.broker.misuse.push('readNext() with no message available');
    for (;;) {
      const next = this.next();
      if (next) {
        this.position = next.id.entry;
        return new FakeMessage(this.config.topic, next, 0);
      }
      if (this.closed) {
        this.broker.misuse.push('readNext() failed on a closed reader');
        throw new Error('Failed to received message AlreadyClosed');
      }
      await sleep(5);
    }
  }
  private closed = false;
  private next(): Stored | undefined {
    return this.broker.log(this.config.topic).find((s) => s.id.entry > this.position);
  }
  async close(): Promise<null> {
    this.closed = true;
    return null;
  }
}

class FakeBroker {
  /** Calls the addon would crash on (see FakeReader.readNext); must stay empty. */
  readonly misuse: string[] = [];
  hasNextCalls = 0;
  readonly topics = new Map<string, Stored[]>();
  readonly consumers = new Set<FakeConsumer>();
  readonly readerConfigs: PulsarReaderConfig[] = [];
  readonly producerConfigs: PulsarProducerConfig[] = [];
  readonly consumerConfigs: PulsarConsumerConfig[] = [];
  readonly clientConfigs: PulsarClientConfig[] = [];

  log(topic: string): Stored[] {
    let log = this.topics.get(topic);
    if (!log) this.topics.set(topic, (log = []));
    return log;
  }

  module(): PulsarClientModule {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const broker = this;
    class Client {
      closed = false;
      constructor(readonly config: PulsarClientConfig) {
        broker.clientConfigs.push(config);
      }
      async createProducer(config: PulsarProducerConfig): Promise<PulsarProducer> {
        broker.producerConfigs.push(config);
        return {
          send: async (message) => {
            const log = broker.log(config.topic);
            const stored: Stored = { id: new FakeId(BigInt(log.length)), message, publishTime: Date.now() };
            log.push(stored);
            for (const c of broker.consumers) {
              if (c.config.topic === config.topic) c.deliver(new FakeMessage(config.topic, stored, 0));
            }
            return stored.id;
          },
          flush: async () => null,
          close: async () => null,
        };
      }
      async subscribe(config: PulsarConsumerConfig): Promise<PulsarConsumer> {
        broker.consumerConfigs.push(config);
        const busy = [...broker.consumers].some(
          (c) => c.config.topic === config.topic && c.config.subscription === config.subscription,
        );
        if (busy && config.subscriptionType === 'Exclusive') throw new Error('Failed to create consumer: ConsumerBusy');
        const consumer = new FakeConsumer(broker, config);
        broker.consumers.add(consumer);
        if (config.subscriptionInitialPosition === 'Earliest') {
          for (const stored of broker.log(config.topic)) consumer.deliver(new FakeMessage(config.topic, stored, 0));
        }
        return consumer;
      }
      async createReader(config: PulsarReaderConfig): Promise<PulsarReader> {
        broker.readerConfigs.push(config);
        return new FakeReader(broker, config);
      }
      close(): void {
        this.closed = true; // some versions of src/Client.js return nothing
      }
    }
    return {
      Client,
      MessageId: {
        earliest: () => EARLIEST,
        latest: () => LATEST,
        deserialize: (data: Buffer) => new FakeId(decodeMessageId(data.toString('base64')).entryId),
      },
      AuthenticationToken: class {
        constructor(readonly params: { token: string }) {}
      },
    };
  }
}

const TOPIC = 'persistent://t/ns/orders';

describe('PulsarNativeEventBus over a stand-in pulsar-client module', () => {
  let broker: FakeBroker;
  let bus: PulsarNativeEventBus;

  beforeEach(() => {
    broker = new FakeBroker();
    bus = new PulsarNativeEventBus({ serviceUrl: 'pulsar://127.0.0.1:6650', token: 'jwt' }, broker.module());
  });
  afterEach(async () => {
    await bus.close();
    expect(broker.misuse).toEqual([]);
  });

  it('publishes unbatched, returns base64 MessageIdData, and maps every message field', async () => {
    const got: BusMessage[] = [];
    await bus.subscribe({ topic: TOPIC, subscription: 's', type: 'Key_Shared' }, (m, c) => {
      got.push(m);
      return c.ack(m);
    });
    const id = await bus.publish(TOPIC, {
      payload: 'x',
      key: 'k',
      properties: { a: '1' },
      eventTime: 1234,
      deliverAfterMs: 5,
    });
    const plain = await bus.publish(TOPIC, { payload: Buffer.from([1, 2]) });
    expect(broker.producerConfigs).toEqual([expect.objectContaining({ topic: TOPIC, batchingEnabled: false })]);
    expect(broker.consumerConfigs[0]).toMatchObject({
      subscriptionType: 'KeyShared',
      subscriptionInitialPosition: 'Latest',
    });
    expect(broker.consumerConfigs[0]).not.toHaveProperty('ackTimeoutMs');
    expect(broker.consumerConfigs[0]).not.toHaveProperty('deadLetterPolicy');
    expect(broker.topics.get(TOPIC)?.[0].message).toMatchObject({
      partitionKey: 'k',
      eventTimestamp: 1234,
      deliverAfter: 5,
    });
    expect(id).toBe(encodeMessageId(LEDGER, 0n));
    await waitFor(() => got.length === 2, 1000);
    expect(got[0]).toMatchObject({
      topic: TOPIC,
      messageId: id,
      key: 'k',
      properties: { a: '1' },
      eventTime: 1234,
      redeliveryCount: 0,
    });
    expect(got[1]).toMatchObject({ messageId: plain, key: undefined, properties: {}, eventTime: undefined });
    expect([...got[1].payload]).toEqual([1, 2]);
  });

  it('maps ConsumerBusy on a second Exclusive consumer to ConsumerBusyError', async () => {
    const options = { topic: TOPIC, subscription: 's', type: 'Exclusive' as const };
    await bus.subscribe(options, () => undefined);
    await expect(bus.subscribe(options, () => undefined)).rejects.toBeInstanceOf(ConsumerBusyError);
  });

  it('hands the listener at most receiverQueueSize unsettled messages', async () => {
    const held: BusMessage[] = [];
    const consumer = await bus.subscribe(
      { topic: TOPIC, subscription: 's', type: 'Shared', receiverQueueSize: 2 },
      (m) => {
        held.push(m);
      },
    );
    for (let i = 0; i < 5; i++) await bus.publish(TOPIC, { payload: `m${i}` });
    await sleep(50);
    expect(held).toHaveLength(2);
    await consumer.ack(held[0]);
    await waitFor(() => held.length === 3, 1000);
    await sleep(50);
    expect(held.map((m) => m.payload.toString())).toEqual(['m0', 'm1', 'm2']);
  });

  it('dead-letters on the last allowed nack with the reason, then acks; a throwing listener nacks', async () => {
    const dead: BusMessage[] = [];
    await bus.subscribe({ topic: `${TOPIC}-s-DLQ`, subscription: 'w', type: 'Shared' }, (m) => {
      dead.push(m);
    });
    const counts: number[] = [];
    await bus.subscribe(
      {
        topic: TOPIC,
        subscription: 's',
        type: 'Shared',
        nackRedeliveryDelayMs: 10,
        deadLetter: { maxRedeliverCount: 1 },
      },
      (m) => {
        counts.push(m.redeliveryCount);
        throw new Error(`boom ${m.redeliveryCount}`);
      },
    );
    const id = await bus.publish(TOPIC, { payload: 'p', key: 'k' });
    await waitFor(() => dead.length === 1, 2000);
    expect(counts).toEqual([0, 1]);
    expect(dead[0].key).toBe('k');
    expect(dead[0].properties).toMatchObject({
      [DeadLetterProperties.reason]: 'listener threw: Error: boom 1',
      [DeadLetterProperties.originMessageId]: id,
      [DeadLetterProperties.originTopic]: TOPIC,
    });
    const consumer = [...broker.consumers].find((c) => c.config.topic === TOPIC);
    expect(consumer?.acked).toEqual([`${LEDGER}:0`]);
  });

  it('ack timeout is a client-side timer that nacks', async () => {
    const counts: number[] = [];
    await bus.subscribe(
      { topic: TOPIC, subscription: 's', type: 'Shared', ackTimeoutMs: 30, nackRedeliveryDelayMs: 10 },
      (m, c) => {
        counts.push(m.redeliveryCount);
        return m.redeliveryCount > 0 ? c.ack(m) : undefined;
      },
    );
    await bus.publish(TOPIC, { payload: 'p' });
    await waitFor(() => counts.length === 2, 1000);
    expect(counts).toEqual([0, 1]);
  });

  it('readers: readNext timeout gives null, inclusive start begins one entry earlier, hasMessageAvailable', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await bus.publish(TOPIC, { payload: `r${i}` }));
    const inclusive = await bus.createReader({ topic: TOPIC, startMessageId: ids[1], startMessageIdInclusive: true });
    expect((broker.readerConfigs[0].startMessageId as FakeId).entry).toBe(0n);
    const exclusive = await bus.createReader({ topic: TOPIC, startMessageId: ids[1] });
    const fromZero = await bus.createReader({ topic: TOPIC, startMessageId: ids[0], startMessageIdInclusive: true });
    const readAll = async (reader: typeof inclusive): Promise<string[]> => {
      const out: string[] = [];
      for (let m = await reader.readNext(30); m; m = await reader.readNext(30)) out.push(m.payload.toString());
      return out;
    };
    expect(await exclusive.hasMessageAvailable()).toBe(true);
    expect(await readAll(inclusive)).toEqual(['r1', 'r2', 'r3']);
    expect(await readAll(exclusive)).toEqual(['r2', 'r3']);
    expect(await readAll(fromZero)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(await exclusive.hasMessageAvailable()).toBe(false);
    const started = Date.now();
    expect(await exclusive.readNext(40)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('readers never time an addon read, poll hasNext() sparingly, and see a message published while they wait', async () => {
    const reader = await bus.createReader({ topic: TOPIC, startMessageId: 'earliest' });
    broker.hasNextCalls = 0;
    expect(await reader.readNext(300)).toBeNull();
    // Polls at 0, 10, 30, 70, 150 and 300 ms (growing pauses), not a busy loop of synchronous calls.
    expect(broker.hasNextCalls).toBeLessThanOrEqual(8);
    const waiting = reader.readNext(2000);
    await sleep(50);
    await bus.publish(TOPIC, { payload: 'late' });
    expect((await waiting)?.payload.toString()).toBe('late');
    expect(await reader.hasMessageAvailable()).toBe(false);
  });

  it('a reader closed while it waits for a message ends the wait without a failing addon read', async () => {
    const reader = await bus.createReader({ topic: TOPIC, startMessageId: 'earliest' });
    const waiting = reader.readNext(2000);
    await sleep(20);
    await reader.close();
    expect(await waiting).toBeNull();
  });

  it('a close() while a consumer and a reader open rejects both with BusClosedError and closes them', async () => {
    const subscribing = bus.subscribe({ topic: TOPIC, subscription: 's', type: 'Shared' }, () => undefined);
    const reading = bus.createReader({ topic: TOPIC, startMessageId: 'earliest' });
    await bus.close();
    await expect(subscribing).rejects.toBeInstanceOf(BusClosedError);
    await expect(reading).rejects.toBeInstanceOf(BusClosedError);
    expect(broker.consumerConfigs).toHaveLength(1); // the consumer was made, then closed
    expect(broker.consumers.size).toBe(0);
  });

  it('a closed bus rejects with BusClosedError and closes its client', async () => {
    await bus.close();
    await expect(bus.publish(TOPIC, { payload: 'x' })).rejects.toBeInstanceOf(BusClosedError);
    await expect(
      bus.subscribe({ topic: TOPIC, subscription: 's', type: 'Shared' }, () => undefined),
    ).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.createReader({ topic: TOPIC, startMessageId: 'earliest' })).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.close()).resolves.toBeUndefined();
  });

  it('gives the client the token as AuthenticationToken, and the CA file of a pulsar+ssl:// URL as tlsTrustCertsFilePath', async () => {
    const [plain] = broker.clientConfigs;
    expect(plain.serviceUrl).toBe('pulsar://127.0.0.1:6650');
    expect(plain.authentication).toEqual({ params: { token: 'jwt' } });
    expect(plain.tlsTrustCertsFilePath).toBeUndefined();

    const tls = new PulsarNativeEventBus(
      { serviceUrl: 'pulsar+ssl://127.0.0.1:6651', token: 'jwt-2', tlsCaFile: '/etc/mesh/ca.crt' },
      broker.module(),
    );
    const anonymous = new PulsarNativeEventBus({ serviceUrl: 'pulsar://127.0.0.1:6650' }, broker.module());
    await Promise.all([tls.close(), anonymous.close()]);
    expect(broker.clientConfigs[1]).toEqual({
      serviceUrl: 'pulsar+ssl://127.0.0.1:6651',
      operationTimeoutSeconds: 30,
      authentication: { params: { token: 'jwt-2' } },
      tlsTrustCertsFilePath: '/etc/mesh/ca.crt',
    });
    expect(broker.clientConfigs[2].authentication).toBeUndefined();
  });
});
