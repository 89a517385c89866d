import { randomBytes } from 'node:crypto';
import { Controller, type INestApplication, type Type } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { DeadLetterProperties, MemoryBroker, PulsarWsEventBus, type BusMessage, type EventBus } from '@agent-mesh/bus';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { NonRetryableError, qualifyTopic, type EventEnvelope, type TopicNaming } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshContext } from './mesh-context';
import { MeshPublisher } from './mesh-publisher';
import { MeshTransportModule } from './mesh-transport.module';
import { MeshTransportServer } from './mesh-transport.server';
import { ORIGIN, PingV1, testRegistry, waitFor, waitForMessages, type Ping } from './testing/mesh-test-kit';

/** A bus to run the cases on: the memory driver, or pulsar-ws against the real broker. */
interface RetryTarget {
  readonly name: string;
  readonly naming: TopicNaming;
  connect(): EventBus;
  /** How long to wait for a dead letter or a retry. */
  readonly timeoutMs: number;
}

/** What the handler saw on each delivery. */
interface Attempt {
  readonly at: number;
  readonly redeliveryCount: number;
  readonly topic: string;
}

/**
 * The transport's retries, the same cases on every driver: a throwing handler is retried with
 * growing delays through the subscription's retry topic (delayed delivery), ends in the
 * dead-letter topic with its history once the attempts are spent, and a non-retryable error
 * goes there at once.
 */
function describeRetries(target: RetryTarget): void {
  describe(`handler retries (${target.name})`, () => {
    const run = randomBytes(3).toString('hex');
    const apps: INestApplication[] = [];
    const buses: EventBus[] = [];
    let external: EventBus;
    let publisher: MeshPublisher;

    const short = (name: string) => `retry-${run}-${name}`;
    const topic = (name: string) => qualifyTopic(target.naming, short(name));

    beforeAll(() => {
      external = target.connect();
      buses.push(external);
      publisher = new MeshPublisher({ bus: external, registry: testRegistry(), naming: target.naming, origin: ORIGIN });
    });

    afterAll(async () => {
      for (const app of apps) await app.close();
      for (const bus of buses) await bus.close();
    });

    async function start(controller: Type<unknown>, wrap: (bus: EventBus) => EventBus = (bus) => bus): Promise<void> {
      const bus = wrap(target.connect());
      buses.push(bus);
      const moduleRef = await Test.createTestingModule({
        imports: [
          MeshTransportModule.forRoot({ bus, registry: testRegistry(), naming: target.naming, origin: ORIGIN }),
        ],
        controllers: [controller],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: process.env['MESH_TEST_LOGS'] ? undefined : false });
      apps.push(app);
      app.connectMicroservice({ strategy: app.get(MeshTransportServer) });
      await app.startAllMicroservices();
      await app.init();
    }

    function recorder(attempts: Attempt[]) {
      return (ctx: MeshContext): void => {
        attempts.push({ at: Date.now(), redeliveryCount: ctx.getRedeliveryCount(), topic: ctx.getTopic() });
      };
    }

    it.each(['Shared', 'Key_Shared'] as const)(
      'retries with growing delays through the retry topic, then succeeds (%s)',
      async (type) => {
        const attempts: Attempt[] = [];
        const record = recorder(attempts);

        @Controller()
        class FlakyController {
          @OnMeshEvent(PingV1, {
            topic: short(`flaky-${type}`),
            subscription: 'flaky',
            type,
            deadLetterTopic: short(`flaky-${type}-dlq`),
            retry: { attempts: 5, initialDelayMs: 200, multiplier: 2, jitter: 0 },
          })
          onPing(@Ctx() ctx: MeshContext): void {
            record(ctx);
            if (attempts.length < 4) throw new Error(`not yet (attempt ${attempts.length})`);
          }
        }

        await start(FlakyController);
        await publisher.publish(short(`flaky-${type}`), PingV1, { n: 1 }, { correlationId: `c-${run}` });
        await waitFor('four attempts', () => attempts.length === 4, target.timeoutMs);

        expect(attempts.map((a) => a.redeliveryCount)).toEqual([0, 1, 2, 3]);
        expect(attempts[0].topic).toBe(topic(`flaky-${type}`));
        expect(attempts.slice(1).map((a) => a.topic)).toEqual(Array(3).fill(`${topic(`flaky-${type}`)}-flaky-RETRY`));
        const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i].at);
        // 200, 400 then 800 ms asked (no jitter): each wait at least its own, growing delay. Only
        // lower bounds: a loaded machine may deliver late, never early (timers round to the ms).
        const asked = [200, 400, 800];
        for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(asked[i] - 5);
        expect(await readAll(external, qualifyTopic(target.naming, short(`flaky-${type}-dlq`)))).toEqual([]);
      },
    );

    it('dead-letters a message whose attempts are spent, with its origin, error, attempts and failure times', async () => {
      const attempts: Attempt[] = [];
      const record = recorder(attempts);

      @Controller()
      class BrokenController {
        @OnMeshEvent(PingV1, {
          topic: short('broken'),
          subscription: 'broken',
          deadLetterTopic: short('broken-dlq'),
          retry: { attempts: 3, initialDelayMs: 100, jitter: 0 },
        })
        onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): void {
          record(ctx);
          throw new Error(`broken ping ${envelope.data.n}`);
        }
      }

      await start(BrokenController);
      const published = await publisher.publish(short('broken'), PingV1, { n: 7 }, { correlationId: `c-${run}` });
      const [dead] = await waitForMessages(external, topic('broken-dlq'), 1, target.timeoutMs);

      expect(attempts).toHaveLength(3);
      const props = dead.properties;
      expect(props[DeadLetterProperties.reason]).toBe(
        'retries exhausted after 3 attempt(s): handler failed: Error: broken ping 7',
      );
      expect(props[DeadLetterProperties.error]).toMatch(/^Error: broken ping 7\n\s+at /);
      expect(props[DeadLetterProperties.originTopic]).toBe(topic('broken'));
      expect(props[DeadLetterProperties.subscription]).toBe('broken');
      expect(props[DeadLetterProperties.attempts]).toBe('3');
      expect(Date.parse(props[DeadLetterProperties.firstFailureAt])).toBeLessThan(
        Date.parse(props[DeadLetterProperties.lastFailureAt]),
      );
      expect(JSON.parse(dead.payload.toString('utf8'))).toMatchObject({ id: published.id, data: { n: 7 } });
      expect(dead.key).toBe(`c-${run}`);
    });

    it('retries a Failover handler by nack, on the active consumer (no retry topic), then dead-letters it', async () => {
      const attempts: Attempt[] = [];
      const record = recorder(attempts);

      @Controller()
      class FailoverController {
        @OnMeshEvent(PingV1, {
          topic: short('failover'),
          subscription: 'failover',
          type: 'Failover',
          nackRedeliveryDelayMs: 100,
          deadLetterTopic: short('failover-dlq'),
          retry: { attempts: 3 },
        })
        onPing(@Ctx() ctx: MeshContext): void {
          record(ctx);
          throw new Error('failover failure');
        }
      }

      await start(FailoverController);
      await publisher.publish(short('failover'), PingV1, { n: 3 }, { correlationId: `c-${run}` });
      const [dead] = await waitForMessages(external, topic('failover-dlq'), 1, target.timeoutMs);

      expect(attempts.map((a) => [a.redeliveryCount, a.topic])).toEqual([0, 1, 2].map((n) => [n, topic('failover')]));
      expect(dead.properties[DeadLetterProperties.reason]).toBe(
        'retries exhausted after 3 attempt(s): handler failed: Error: failover failure',
      );
      expect(dead.properties[DeadLetterProperties.attempts]).toBe('3');
    });

    it('nacks (fixed delay) when the retry cannot be published, and the retry after that goes through', async () => {
      const attempts: Attempt[] = [];
      const record = recorder(attempts);
      let refused = 0;
      const refuseFirstRetry = (bus: EventBus): EventBus =>
        new Proxy(bus, {
          get(target_, name, receiver) {
            if (name !== 'publish') return Reflect.get(target_, name, receiver) as unknown;
            return (topicName: string, message: Parameters<EventBus['publish']>[1]) => {
              if (topicName.endsWith('-RETRY') && refused++ === 0) return Promise.reject(new Error('broker said no'));
              return target_.publish(topicName, message);
            };
          },
        });

      @Controller()
      class UnluckyController {
        @OnMeshEvent(PingV1, {
          topic: short('unlucky'),
          subscription: 'unlucky',
          nackRedeliveryDelayMs: 100,
          deadLetterTopic: short('unlucky-dlq'),
          retry: { attempts: 5, initialDelayMs: 100, jitter: 0 },
        })
        onPing(@Ctx() ctx: MeshContext): void {
          record(ctx);
          if (attempts.length < 3) throw new Error('unlucky');
        }
      }

      await start(UnluckyController, refuseFirstRetry);
      await publisher.publish(short('unlucky'), PingV1, { n: 4 }, { correlationId: `c-${run}` });
      await waitFor('three attempts', () => attempts.length === 3, target.timeoutMs);

      // first failure: the retry was refused, so a nack redelivered it from the topic itself
      expect(attempts.map((a) => [a.redeliveryCount, a.topic])).toEqual([
        [0, topic('unlucky')],
        [1, topic('unlucky')],
        [2, `${topic('unlucky')}-unlucky-RETRY`],
      ]);
      expect(refused).toBe(2);
    });

    it('sends a non-retryable error straight to the dead-letter topic', async () => {
      const attempts: Attempt[] = [];
      const record = recorder(attempts);

      @Controller()
      class RefusingController {
        @OnMeshEvent(PingV1, {
          topic: short('refusing'),
          subscription: 'refusing',
          deadLetterTopic: short('refusing-dlq'),
          retry: { attempts: 5, initialDelayMs: 100 },
        })
        onPing(@Ctx() ctx: MeshContext): void {
          record(ctx);
          throw new NonRetryableError('this ping can never be handled');
        }
      }

      await start(RefusingController);
      await publisher.publish(short('refusing'), PingV1, { n: 2 }, { correlationId: `c-${run}` });
      const [dead] = await waitForMessages(external, topic('refusing-dlq'), 1, target.timeoutMs);

      expect(attempts).toHaveLength(1);
      expect(dead.properties[DeadLetterProperties.reason]).toBe(
        'non-retryable: handler failed: NonRetryableError: this ping can never be handled',
      );
      expect(dead.properties[DeadLetterProperties.attempts]).toBe('1');
      expect(dead.properties[DeadLetterProperties.originTopic]).toBe(topic('refusing'));
    });
  });
}

async function readAll(bus: EventBus, topic: string): Promise<BusMessage[]> {
  const reader = await bus.createReader({ topic, startMessageId: 'earliest' });
  const out: BusMessage[] = [];
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(500);
      if (!message) break;
      out.push(message);
    }
  } finally {
    await reader.close();
  }
  return out;
}

const broker = new MemoryBroker();
describeRetries({
  name: 'memory',
  naming: { tenant: 't', namespace: 'n' },
  connect: () => broker.connect(),
  timeoutMs: 5000,
});

describeWithPulsar('handler retries against the real broker', (env) => {
  beforeAll(() => assertPulsarAnswers(env));
  describeRetries({
    name: 'pulsar-ws',
    naming: { tenant: env.tenant, namespace: env.namespace },
    connect: () => new PulsarWsEventBus({ webUrl: env.webUrl }),
    timeoutMs: 15_000,
  });
});
