import { randomBytes } from 'node:crypto';
import { Controller, Inject, type INestApplication } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { IsInt, Min } from 'class-validator';
import { DeadLetterProperties, PulsarWsEventBus, type BusMessage, type EventBus } from '@agent-mesh/bus';
import { describeWithPulsar } from '@agent-mesh/bus/testing';
import {
  defineEvent,
  EnvelopeProperties,
  EventRegistry,
  qualifyTopic,
  Topics,
  type EventEnvelope,
  type TopicNaming,
} from '@agent-mesh/contracts';
import {
  MeshContext,
  MeshPublisher,
  MeshTransportModule,
  MeshTransportServer,
  OnMeshEvent,
} from '@agent-mesh/nest-pulsar';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import type { StateStore } from '@agent-mesh/state';
import { eventually, PulsarBrokerFixture, RedisFixture, type ScriptRun } from '@agent-mesh/testing';

/**
 * Acceptance: "Broker restart mid-stream: every published event is handled, none twice in effect"
 * and "reconnect with backoff when the broker goes away; nothing acknowledged is lost and nothing
 * unacknowledged is dropped across a broker restart" — pulsar-ws driver, a real broker of the
 * test's own (the shared one on :8080 is never touched), a real Redis.
 */

const EVENTS = 400;
const PUBLISH_EVERY_MS = 25;
/** The restart begins once this many events are published (and the two held handlers are in flight). */
const RESTART_AFTER = Math.floor(EVENTS / 3);
/** First delivery applies its effect, then does not return before its message was redelivered. */
const HOLD_APPLY_SEQ = RESTART_AFTER - 2;
/** First delivery is in flight when the broker goes down, then fails: its message must come back. */
const HOLD_FAIL_SEQ = RESTART_AFTER - 1;

const NAMING: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const TOPIC = `restart.probe-${randomBytes(4).toString('hex')}`;
const SUBSCRIPTION = 'restart-probe';
const COUNTER_KEY = 'restart:counter';
const HANDLED_KEY = 'restart:handled';

class RestartProbe {
  @IsInt()
  @Min(0)
  seq!: number;
}

const RestartProbeV1 = defineEvent('test.restart-probe', 1, 'event', RestartProbe);

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or a failure naming what did not happen within `ms`. */
async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the handler saw, shared between the Nest controller and the test. */
class ProbeLog {
  deliveries = 0;
  /** Deliveries with redeliveryCount > 0. */
  redeliveries = 0;
  /** Deliveries whose applyOnce found the marker: handled before, nothing written. */
  duplicates = 0;
  readonly deliveriesById = new Map<string, number>();
  readonly appliedIds = new Set<string>();
  readonly holdApplyEntered = deferred();
  readonly holdFailEntered = deferred();
  readonly brokerDown = deferred();
  /** Resolved when the held-apply event is delivered a second time. */
  readonly holdApplyRedelivered = deferred();
  holdApplyId?: string;
  holdFailId?: string;

  constructor(readonly store: StateStore) {}

  /** Lets every held handler go (test teardown). */
  releaseAll(): void {
    this.brokerDown.resolve();
    this.holdApplyRedelivered.resolve();
  }
}

const PROBE_LOG = Symbol('PROBE_LOG');

@Controller()
class RestartProbeController {
  constructor(@Inject(PROBE_LOG) private readonly log: ProbeLog) {}

  @OnMeshEvent(RestartProbeV1, { topic: TOPIC, subscription: SUBSCRIPTION, nackRedeliveryDelayMs: 200 })
  async onProbe(@Payload() envelope: EventEnvelope<RestartProbe>, @Ctx() ctx: MeshContext): Promise<void> {
    const log = this.log;
    const seq = envelope.data.seq;
    const delivery = (log.deliveriesById.get(envelope.id) ?? 0) + 1;
    log.deliveriesById.set(envelope.id, delivery);
    log.deliveries++;
    if (ctx.getRedeliveryCount() > 0) log.redeliveries++;

    if (seq === HOLD_FAIL_SEQ && delivery === 1) {
      // In flight when the broker goes away; fails without an effect. The nack cannot reach the
      // broker, the message must still come back.
      log.holdFailId = envelope.id;
      log.holdFailEntered.resolve();
      await log.brokerDown.promise;
      throw new Error('downstream failed while the broker was down');
    }
    if (seq === HOLD_APPLY_SEQ && delivery === 2) log.holdApplyRedelivered.resolve();

    const { applied } = await log.store.applyOnce(`restart:${envelope.id}`, [
      { op: 'hincrby', key: COUNTER_KEY, field: 'handled', by: 1 },
      { op: 'sadd', key: HANDLED_KEY, member: envelope.id },
    ]);
    if (applied) log.appliedIds.add(envelope.id);
    else log.duplicates++;

    if (seq === HOLD_APPLY_SEQ && delivery === 1) {
      // Effect written, ack not sent before the broker goes away: the broker must redeliver it,
      // and applyOnce must turn the redelivery into a no-op.
      log.holdApplyId = envelope.id;
      log.holdApplyEntered.resolve();
      await log.holdApplyRedelivered.promise;
    }
  }
}

interface PublishOutcome {
  readonly seq: number;
  readonly id?: string;
  readonly issuedAt: number;
  readonly settledAt: number;
  readonly error?: string;
}

async function readAll(bus: EventBus, topic: string): Promise<BusMessage[]> {
  const reader = await bus.createReader({ topic, startMessageId: 'earliest' });
  const messages: BusMessage[] = [];
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(2000);
      if (!message) break;
      messages.push(message);
    }
  } finally {
    await reader.close();
  }
  return messages;
}

describeWithPulsar('broker restart mid-stream (pulsar-ws, own broker, real Redis)', () => {
  const broker = new PulsarBrokerFixture();
  const redis = new RedisFixture();
  let app: INestApplication | undefined;
  let publisherBus: PulsarWsEventBus | undefined;
  let log: ProbeLog | undefined;

  beforeAll(async () => {
    await broker.start();
  }, 200_000);

  afterAll(async () => {
    log?.releaseAll();
    await app?.close().catch(() => undefined);
    await publisherBus?.close().catch(() => undefined);
    await redis.cleanup().catch(() => undefined);
    await broker.dispose();
  }, 120_000);

  it('handles every published event exactly once in effect across a broker restart', async () => {
    const store = await redis.connect();
    const probe = new ProbeLog(store);
    log = probe;
    const registry = new EventRegistry([RestartProbeV1]);
    const moduleRef = await Test.createTestingModule({
      imports: [
        MeshTransportModule.forRoot({
          bus: new PulsarWsEventBus({ webUrl: broker.webUrl, sendTimeoutMs: 120_000 }),
          registry,
          naming: NAMING,
          origin: { source: 'restart-consumer@1', region: 'test' },
          drainTimeoutMs: 5000,
        }),
      ],
      controllers: [RestartProbeController],
      providers: [{ provide: PROBE_LOG, useValue: probe }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: process.env['MESH_TEST_LOGS'] ? undefined : false });
    app.connectMicroservice({ strategy: app.get(MeshTransportServer) });
    await app.startAllMicroservices();
    await app.init();

    // "Another process": its own bus client and publisher.
    publisherBus = new PulsarWsEventBus({ webUrl: broker.webUrl, sendTimeoutMs: 120_000 });
    const publisher = new MeshPublisher({
      bus: publisherBus,
      registry,
      naming: NAMING,
      origin: { source: 'restart-publisher@1', region: 'test' },
    });

    const outcomes: Promise<PublishOutcome>[] = [];
    let published = 0;
    const publishing = (async () => {
      for (let seq = 0; seq < EVENTS; seq++) {
        const issuedAt = Date.now();
        outcomes.push(
          publisher.publish(TOPIC, RestartProbeV1, { seq }, { correlationId: `restart-${seq}` }).then(
            (envelope) => ({ seq, id: envelope.id, issuedAt, settledAt: Date.now() }),
            (error: unknown) => ({ seq, issuedAt, settledAt: Date.now(), error: String(error) }),
          ),
        );
        published = seq + 1;
        await sleep(PUBLISH_EVERY_MS);
      }
    })();

    // Restart once a third is out and both held handlers are in flight; publishing goes on.
    await eventually(
      'a third of the events to be published',
      async () => (published >= RESTART_AFTER ? true : undefined),
      60_000,
    );
    await within(
      'both held handlers to be in flight',
      Promise.all([probe.holdApplyEntered.promise, probe.holdFailEntered.promise]),
      30_000,
    );
    const downAt = Date.now();
    const publishedBeforeDown = published;
    const handledBeforeDown = probe.appliedIds.size;
    const down: ScriptRun = await broker.down();
    const downDoneAt = Date.now();
    probe.brokerDown.resolve();
    const up: ScriptRun = await broker.up();
    const upAt = Date.now();
    const publishedDuringOutage = published - publishedBeforeDown;

    await publishing;
    const results = await Promise.all(outcomes);
    const confirmedAt = Math.max(...results.map((r) => r.settledAt));

    await eventually(
      `all ${EVENTS} events to be handled`,
      async () => (probe.appliedIds.size === EVENTS ? true : undefined),
      120_000,
    );
    const handledAt = Date.now();
    const topic = qualifyTopic(NAMING, TOPIC);
    const admin = new PulsarAdmin({ webUrl: broker.webUrl });
    const backlog = await eventually(
      'the subscription backlog to drain',
      async () => {
        const value = await admin.backlog(topic, SUBSCRIPTION);
        return value === 0 ? value : undefined;
      },
      30_000,
    );

    const failed = results.filter((r) => r.error !== undefined);
    const ids = results.flatMap((r) => (r.id ? [r.id] : []));
    const onTopic = await readAll(publisherBus, topic);
    const deadLetters = (await readAll(publisherBus, qualifyTopic(NAMING, Topics.deadLetter))).filter(
      (m) => m.properties[DeadLetterProperties.originTopic] === topic,
    );
    const handledInRedis = await store.smembers(HANDLED_KEY);
    const counter = await store.hget(COUNTER_KEY, 'handled');

    // Issued while no broker process existed: held by the driver, sent after the reconnect.
    const heldOutcomes = results.filter((r) => r.issuedAt >= downDoneAt && r.issuedAt < upAt);
    const duringShutdown = results.filter((r) => r.issuedAt >= downAt && r.issuedAt < downDoneAt);
    const confirmedInShutdown = duringShutdown.filter((r) => r.settledAt < downDoneAt).length;
    console.log(
      [
        `broker restart: ${EVENTS} events, one every ${PUBLISH_EVERY_MS} ms; restart after ${publishedBeforeDown} published, ${handledBeforeDown} handled`,
        `  down ${down.durationMs} ms + up ${up.durationMs} ms = outage ${upAt - downAt} ms`,
        `  publishes issued during the outage: ${publishedDuringOutage} — ${duringShutdown.length} during the graceful shutdown ` +
          `(${confirmedInShutdown} confirmed before the process exited), ${heldOutcomes.length} with no broker process; ` +
          `failed: ${failed.length}; the last confirmed ${confirmedAt - downDoneAt} ms after \`up\` began`,
        `  messages stored on the topic: ${onTopic.length} (${onTopic.length - EVENTS} resent copies)`,
        `  deliveries: ${probe.deliveries} (${probe.deliveries - EVENTS} more than events; ${probe.redeliveries} with redeliveryCount > 0), ` +
          `duplicates skipped by applyOnce: ${probe.duplicates}`,
        `  held-apply event delivered ${probe.deliveriesById.get(probe.holdApplyId ?? '')}x, held-fail event ${probe.deliveriesById.get(probe.holdFailId ?? '')}x`,
        `  all handled ${handledAt - downDoneAt} ms after \`up\` began; backlog ${backlog}; dead letters ${deadLetters.length}`,
      ].join('\n'),
    );

    // Every publish resolved, including those made while the broker was gone (held, then resent).
    expect(failed).toEqual([]);
    expect(new Set(ids).size).toBe(EVENTS);
    expect(heldOutcomes.length).toBeGreaterThan(0);
    // Every event applied exactly once in effect.
    expect(handledInRedis.length).toBe(EVENTS);
    expect(new Set(handledInRedis)).toEqual(new Set(ids));
    expect(counter).toBe(String(EVENTS));
    expect(probe.appliedIds).toEqual(new Set(ids));
    // The unacked messages in flight at the restart came back: the one whose effect was written
    // (its redelivery deduplicated) and the one whose handler failed (then handled).
    expect(probe.deliveriesById.get(probe.holdApplyId!)).toBeGreaterThanOrEqual(2);
    expect(probe.deliveriesById.get(probe.holdFailId!)).toBeGreaterThanOrEqual(2);
    expect(probe.duplicates).toBeGreaterThanOrEqual(1);
    expect(probe.deliveries).toBeGreaterThan(EVENTS);
    // Nothing left on the subscription, nothing dead-lettered, nothing lost on the topic.
    expect(backlog).toBe(0);
    expect(deadLetters).toEqual([]);
    expect(new Set(onTopic.map((m) => m.properties[EnvelopeProperties.eventId]))).toEqual(new Set(ids));
  }, 240_000);
});
