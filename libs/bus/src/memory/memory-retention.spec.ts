import { DeadLetterProperties, defaultDeadLetterTopic, type EventBus } from '../event-bus';
import { Inbox, publishTexts, readOrFail, text, waitFor } from '../conformance/helpers';
import { MemoryBroker } from './memory-broker';

/**
 * What the memory broker keeps: every message a subscription has not acked or an open reader has
 * not read, plus the newest `retention` messages of each topic; everything else is dropped so an
 * embedded mesh does not grow with every message it ever carried.
 */
describe('MemoryBroker retention', () => {
  let broker: MemoryBroker;
  let clients: EventBus[];

  const connect = (): EventBus => {
    const client = broker.connect();
    clients.push(client);
    return client;
  };
  const useBroker = (retention?: number): void => {
    broker = new MemoryBroker(retention === undefined ? {} : { retention });
  };

  beforeEach(() => {
    clients = [];
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    broker.shutdown();
  });

  const ackAll = async (
    bus: EventBus,
    topic: string,
    subscription: string,
    box: Inbox,
    type: 'Shared' | 'Key_Shared',
  ): Promise<void> => {
    await bus.subscribe({ topic, subscription, type, initialPosition: 'earliest' }, box.listener(subscription));
  };

  it('holds at most `retention` messages (default 1,000) once every subscription has acked them', async () => {
    useBroker();
    const bus = connect();
    const topic = 'persistent://t/ns/bounded';
    const box = new Inbox();
    await ackAll(bus, topic, 'orchestrator', box, 'Key_Shared');
    await ackAll(bus, topic, 'workers', box, 'Shared');

    const published = 5000;
    for (let i = 0; i < published; i++) await bus.publish(topic, { payload: `m${i}`, key: `wf-${i % 7}` });
    await waitFor(
      () => box.count() === 2 * published,
      10_000,
      () => `${2 * published} deliveries, got ${box.count()}`,
    );
    await box.settled();

    expect(broker.backlog(topic, 'orchestrator')).toBe(0);
    expect(broker.backlog(topic, 'workers')).toBe(0);
    expect(broker.storedMessages(topic)).toBe(1000);
  });

  it('with retention Infinity keeps every message, as before', async () => {
    useBroker(Number.POSITIVE_INFINITY);
    const bus = connect();
    const topic = 'persistent://t/ns/forever';
    const box = new Inbox();
    await ackAll(bus, topic, 'sub', box, 'Shared');
    await publishTexts(
      bus,
      topic,
      Array.from({ length: 1500 }, (_, i) => `m${i}`),
    );
    await waitFor(() => box.count() === 1500, 10_000, 'every delivery');
    await box.settled();
    expect(broker.storedMessages(topic)).toBe(1500);
  });

  it('keeps what a subscription has not acked, with or without a consumer attached, and drops it once acked', async () => {
    useBroker(0);
    const bus = connect();
    const topic = 'persistent://t/ns/unacked';
    const box = new Inbox();
    const consumer = await bus.subscribe(
      { topic, subscription: 'slow', type: 'Exclusive' },
      box.listener('held', 'hold'),
    );
    await publishTexts(bus, topic, ['a', 'b', 'c', 'd']);
    await waitFor(
      () => box.count() === 4,
      5000,
      () => box.describe(),
    );
    expect(broker.storedMessages(topic)).toBe(4);

    await consumer.ack(box.find('a').message);
    await consumer.ack(box.find('c').message); // out of order: 'b' still holds it
    expect(broker.storedMessages(topic)).toBe(3);

    await consumer.close(); // a durable subscription keeps its backlog while nobody is attached
    expect(broker.storedMessages(topic)).toBe(3);
    const again = new Inbox();
    await bus.subscribe({ topic, subscription: 'slow', type: 'Exclusive' }, again.listener('again'));
    await waitFor(
      () => again.count() === 2,
      5000,
      () => again.describe(),
    );
    await again.settled();
    expect(again.texts()).toEqual(['b', 'd']);
    expect(broker.storedMessages(topic)).toBe(0);
  });

  it('keeps what an open reader has not read, until it reads it or closes', async () => {
    useBroker(0);
    const bus = connect();
    const topic = 'persistent://t/ns/reader';
    await bus.publish(topic, { payload: 'before the reader' });
    expect(broker.storedMessages(topic)).toBe(0); // no subscription, no reader, retention 0

    const reader = await bus.createReader({ topic, startMessageId: 'latest' });
    await publishTexts(bus, topic, ['r0', 'r1', 'r2']);
    expect(broker.storedMessages(topic)).toBe(3);
    expect(text(await readOrFail(reader, 1000))).toBe('r0');
    await bus.publish(topic, { payload: 'r3' }); // releases what the reader has read
    expect(broker.storedMessages(topic)).toBe(3);
    expect(text(await readOrFail(reader, 1000))).toBe('r1');

    await reader.close();
    expect(broker.storedMessages(topic)).toBe(0);
  });

  it('earliest starts at the oldest message kept; message ids never change; a dropped start id starts at the oldest kept', async () => {
    useBroker(3);
    const bus = connect();
    const topic = 'persistent://t/ns/window';
    const ids = await publishTexts(
      bus,
      topic,
      Array.from({ length: 10 }, (_, i) => `w${i}`),
    );
    expect(broker.storedMessages(topic)).toBe(3);

    const readAll = async (startMessageId: string, startMessageIdInclusive = false): Promise<string[]> => {
      const reader = await bus.createReader({ topic, startMessageId, startMessageIdInclusive });
      const seen: string[] = [];
      while (await reader.hasMessageAvailable()) {
        const message = await readOrFail(reader, 1000);
        expect(message.messageId).toBe(ids[Number(text(message).slice(1))]);
        seen.push(text(message));
      }
      await reader.close();
      return seen;
    };
    expect(await readAll('earliest')).toEqual(['w7', 'w8', 'w9']);
    expect(await readAll(ids[2])).toEqual(['w7', 'w8', 'w9']);
    expect(await readAll(ids[7], true)).toEqual(['w7', 'w8', 'w9']);
    expect(await readAll(ids[8])).toEqual(['w9']);

    const box = new Inbox();
    await bus.subscribe(
      { topic, subscription: 'late', type: 'Exclusive', initialPosition: 'earliest' },
      box.listener('late'),
    );
    await waitFor(
      () => box.count() === 3,
      5000,
      () => box.describe(),
    );
    expect(box.texts()).toEqual(['w7', 'w8', 'w9']);
    expect(broker.backlog(topic, 'late')).toBe(0);
  });

  it('with retention 0, nacks, redeliveries and dead letters work while acked messages around them are dropped', async () => {
    useBroker(0);
    const bus = connect();
    const topic = 'persistent://t/ns/redeliver';
    const dlq = defaultDeadLetterTopic(topic, 'flaky');
    const dead = await bus.createReader({ topic: dlq, startMessageId: 'latest' });
    const box = new Inbox();
    await bus.subscribe(
      { topic, subscription: 'flaky', type: 'Shared', nackRedeliveryDelayMs: 20, deadLetter: { maxRedeliverCount: 2 } },
      box.listener('flaky', async ({ message, consumer }) => {
        if (text(message) === 'poison') await consumer.nack(message, `cannot handle ${text(message)}`);
        else if (text(message) === 'retry' && message.redeliveryCount < 2) await consumer.nack(message, 'not yet');
        else await consumer.ack(message);
      }),
    );
    await publishTexts(bus, topic, ['ok0', 'poison', 'retry', 'ok1', 'ok2']);

    const letter = await readOrFail(dead, 5000);
    expect(text(letter)).toBe('poison');
    expect(letter.properties[DeadLetterProperties.reason]).toBe('cannot handle poison');
    await waitFor(
      () => box.texts().filter((t) => t === 'retry').length === 3,
      5000,
      () => box.describe(),
    );
    await box.settled();
    expect(
      box
        .of()
        .filter((d) => text(d.message) === 'retry')
        .map((d) => d.message.redeliveryCount),
    ).toEqual([0, 1, 2]);
    await waitFor(() => broker.backlog(topic, 'flaky') === 0, 5000, 'an empty backlog');
    expect(broker.storedMessages(topic)).toBe(0);
    await dead.close();
  });

  it('with retention 0, Key_Shared keeps each key in publish order across consumers and releases everything', async () => {
    useBroker(0);
    const [a, b, publisher] = [connect(), connect(), connect()];
    const topic = 'persistent://t/ns/keys';
    const box = new Inbox();
    // Acks come late and out of order, so the topic drops a prefix while later messages wait.
    const ackLater = (label: string) =>
      box.listener(label, ({ message, consumer }) => {
        setTimeout(() => void consumer.ack(message), Number(text(message).split('-')[1]) % 5);
      });
    await a.subscribe(
      { topic, subscription: 'ordered', type: 'Key_Shared', consumerName: 'a', receiverQueueSize: 10 },
      ackLater('a'),
    );
    await b.subscribe(
      { topic, subscription: 'ordered', type: 'Key_Shared', consumerName: 'b', receiverQueueSize: 10 },
      ackLater('b'),
    );
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    const payloads = Array.from({ length: 300 }, (_, i) => `${keys[i % keys.length]}-${i}`);
    await publishTexts(publisher, topic, payloads, (payload) => payload.split('-')[0]);

    await waitFor(
      () => box.count() === payloads.length && broker.backlog(topic, 'ordered') === 0,
      10_000,
      () => box.describe(),
    );
    for (const key of keys) {
      const ofKey = box.of().filter((d) => d.message.key === key);
      expect(new Set(ofKey.map((d) => d.label)).size).toBe(1);
      expect(ofKey.map((d) => text(d.message))).toEqual(payloads.filter((p) => p.startsWith(`${key}-`)));
    }
    expect(broker.storedMessages(topic)).toBe(0);
  });

  it('refuses a retention that is not a whole number of messages', () => {
    expect(() => new MemoryBroker({ retention: -1 })).toThrow(/retention/);
    expect(() => new MemoryBroker({ retention: 2.5 })).toThrow(/retention/);
    expect(() => new MemoryBroker({ retention: Number.NaN })).toThrow(/retention/);
    useBroker(); // for afterEach
  });
});
