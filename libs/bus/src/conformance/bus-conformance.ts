/**
 * The EventBus conformance suite: one set of Jest cases every driver must pass unchanged.
 *
 * Cases only use the port (no in-process tricks), so they run against a real broker too. Waits
 * are generous polls (`waitFor`) that finish as soon as the expected state is reached; timing
 * checks are lower bounds only ("not delivered before the delay"); "nothing else arrives" is
 * checked by watching for a quiet period. Every wait is multiplied by `timeScale`.
 *
 * Running against Pulsar: delayed-delivery lower bounds need the broker to honour deliverAt
 * strictly (`isDelayedDeliveryDeliverAtTimeStrict=true`; by default Pulsar may deliver up to
 * `delayedDeliveryTickTimeMillis` early).
 */
import {
  BusClosedError,
  ConsumerBusyError,
  DeadLetterProperties,
  defaultDeadLetterTopic,
  type BusMessage,
  type EventBus,
  type Reader,
  type SubscribeOptions,
  type SubscriptionType,
} from '../event-bus';
import { Inbox, publishTexts, readOrFail, sleep, text, waitFor, type Delivery } from './helpers';

export interface ConformanceTarget {
  /** Driver name shown in test titles. */
  readonly name: string;
  /** A new client connected to the same broker (each call = a separate "process"). */
  connect(): Promise<EventBus>;
  /** A fully qualified topic name unique to this test run, e.g. persistent://t/ns/<prefix>-<name>-<random>. */
  topic(name: string): string;
  /** Multiplier for waits on slower (networked) drivers; 1 for memory. */
  readonly timeScale?: number;
}

/** Timer granularity allowed below a lower bound (Node timers may fire a millisecond early). */
const EARLY_MS = 25;

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const sorted = (values: readonly string[]): string[] => [...values].sort();
const bytesOf = (message: BusMessage): number[] => [...message.payload];

export function describeBusConformance(target: ConformanceTarget): void {
  const scale = target.timeScale ?? 1;
  const ms = (n: number): number => Math.round(n * scale);
  /** Upper bound for something that must happen. */
  const WAIT = ms(5000);
  /** How long to watch for something that must not happen. */
  const QUIET = ms(300);
  const CASE_TIMEOUT = ms(20_000) + 10_000;

  describe(`EventBus conformance: ${target.name}`, () => {
    let clients: EventBus[] = [];
    let inboxes: Inbox[] = [];

    const connect = async (): Promise<EventBus> => {
      const bus = await target.connect();
      clients.push(bus);
      return bus;
    };
    const inbox = (): Inbox => {
      const box = new Inbox();
      inboxes.push(box);
      return box;
    };

    beforeEach(() => {
      clients = [];
      inboxes = [];
    });

    afterEach(async () => {
      const errors = inboxes.flatMap((box) => box.errors);
      await Promise.allSettled(clients.map((bus) => bus.close()));
      if (errors.length > 0) {
        throw new Error(`ack/nack/deadLetter calls made by listeners failed: ${errors.map(String).join('; ')}`);
      }
    });

    const test = (title: string, fn: () => Promise<void>): void => it(title, fn, CASE_TIMEOUT);

    describe('publish and subscribe', () => {
      test('delivers payload bytes, key, properties, eventTime, publishTime and the messageId publish resolved to', async () => {
        const bus = await connect();
        expect(typeof bus.driver).toBe('string');
        expect(bus.driver.length).toBeGreaterThan(0);
        const topic = target.topic('roundtrip');
        const box = inbox();
        const consumer = await bus.subscribe({ topic, subscription: 'sub', type: 'Exclusive' }, box.listener('c'));
        expect(consumer.topic).toBe(topic);
        expect(consumer.subscription).toBe('sub');

        const bytes = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xc8, 0xff, 0x0a, 0x0d, 0xfe]);
        const properties = { 'content-type': 'application/octet-stream', 'x-trace-id': 'abc-123' };
        const eventTime = 1_700_000_000_123;
        const before = Date.now();
        const firstId = await bus.publish(topic, { payload: bytes, key: 'order-42', properties, eventTime });
        const secondId = await bus.publish(topic, { payload: 'héllo ✓' });
        expect(typeof firstId).toBe('string');
        expect(secondId).not.toBe(firstId);

        await waitFor(
          () => box.count() >= 2,
          WAIT,
          () => `2 deliveries, ${box.describe()}`,
        );
        const [first, second] = box.deliveries.map((d) => d.message);

        expect(first.topic).toBe(topic);
        expect(first.messageId).toBe(firstId);
        expect(Buffer.isBuffer(first.payload)).toBe(true);
        expect(bytesOf(first)).toEqual([...bytes]);
        expect(first.key).toBe('order-42');
        expect(first.properties).toEqual(properties);
        expect(first.eventTime).toBe(eventTime);
        expect(first.redeliveryCount).toBe(0);
        expect(Number.isFinite(first.publishTime)).toBe(true);
        // Broker clock: only a sanity window, not a timing assertion.
        expect(Math.abs(first.publishTime - before)).toBeLessThan(60_000);

        expect(second.messageId).toBe(secondId);
        expect(Buffer.isBuffer(second.payload)).toBe(true);
        expect(second.payload.toString('utf8')).toBe('héllo ✓');
        expect(second.key).toBeUndefined();
        expect(second.properties).toEqual({});
        expect(second.eventTime).toBeUndefined();
        expect(second.redeliveryCount).toBe(0);
        expect(second.publishTime).toBeGreaterThanOrEqual(first.publishTime);
      });

      test('gives every message to each of several independent subscriptions', async () => {
        const [busA, busB, publisher] = [await connect(), await connect(), await connect()];
        const topic = target.topic('fanout');
        const box = inbox();
        const types: SubscriptionType[] = ['Exclusive', 'Failover', 'Shared', 'Key_Shared'];
        for (const [i, type] of types.entries()) {
          const bus = i % 2 === 0 ? busA : busB;
          await bus.subscribe({ topic, subscription: `sub-${type}`, type }, box.listener(type));
        }
        const payloads = range('f', 5);
        await publishTexts(publisher, topic, payloads, (_, i) => `key-${i % 2}`);

        await waitFor(
          () => types.every((type) => box.count(type) >= payloads.length),
          WAIT,
          () => `5 deliveries on each subscription, ${box.describe()}`,
        );
        await sleep(QUIET);
        for (const type of types) {
          expect({ type, payloads: sorted(box.texts(type)) }).toEqual({ type, payloads });
        }
        expect(box.texts('Exclusive')).toEqual(payloads);
        expect(box.texts('Failover')).toEqual(payloads);
      });
    });

    describe('subscription types', () => {
      test('Exclusive rejects a second consumer with ConsumerBusyError and accepts one after the first closes', async () => {
        const [busA, busB] = [await connect(), await connect()];
        const topic = target.topic('exclusive');
        const options: SubscribeOptions = { topic, subscription: 'sub', type: 'Exclusive' };
        const box = inbox();
        const first = await busA.subscribe(options, box.listener('first'));

        await expect(busA.subscribe(options, box.listener('same-client'))).rejects.toBeInstanceOf(ConsumerBusyError);
        await expect(busB.subscribe(options, box.listener('other-client'))).rejects.toBeInstanceOf(ConsumerBusyError);

        await busB.publish(topic, { payload: 'x' });
        await waitFor(
          () => box.count('first') >= 1,
          WAIT,
          () => `"x" on the first consumer, ${box.describe()}`,
        );
        await box.settled();
        await sleep(QUIET);
        expect(box.labels()).toEqual(['first']);

        await first.close();
        await busB.subscribe(options, box.listener('after-close'));
        await busA.publish(topic, { payload: 'y' });
        await waitFor(
          () => box.count('after-close') >= 1,
          WAIT,
          () => `"y" after close, ${box.describe()}`,
        );
        await sleep(QUIET);
        expect(box.texts('after-close')).toEqual(['y']);
      });

      test('Failover delivers to one consumer only and fails over, unacked messages included, when it closes', async () => {
        const [busA, busB] = [await connect(), await connect()];
        const topic = target.topic('failover');
        const box = inbox();
        const base = { topic, subscription: 'sub', type: 'Failover' as const };
        const consumers = {
          a: await busA.subscribe({ ...base, consumerName: 'a' }, box.listener('a', 'hold')),
          b: await busB.subscribe({ ...base, consumerName: 'b' }, box.listener('b', 'hold')),
        };
        const payloads = range('m', 5);
        await publishTexts(busA, topic, payloads);
        await waitFor(
          () => box.count() >= 5,
          WAIT,
          () => `5 deliveries, ${box.describe()}`,
        );
        await sleep(QUIET);

        expect(box.labels()).toHaveLength(1);
        const active = box.labels()[0] === 'a' ? 'a' : 'b';
        const standby = active === 'a' ? 'b' : 'a';
        expect(box.texts(active)).toEqual(payloads);

        for (const d of box.of(active).slice(0, 2)) await d.consumer.ack(d.message);
        await consumers[active].close();
        await waitFor(
          () => box.count(standby) >= 3,
          WAIT,
          () => `3 unacked messages on ${standby}, ${box.describe()}`,
        );
        await publishTexts(busB, topic, ['m5', 'm6']);
        await waitFor(
          () => box.count(standby) >= 5,
          WAIT,
          () => `5 messages on ${standby}, ${box.describe()}`,
        );
        await sleep(QUIET);

        expect(box.texts(standby)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
        expect(box.count(active)).toBe(5);
      });

      test('Shared spreads messages over consumers and delivers each once', async () => {
        const [busA, busB, publisher] = [await connect(), await connect(), await connect()];
        const topic = target.topic('shared');
        const box = inbox();
        // Small queues and slow acks, so that one consumer cannot take everything.
        const slowAck = (d: Delivery): Promise<void> => sleep(ms(20)).then(() => d.consumer.ack(d.message));
        const options: SubscribeOptions = { topic, subscription: 'sub', type: 'Shared', receiverQueueSize: 2 };
        await busA.subscribe(options, box.listener('a', slowAck));
        await busB.subscribe(options, box.listener('b', slowAck));
        const payloads = range('s', 20);
        await publishTexts(publisher, topic, payloads);

        await waitFor(
          () => box.count() >= payloads.length,
          WAIT,
          () => `20 deliveries, ${box.describe()}`,
        );
        await box.settled();
        await sleep(QUIET);
        expect(box.count()).toBe(payloads.length);
        expect(sorted(box.texts())).toEqual(sorted(payloads));
        expect(box.deliveries.map((d) => d.message.redeliveryCount)).toEqual(payloads.map(() => 0));
        expect(box.count('a')).toBeGreaterThan(0);
        expect(box.count('b')).toBeGreaterThan(0);
      });

      test('Key_Shared sends all messages of a key to the same consumer, in publish order, spreading keys over consumers', async () => {
        const [busA, busB, publisher] = [await connect(), await connect(), await connect()];
        const topic = target.topic('key-shared');
        const box = inbox();
        const options: SubscribeOptions = { topic, subscription: 'sub', type: 'Key_Shared' };
        await busA.subscribe(options, box.listener('a'));
        await busB.subscribe(options, box.listener('b'));
        const keys = Array.from({ length: 16 }, (_, i) => `key-${String(i).padStart(2, '0')}`);
        const rounds = 3;
        for (let round = 0; round < rounds; round++) {
          for (const key of keys) await publisher.publish(topic, { payload: `${key}:${round}`, key });
        }
        const total = keys.length * rounds;

        await waitFor(
          () => box.count() >= total,
          WAIT,
          () => `${total} deliveries, ${box.describe()}`,
        );
        await box.settled();
        await sleep(QUIET);
        expect(box.count()).toBe(total);
        expect(new Set(box.texts()).size).toBe(total);
        const used = new Set<string>();
        for (const key of keys) {
          const ofKey = box.deliveries.filter((d) => d.message.key === key);
          const consumers = [...new Set(ofKey.map((d) => d.label))];
          consumers.forEach((label) => used.add(label));
          expect({ key, consumers: consumers.length }).toEqual({ key, consumers: 1 });
          expect({ key, order: ofKey.map((d) => text(d.message)) }).toEqual({
            key,
            order: Array.from({ length: rounds }, (_, round) => `${key}:${round}`),
          });
        }
        expect([...used].sort()).toEqual(['a', 'b']);
      });
    });

    describe('acknowledgement', () => {
      test('acked messages are not redelivered after the consumer closes; unacked ones are', async () => {
        const [busA, busB] = [await connect(), await connect()];
        const topic = target.topic('ack');
        const options: SubscribeOptions = { topic, subscription: 'sub', type: 'Exclusive' };
        const box = inbox();
        const first = await busA.subscribe(
          options,
          box.listener('first', (d) => (text(d.message) === 'b' ? undefined : d.consumer.ack(d.message))),
        );
        await publishTexts(busB, topic, ['a', 'b', 'c']);
        await waitFor(
          () => box.count('first') >= 3,
          WAIT,
          () => `3 deliveries, ${box.describe()}`,
        );
        await box.settled();
        await first.close();

        await busB.publish(topic, { payload: 'sentinel' });
        await busB.subscribe(options, box.listener('second'));
        await waitFor(
          () => box.texts('second').includes('sentinel'),
          WAIT,
          () => `"sentinel", ${box.describe()}`,
        );
        await sleep(QUIET);
        expect(box.texts('second')).toEqual(['b', 'sentinel']);
      });

      // Failover too: the broker counts redeliveries on Shared and Key_Shared only, the drivers count the rest.
      for (const type of ['Shared', 'Failover'] as const) {
        test(`nack redelivers after nackRedeliveryDelayMs with redeliveryCount incremented (${type})`, async () => {
          const bus = await connect();
          const topic = target.topic(`nack-${type.toLowerCase()}`);
          const delay = ms(200);
          const box = inbox();
          await bus.subscribe(
            { topic, subscription: 'sub', type, nackRedeliveryDelayMs: delay },
            box.listener('c', (d) =>
              d.message.redeliveryCount < 2 ? d.consumer.nack(d.message, 'try again') : d.consumer.ack(d.message),
            ),
          );
          const id = await bus.publish(topic, { payload: 'n', key: 'nk', properties: { p: '1' } });

          await waitFor(
            () => box.count() >= 3,
            WAIT + 2 * delay,
            () => `3 deliveries, ${box.describe()}`,
          );
          await sleep(Math.max(QUIET, 2 * delay));
          const deliveries = box.of();
          expect(deliveries.map((d) => d.message.redeliveryCount)).toEqual([0, 1, 2]);
          for (const d of deliveries) {
            expect(d.message.messageId).toBe(id);
            expect(text(d.message)).toBe('n');
            expect(d.message.key).toBe('nk');
            expect(d.message.properties).toEqual({ p: '1' });
          }
          for (let i = 1; i < deliveries.length; i++) {
            expect(deliveries[i].receivedAt - deliveries[i - 1].receivedAt).toBeGreaterThanOrEqual(delay - EARLY_MS);
          }
        });
      }

      test('ack timeout redelivers an unacked message with redeliveryCount incremented', async () => {
        const bus = await connect();
        const topic = target.topic('ack-timeout');
        const timeout = ms(300);
        const box = inbox();
        await bus.subscribe(
          { topic, subscription: 'sub', type: 'Shared', ackTimeoutMs: timeout },
          box.listener('c', (d) => (d.message.redeliveryCount === 0 ? undefined : d.consumer.ack(d.message))),
        );
        const id = await bus.publish(topic, { payload: 't', key: 'tk' });

        await waitFor(
          () => box.count() >= 2,
          WAIT + timeout,
          () => `2 deliveries, ${box.describe()}`,
        );
        await sleep(Math.max(QUIET, 2 * timeout));
        const deliveries = box.of();
        expect(deliveries.map((d) => d.message.redeliveryCount)).toEqual([0, 1]);
        expect(deliveries.map((d) => d.message.messageId)).toEqual([id, id]);
        expect(deliveries.map((d) => text(d.message))).toEqual(['t', 't']);
        expect(deliveries[1].message.key).toBe('tk');
        expect(deliveries[1].receivedAt - deliveries[0].receivedAt).toBeGreaterThanOrEqual(timeout - EARLY_MS);
      });
    });

    describe('dead letters', () => {
      const watch = async (bus: EventBus, topic: string, box: Inbox, label: string): Promise<void> => {
        await bus.subscribe(
          { topic, subscription: 'dlq-watch', type: 'Shared', initialPosition: 'earliest' },
          box.listener(label),
        );
      };

      test('after maxRedeliverCount a message goes to <topic>-<sub>-DLQ with the last nack reason and its origin', async () => {
        const [bus, watcher] = [await connect(), await connect()];
        const topic = target.topic('dlq');
        const dlqTopic = defaultDeadLetterTopic(topic, 'sub');
        const nackDelay = ms(150);
        const box = inbox();
        const dead = inbox();
        await watch(watcher, dlqTopic, dead, 'dlq');
        await bus.subscribe(
          {
            topic,
            subscription: 'sub',
            type: 'Shared',
            nackRedeliveryDelayMs: nackDelay,
            deadLetter: { maxRedeliverCount: 2 },
          },
          box.listener('c', (d) => d.consumer.nack(d.message, `failed on delivery ${d.message.redeliveryCount}`)),
        );
        const bytes = Buffer.from([0x01, 0x02, 0x03, 0xfa]);
        const id = await bus.publish(topic, { payload: bytes, key: 'dk', properties: { origin: 'test' } });

        await waitFor(
          () => dead.count() >= 1,
          WAIT + 3 * nackDelay,
          () => `a dead letter; ${box.describe()}`,
        );
        await sleep(Math.max(QUIET, 3 * nackDelay));
        expect(box.of().map((d) => d.message.redeliveryCount)).toEqual([0, 1, 2]);
        expect(dead.count()).toBe(1);
        const letter = dead.of()[0].message;
        expect(letter.topic).toBe(dlqTopic);
        expect(bytesOf(letter)).toEqual([...bytes]);
        expect(letter.key).toBe('dk');
        expect(letter.properties).toMatchObject({
          origin: 'test',
          [DeadLetterProperties.reason]: 'failed on delivery 2',
          [DeadLetterProperties.originTopic]: topic,
          [DeadLetterProperties.originMessageId]: id,
          [DeadLetterProperties.subscription]: 'sub',
          [DeadLetterProperties.pulsarRealTopic]: topic,
        });
        expect(letter.properties[DeadLetterProperties.pulsarOriginMessageId]).toEqual(expect.stringMatching(/.+/));
        expect(Number(letter.properties[DeadLetterProperties.redeliveryCount])).toBeGreaterThanOrEqual(2);
      });

      test('deadLetterTopic overrides the default dead-letter topic (maxRedeliverCount 0: one delivery only)', async () => {
        const [bus, watcher] = [await connect(), await connect()];
        const topic = target.topic('dlq-custom');
        const customTopic = target.topic('dlq-custom-target');
        const nackDelay = ms(100);
        const box = inbox();
        const dead = inbox();
        await watch(watcher, customTopic, dead, 'custom');
        await watch(watcher, defaultDeadLetterTopic(topic, 'sub'), dead, 'default');
        await bus.subscribe(
          {
            topic,
            subscription: 'sub',
            type: 'Shared',
            nackRedeliveryDelayMs: nackDelay,
            deadLetter: { maxRedeliverCount: 0, deadLetterTopic: customTopic },
          },
          box.listener('c', (d) => d.consumer.nack(d.message, 'bad input')),
        );
        const id = await bus.publish(topic, { payload: 'poison', key: 'pk' });

        await waitFor(
          () => dead.count('custom') >= 1,
          WAIT + nackDelay,
          () => `a dead letter; ${dead.describe()}`,
        );
        await sleep(Math.max(QUIET, 3 * nackDelay));
        expect(box.of().map((d) => d.message.redeliveryCount)).toEqual([0]);
        expect(dead.texts('custom')).toEqual(['poison']);
        expect(dead.count('default')).toBe(0);
        const letter = dead.of('custom')[0].message;
        expect(letter.topic).toBe(customTopic);
        expect(letter.key).toBe('pk');
        expect(letter.properties).toMatchObject({
          [DeadLetterProperties.reason]: 'bad input',
          [DeadLetterProperties.originTopic]: topic,
          [DeadLetterProperties.originMessageId]: id,
        });
      });

      test('ack timeouts count as failed deliveries towards maxRedeliverCount', async () => {
        const [bus, watcher] = [await connect(), await connect()];
        const topic = target.topic('dlq-timeout');
        const timeout = ms(300);
        const box = inbox();
        const dead = inbox();
        await watch(watcher, defaultDeadLetterTopic(topic, 'sub'), dead, 'dlq');
        await bus.subscribe(
          { topic, subscription: 'sub', type: 'Shared', ackTimeoutMs: timeout, deadLetter: { maxRedeliverCount: 1 } },
          box.listener('c', 'hold'),
        );
        const id = await bus.publish(topic, { payload: 'slow', key: 'sk' });

        await waitFor(
          () => dead.count() >= 1,
          WAIT + 2 * timeout,
          () => `a dead letter; ${box.describe()}`,
        );
        await sleep(Math.max(QUIET, 2 * timeout));
        expect(box.of().map((d) => d.message.redeliveryCount)).toEqual([0, 1]);
        expect(dead.texts()).toEqual(['slow']);
        const letter = dead.of()[0].message;
        expect(letter.key).toBe('sk');
        expect(letter.properties).toMatchObject({
          [DeadLetterProperties.originTopic]: topic,
          [DeadLetterProperties.originMessageId]: id,
        });
      });

      test('consumer.deadLetter(message, reason) sends it to the dead-letter topic at once and acks it', async () => {
        const [busA, busB, watcher] = [await connect(), await connect(), await connect()];
        const topic = target.topic('dead-letter-now');
        const options: SubscribeOptions = { topic, subscription: 'sub', type: 'Shared' };
        const box = inbox();
        const dead = inbox();
        await watch(watcher, defaultDeadLetterTopic(topic, 'sub'), dead, 'dlq');
        const first = await busA.subscribe(
          options,
          box.listener('first', (d) => d.consumer.deadLetter(d.message, 'unparseable')),
        );
        const id = await busB.publish(topic, { payload: '{not json', key: 'bk', properties: { kind: 'raw' } });

        await waitFor(
          () => dead.count() >= 1,
          WAIT,
          () => `a dead letter; ${box.describe()}`,
        );
        await box.settled();
        await sleep(QUIET);
        expect(box.texts('first')).toEqual(['{not json']);
        expect(dead.count()).toBe(1);
        const letter = dead.of()[0].message;
        expect(text(letter)).toBe('{not json');
        expect(letter.key).toBe('bk');
        expect(letter.properties).toMatchObject({
          kind: 'raw',
          [DeadLetterProperties.reason]: 'unparseable',
          [DeadLetterProperties.originTopic]: topic,
          [DeadLetterProperties.originMessageId]: id,
          [DeadLetterProperties.subscription]: 'sub',
        });

        // It was acked: a new consumer on the subscription does not get it back.
        await first.close();
        await busB.subscribe(options, box.listener('second'));
        await busB.publish(topic, { payload: 'sentinel' });
        await waitFor(
          () => box.count('second') >= 1,
          WAIT,
          () => `"sentinel", ${box.describe()}`,
        );
        await sleep(QUIET);
        expect(box.texts('second')).toEqual(['sentinel']);
      });
    });

    describe('delayed delivery', () => {
      for (const type of ['Shared', 'Key_Shared'] as const) {
        test(`deliverAfterMs holds a message back on ${type} without holding back later ones`, async () => {
          const bus = await connect();
          const topic = target.topic(`delay-after-${type}`);
          const delay = ms(600);
          const box = inbox();
          await bus.subscribe({ topic, subscription: 'sub', type }, box.listener('c'));
          const start = Date.now();
          await bus.publish(topic, { payload: 'later', key: 'k1', deliverAfterMs: delay });
          await bus.publish(topic, { payload: 'now', key: 'k2' });

          await waitFor(
            () => box.count() >= 2,
            WAIT + delay,
            () => `2 deliveries, ${box.describe()}`,
          );
          expect(box.texts()).toEqual(['now', 'later']);
          const later = box.find('later');
          expect(later.receivedAt - start).toBeGreaterThanOrEqual(delay - EARLY_MS);
          expect(later.message.redeliveryCount).toBe(0);
        });
      }

      test('deliverAt holds a message back until that time on Shared', async () => {
        const bus = await connect();
        const topic = target.topic('delay-at');
        const box = inbox();
        await bus.subscribe({ topic, subscription: 'sub', type: 'Shared' }, box.listener('c'));
        const deliverAt = Date.now() + ms(600);
        await bus.publish(topic, { payload: 'later', deliverAt });
        await bus.publish(topic, { payload: 'now' });

        await waitFor(
          () => box.count() >= 2,
          WAIT + ms(600),
          () => `2 deliveries, ${box.describe()}`,
        );
        expect(box.texts()).toEqual(['now', 'later']);
        expect(box.find('later').receivedAt).toBeGreaterThanOrEqual(deliverAt - EARLY_MS);
      });

      for (const type of ['Exclusive', 'Failover'] as const) {
        test(`${type} subscriptions ignore deliverAfterMs and deliverAt (as in Pulsar)`, async () => {
          const bus = await connect();
          const topic = target.topic(`no-delay-${type}`);
          const box = inbox();
          await bus.subscribe({ topic, subscription: 'sub', type }, box.listener('c'));
          await bus.publish(topic, { payload: 'after', deliverAfterMs: 60_000 });
          await bus.publish(topic, { payload: 'at', deliverAt: Date.now() + 60_000 });
          await waitFor(
            () => box.count() >= 2,
            WAIT,
            () => `both messages without delay, ${box.describe()}`,
          );
          expect(box.texts()).toEqual(['after', 'at']);
        });
      }
    });

    describe('positions and readers', () => {
      test('a new subscription starts at latest by default, or at earliest when asked', async () => {
        const [bus, publisher] = [await connect(), await connect()];
        const topic = target.topic('initial-position');
        const box = inbox();
        await publisher.publish(topic, { payload: 'before' });
        await bus.subscribe(
          { topic, subscription: 'from-earliest', type: 'Exclusive', initialPosition: 'earliest' },
          box.listener('earliest'),
        );
        await bus.subscribe(
          { topic, subscription: 'from-latest', type: 'Exclusive', initialPosition: 'latest' },
          box.listener('latest'),
        );
        await bus.subscribe({ topic, subscription: 'by-default', type: 'Exclusive' }, box.listener('default'));
        await publisher.publish(topic, { payload: 'after' });

        await waitFor(
          () => box.count('earliest') >= 2 && box.count('latest') >= 1 && box.count('default') >= 1,
          WAIT,
          () => box.describe(),
        );
        await sleep(QUIET);
        expect(box.texts('earliest')).toEqual(['before', 'after']);
        expect(box.texts('latest')).toEqual(['after']);
        expect(box.texts('default')).toEqual(['after']);
      });

      test('a reader from earliest reads every message in order; hasMessageAvailable and readNext(timeout) → null', async () => {
        const [bus, publisher] = [await connect(), await connect()];
        const topic = target.topic('reader-earliest');
        const payloads = range('r', 3);
        const ids = await publishTexts(publisher, topic, payloads, () => 'rk');
        const reader = await bus.createReader({ topic, startMessageId: 'earliest' });
        expect(reader.topic).toBe(topic);
        expect(await reader.hasMessageAvailable()).toBe(true);

        const read: BusMessage[] = [];
        for (let i = 0; i < payloads.length; i++) read.push(await readOrFail(reader, WAIT));
        expect(read.map(text)).toEqual(payloads);
        expect(read.map((m) => m.messageId)).toEqual(ids);
        expect(read.map((m) => m.key)).toEqual(['rk', 'rk', 'rk']);
        expect(read.map((m) => m.topic)).toEqual([topic, topic, topic]);

        expect(await reader.hasMessageAvailable()).toBe(false);
        const timeout = ms(200);
        const start = Date.now();
        expect(await reader.readNext(timeout)).toBeNull();
        expect(Date.now() - start).toBeGreaterThanOrEqual(timeout - EARLY_MS);

        await publisher.publish(topic, { payload: 'r3' });
        await waitFor(() => reader.hasMessageAvailable(), WAIT, 'hasMessageAvailable() after a publish');
        expect(text(await readOrFail(reader, WAIT))).toBe('r3');
        await reader.close();
      });

      test('a reader from latest sees only messages published after it was created', async () => {
        const [bus, publisher] = [await connect(), await connect()];
        const topic = target.topic('reader-latest');
        await publishTexts(publisher, topic, ['old0', 'old1']);
        const reader = await bus.createReader({ topic, startMessageId: 'latest' });
        expect(await reader.hasMessageAvailable()).toBe(false);
        expect(await reader.readNext(ms(200))).toBeNull();

        await publisher.publish(topic, { payload: 'new' });
        expect(text(await readOrFail(reader, WAIT))).toBe('new');
        expect(await reader.readNext(ms(200))).toBeNull();
      });

      test('closing a reader ends a readNext under way: it gives null (a reader can follow a topic and still stop)', async () => {
        const bus = await connect();
        const topic = target.topic('reader-close');
        const reader = await bus.createReader({ topic, startMessageId: 'latest' });
        const pending = reader.readNext(ms(600_000));
        await sleep(QUIET);
        await reader.close();
        expect(await pending).toBeNull();
      });

      test('a reader from a message id starts after it, or at it with startMessageIdInclusive', async () => {
        const bus = await connect();
        const topic = target.topic('reader-id');
        const payloads = range('r', 4);
        const ids = await publishTexts(bus, topic, payloads);

        const exclusive = await bus.createReader({ topic, startMessageId: ids[1] });
        const inclusive = await bus.createReader({ topic, startMessageId: ids[1], startMessageIdInclusive: true });
        const readAll = async (reader: Reader): Promise<string[]> => {
          const texts: string[] = [];
          for (let m = await reader.readNext(ms(300)); m !== null; m = await reader.readNext(ms(300)))
            texts.push(text(m));
          return texts;
        };
        expect(await readAll(exclusive)).toEqual(['r2', 'r3']);
        expect(await readAll(inclusive)).toEqual(['r1', 'r2', 'r3']);
      });
    });

    describe('flow control and failures', () => {
      test('receiverQueueSize bounds the unacked messages in flight on a consumer', async () => {
        const [bus, publisher] = [await connect(), await connect()];
        const topic = target.topic('receiver-queue');
        const box = inbox();
        const held: Delivery[] = [];
        let acked = 0;
        let maxInFlight = 0;
        let ackAll = false;
        const ack = (d: Delivery): Promise<void> => {
          acked++;
          return d.consumer.ack(d.message);
        };
        await bus.subscribe(
          { topic, subscription: 'sub', type: 'Shared', receiverQueueSize: 3 },
          box.listener('c', (d) => {
            maxInFlight = Math.max(maxInFlight, box.count() - acked);
            if (ackAll) return ack(d);
            held.push(d);
            return undefined;
          }),
        );
        const payloads = range('q', 10);
        await publishTexts(publisher, topic, payloads);

        await waitFor(
          () => box.count() >= 3,
          WAIT,
          () => `3 deliveries, ${box.describe()}`,
        );
        await sleep(QUIET);
        expect(box.count()).toBe(3);

        const first = held.shift();
        if (first) await ack(first);
        await waitFor(
          () => box.count() >= 4,
          WAIT,
          () => `a 4th delivery after one ack, ${box.describe()}`,
        );
        await sleep(QUIET);
        expect(box.count()).toBe(4);

        ackAll = true;
        for (const d of held.splice(0)) await ack(d);
        await waitFor(
          () => box.count() >= payloads.length,
          WAIT,
          () => `10 deliveries, ${box.describe()}`,
        );
        await box.settled();
        await sleep(QUIET);
        expect(box.count()).toBe(payloads.length);
        expect(sorted(box.texts())).toEqual(sorted(payloads));
        expect(maxInFlight).toBeLessThanOrEqual(3);
      });

      for (const how of ['consumer.close()', 'closing its client'] as const) {
        test(`unacked messages of a Shared consumer go to another consumer on ${how} (worker killed mid-task)`, async () => {
          const [busA, busB, publisher] = [await connect(), await connect(), await connect()];
          const topic = target.topic('worker-killed');
          const options: SubscribeOptions = { topic, subscription: 'workers', type: 'Shared' };
          const box = inbox();
          const worker = await busA.subscribe(options, box.listener('a', 'hold'));
          await publishTexts(publisher, topic, ['t0', 't1', 't2']);
          await waitFor(
            () => box.count('a') >= 3,
            WAIT,
            () => `3 tasks on worker a, ${box.describe()}`,
          );
          const [done, ...inFlight] = box.of('a');
          await done.consumer.ack(done.message);

          await busB.subscribe(options, box.listener('b'));
          await sleep(QUIET);
          expect(box.count('b')).toBe(0);

          if (how === 'consumer.close()') await worker.close();
          else await busA.close();
          await waitFor(
            () => box.count('b') >= 2,
            WAIT,
            () => `2 tasks on worker b, ${box.describe()}`,
          );
          await sleep(QUIET);
          expect(sorted(box.texts('b'))).toEqual(sorted(inFlight.map((d) => text(d.message))));
          expect(box.count('a')).toBe(3);
        });
      }

      test('subscribing again with the same name resumes the durable subscription and its backlog', async () => {
        const [busA, busB, publisher] = [await connect(), await connect(), await connect()];
        const topic = target.topic('durable');
        const options: SubscribeOptions = { topic, subscription: 'durable', type: 'Shared' };
        const box = inbox();
        const first = await busA.subscribe(options, box.listener('first'));
        await publisher.publish(topic, { payload: 'd0' });
        await waitFor(
          () => box.count('first') >= 1,
          WAIT,
          () => `"d0", ${box.describe()}`,
        );
        await box.settled();
        await first.close();

        await publishTexts(publisher, topic, ['d1', 'd2']);
        // initialPosition (default latest) only applies to new subscriptions.
        await busB.subscribe(options, box.listener('second'));
        await waitFor(
          () => box.count('second') >= 2,
          WAIT,
          () => `the backlog, ${box.describe()}`,
        );
        await sleep(QUIET);
        expect(sorted(box.texts('second'))).toEqual(['d1', 'd2']);
      });
    });

    describe('client lifecycle', () => {
      test('a closed client rejects publish, subscribe and createReader with BusClosedError and stops delivering', async () => {
        const [bus, other] = [await connect(), await connect()];
        const topic = target.topic('closed');
        const box = inbox();
        await bus.subscribe({ topic, subscription: 'sub', type: 'Shared' }, box.listener('closed'));
        await bus.close();

        await expect(bus.publish(topic, { payload: 'x' })).rejects.toBeInstanceOf(BusClosedError);
        await expect(
          bus.subscribe({ topic, subscription: 'other', type: 'Shared' }, box.listener('late')),
        ).rejects.toBeInstanceOf(BusClosedError);
        await expect(bus.createReader({ topic, startMessageId: 'earliest' })).rejects.toBeInstanceOf(BusClosedError);
        await expect(bus.close()).resolves.toBeUndefined();

        await other.publish(topic, { payload: 'after-close' });
        await sleep(QUIET);
        expect(box.count()).toBe(0);
      });

      test('a close() while a consumer and a reader are opening leaves neither of them working', async () => {
        const [bus, other] = [await connect(), await connect()];
        const topic = target.topic('close-during-open');
        const box = inbox();
        const subscribing = bus.subscribe(
          { topic, subscription: 'sub', type: 'Shared', initialPosition: 'earliest' },
          box.listener('opened'),
        );
        const reading = bus.createReader({ topic, startMessageId: 'earliest' });
        await bus.close();
        const [consumer, reader] = await Promise.allSettled([subscribing, reading]);

        // Either the open fails with BusClosedError, or it finished before close() and close() closed it.
        for (const outcome of [consumer, reader]) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(BusClosedError);
        }
        if (reader.status === 'fulfilled')
          await expect(reader.value.readNext(ms(100))).rejects.toBeInstanceOf(BusClosedError);
        await other.publish(topic, { payload: 'after-close' });
        await sleep(QUIET);
        expect(box.count()).toBe(0);
      });

      test('connection status: connected while open, disconnected once closed, and listeners hear the change', async () => {
        const bus = await connect();
        const topic = target.topic('status');
        await bus.subscribe({ topic, subscription: 'sub', type: 'Shared' }, inbox().listener('status'));
        await bus.publish(topic, { payload: 'x' });
        expect(bus.connectionStatus).toBe('connected');
        const heard: string[] = [];
        const stop = bus.onConnectionStatus((status) => heard.push(status));
        await bus.close();
        expect(bus.connectionStatus).toBe('disconnected');
        expect(heard).toEqual(['disconnected']);
        stop();
      });
    });
  });
}
