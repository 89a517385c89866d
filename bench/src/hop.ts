/**
 * The hop benchmark: latency of one event hop, publish → handler invoked, in a closed loop
 * (publish, wait for the handler and the broker's receipt, next). See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { Controller, Inject, Module, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsISO8601, IsString, Length, MaxLength, Min } from 'class-validator';
import WebSocket from 'ws';
import { loadPulsarClient, MemoryBroker, PulsarNativeEventBus, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  defineEvent,
  EnvelopeProperties,
  DEFAULT_TOPIC_NAMING,
  uuidv7,
  type EventEnvelope,
  type EventOrigin,
} from '@agent-mesh/contracts';
import {
  MeshPublisher,
  MeshTransportModule,
  MeshTransportServer,
  nextTraceparent,
  OnMeshEvent,
} from '@agent-mesh/nest-pulsar';
import type { Report } from './report';
import { closeSocket, openSocket } from './raw-ws';
import { median, summarize, type LatencySummary } from './stats';

export interface HopOptions {
  /** Measured events per bus and repeat. */
  readonly n: number;
  /** Repeats; each figure is the median of the repeats' values. */
  readonly repeats: number;
  /** Native driver (pulsar-client), when it loads. */
  readonly serviceUrl: string;
  /** Unmeasured events per bus before measuring. */
  readonly warmup: number;
  /** Broker web service, e.g. http://127.0.0.1:8080. */
  readonly webUrl: string;
  /** Events per block when mesh-on-pulsar and raw alternate. */
  readonly block: number;
  /** Idle time before each event (think time), outside the measurement. 0 = back to back. */
  readonly gapMs: number;
}

const SUBSCRIPTION = 'bench-hop';
const EVENT_TIMEOUT_MS = 10_000;
const ORIGIN: EventOrigin = { source: 'bench@1', region: 'local' };
const CAPABILITIES = ['keywords', 'summarize', 'sentiment'] as const;

// ----------------------------------------------------------------------------- the event

/** A task-like body of ~300 bytes of JSON, validated by class-validator on both ends. */
export class HopBody {
  @IsInt()
  @Min(0)
  seq!: number;

  @IsString()
  @Length(36, 36)
  taskId!: string;

  @IsIn(CAPABILITIES)
  capability!: string;

  @IsInt()
  @Min(0)
  priority!: number;

  @IsString()
  @MaxLength(400)
  text!: string;

  @IsArray()
  @ArrayMaxSize(8)
  @IsString({ each: true })
  tags!: string[];

  @IsISO8601()
  deadline!: string;
}

export const HopV1 = defineEvent('bench.hop', 1, 'event', HopBody);

const TEXT =
  'Quarterly revenue grew 12% on strong demand in the EMEA region, while churn fell to a record low. Analysts expect margins to widen.';

function hopBody(seq: number): HopBody {
  return {
    seq,
    taskId: uuidv7(),
    capability: CAPABILITIES[seq % CAPABILITIES.length],
    priority: seq % 5,
    text: TEXT,
    tags: ['finance', 'quarterly', 'emea'],
    deadline: new Date(Date.now() + 60_000).toISOString(),
  };
}

// ----------------------------------------------------------------------------- the probe

/** Where handlers report; records process.hrtime.bigint() on entry. One event in flight. */
class HopProbe {
  strays = 0;
  private waiting?: { readonly seq: number; readonly resolve: (at: bigint) => void; readonly timer: NodeJS.Timeout };

  /** Arms the probe for `seq`; resolves with the handler's entry time. */
  expect(seq: number, what: string): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`${what}: event ${seq} not handled within ${EVENT_TIMEOUT_MS} ms`));
      }, EVENT_TIMEOUT_MS);
      this.waiting = { seq, resolve, timer };
    });
  }

  hit(seq: number): void {
    const at = process.hrtime.bigint();
    const waiting = this.waiting;
    if (!waiting || waiting.seq !== seq) {
      this.strays++; // a redelivery or a late event: not part of the closed loop
      return;
    }
    this.waiting = undefined;
    clearTimeout(waiting.timer);
    waiting.resolve(at);
  }
}

const HOP_PROBE = Symbol('HOP_PROBE');

// ----------------------------------------------------------------------------- targets

/** One thing under test: prepares an event outside the timed region, then sends it inside. */
interface HopTarget {
  readonly name: string;
  readonly probe: HopProbe;
  /** Builds the application data (untimed); the returned function publishes it (timed). */
  prepare(seq: number): () => Promise<unknown>;
  /** Bytes of the payload of the last prepared event (the serialized event on the wire, before base64). */
  payloadBytes(): number;
  close(): Promise<void>;
}

/** A controller class for `topic`; declared per run so the topic name is fresh. */
function hopController(topic: string): Type<unknown> {
  @Controller()
  class HopController {
    constructor(@Inject(HOP_PROBE) private readonly probe: HopProbe) {}

    @OnMeshEvent(HopV1, { topic, subscription: SUBSCRIPTION })
    onHop(@Payload() envelope: EventEnvelope<HopBody>): void {
      this.probe.hit(envelope.data.seq);
    }
  }
  return HopController;
}

@Module({})
class HopBenchModule {}

/** The mesh path: MeshPublisher → bus → MeshTransportServer → @OnMeshEvent handler. */
class MeshTarget implements HopTarget {
  readonly probe = new HopProbe();
  private app?: INestApplication;
  private publisher?: MeshPublisher;
  private last?: EventEnvelope<HopBody>;

  constructor(
    readonly name: string,
    private readonly bus: EventBus,
    private readonly topic: string,
  ) {}

  async start(): Promise<void> {
    const registry = createMeshEventRegistry().register(HopV1);
    const app = await NestFactory.create(
      {
        module: HopBenchModule,
        imports: [
          MeshTransportModule.forRoot({ bus: this.bus, registry, naming: DEFAULT_TOPIC_NAMING, origin: ORIGIN }),
        ],
        controllers: [hopController(this.topic)],
        providers: [{ provide: HOP_PROBE, useValue: this.probe }],
      },
      { logger: false, abortOnError: false },
    );
    this.app = app;
    app.connectMicroservice({ strategy: app.get(MeshTransportServer) });
    await app.startAllMicroservices();
    await app.init();
    this.publisher = app.get(MeshPublisher);
  }

  prepare(seq: number): () => Promise<unknown> {
    const publisher = this.publisher;
    if (!publisher) throw new Error(`${this.name}: not started`);
    const data = hopBody(seq);
    const correlationId = uuidv7();
    return async () => {
      const envelope = await publisher.publish(this.topic, HopV1, data, { correlationId });
      this.last = envelope; // measured later: serializing it here would run inside the loop
      return envelope;
    };
  }

  payloadBytes(): number {
    return this.last ? Buffer.byteLength(JSON.stringify(this.last)) : 0;
  }

  async close(): Promise<void> {
    await this.app?.close(); // closes the server, then the bus (MeshBusLifecycle)
  }
}

interface RawReceipt {
  readonly result: string;
  readonly context?: string;
  readonly errorMsg?: string;
}

interface RawDelivery {
  readonly messageId: string;
  readonly payload: string;
}

/** An envelope-shaped payload, built by hand: same bytes as the mesh's, no framework. */
interface RawEvent {
  readonly id: string;
  readonly type: string;
  readonly version: number;
  readonly correlationId: string;
  readonly source: string;
  readonly region: string;
  readonly occurredAt: string;
  readonly traceparent: string;
  readonly data: HopBody;
}

/**
 * The baseline: a `ws` producer and a Shared consumer on Pulsar's WebSocket API, nothing else.
 * Without per-message deflate, like the mesh's driver (the broker accepts it when offered, and
 * compressing ~1 KB frames costs more than it saves).
 */
class RawTarget implements HopTarget {
  readonly probe = new HopProbe();
  private producer?: WebSocket;
  private consumer?: WebSocket;
  private context = 0;
  private readonly receipts = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private lastBytes = 0;

  /**
   * @param withMetadata also send what the mesh puts beside the payload (the envelope's
   *   properties, the key, the event time), to tell the broker's cost of that metadata from the
   *   client-side cost of the framework
   */
  constructor(
    private readonly wsBase: string,
    private readonly topic: string,
    private readonly withMetadata = false,
  ) {}

  get name(): string {
    return this.withMetadata ? 'raw-meta' : 'raw';
  }

  async start(): Promise<void> {
    const path = `persistent/${DEFAULT_TOPIC_NAMING.tenant}/${DEFAULT_TOPIC_NAMING.namespace}/${this.topic}`;
    this.consumer = await openSocket(`${this.wsBase}/consumer/${path}/${SUBSCRIPTION}?subscriptionType=Shared`);
    this.consumer.on('message', (data: WebSocket.RawData) => {
      const delivery = JSON.parse(data.toString()) as RawDelivery;
      const event = JSON.parse(Buffer.from(delivery.payload, 'base64').toString('utf8')) as RawEvent;
      this.probe.hit(event.data.seq);
      this.consumer?.send(JSON.stringify({ messageId: delivery.messageId }));
    });
    this.producer = await openSocket(`${this.wsBase}/producer/${path}`);
    this.producer.on('message', (data: WebSocket.RawData) => {
      const receipt = JSON.parse(data.toString()) as RawReceipt;
      const waiter = receipt.context !== undefined ? this.receipts.get(receipt.context) : undefined;
      if (!waiter || receipt.context === undefined) return;
      this.receipts.delete(receipt.context);
      if (receipt.result === 'ok') waiter.resolve();
      else waiter.reject(new Error(`raw publish failed: ${receipt.result} ${receipt.errorMsg ?? ''}`));
    });
  }

  prepare(seq: number): () => Promise<unknown> {
    const producer = this.producer;
    if (!producer) throw new Error('raw: not started');
    const event: RawEvent = {
      id: uuidv7(),
      type: HopV1.type,
      version: HopV1.version,
      correlationId: uuidv7(),
      source: ORIGIN.source,
      region: ORIGIN.region,
      occurredAt: new Date().toISOString(),
      traceparent: nextTraceparent(),
      data: hopBody(seq),
    };
    const metadata = this.withMetadata
      ? {
          properties: {
            [EnvelopeProperties.eventId]: event.id,
            [EnvelopeProperties.eventType]: event.type,
            [EnvelopeProperties.eventVersion]: String(event.version),
            [EnvelopeProperties.correlationId]: event.correlationId,
            [EnvelopeProperties.source]: event.source,
            [EnvelopeProperties.region]: event.region,
            [EnvelopeProperties.traceparent]: event.traceparent,
          },
          key: event.correlationId,
          eventTime: event.occurredAt,
        }
      : {};
    return () => {
      const payload = Buffer.from(JSON.stringify(event));
      this.lastBytes = payload.length;
      const context = String(++this.context);
      return new Promise<void>((resolve, reject) => {
        this.receipts.set(context, { resolve, reject });
        producer.send(JSON.stringify({ payload: payload.toString('base64'), ...metadata, context }));
      });
    };
  }

  payloadBytes(): number {
    return this.lastBytes;
  }

  async close(): Promise<void> {
    await Promise.all([this.producer, this.consumer].map((s) => (s ? closeSocket(s) : undefined)));
  }
}

// ----------------------------------------------------------------------------- the loop

interface Samples {
  readonly latencies: bigint[];
  /** Sum of the closed-loop iterations (publish start → handler ran and broker confirmed). */
  loopNs: bigint;
  seq: number;
}

function newSamples(): Samples {
  return { latencies: [], loopNs: 0n, seq: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function hops(
  target: HopTarget,
  count: number,
  samples: Samples | undefined,
  seqFrom: { seq: number },
  gapMs: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (gapMs > 0) await sleep(gapMs);
    const seq = seqFrom.seq++;
    const send = target.prepare(seq);
    const handled = target.probe.expect(seq, target.name);
    const t0 = process.hrtime.bigint();
    const [handledAt] = await Promise.all([handled, send()]);
    const t1 = process.hrtime.bigint();
    if (samples) {
      samples.latencies.push(handledAt - t0);
      samples.loopNs += t1 - t0;
    }
  }
}

interface Row {
  readonly name: string;
  readonly summary: LatencySummary;
  readonly eventsPerSecond: number;
  readonly payloadBytes: number;
}

function rowOf(target: HopTarget, samples: Samples): Row {
  const seconds = Number(samples.loopNs) / 1e9;
  return {
    name: target.name,
    summary: summarize(samples.latencies),
    eventsPerSecond: seconds > 0 ? samples.latencies.length / seconds : Number.NaN,
    payloadBytes: target.payloadBytes(),
  };
}

/** Unmeasured hops on every target (JIT, connections, broker caches). */
async function warmUp(targets: readonly HopTarget[], counters: { seq: number }[], options: HopOptions): Promise<void> {
  for (let t = 0; t < targets.length; t++)
    await hops(targets[t], options.warmup, undefined, counters[t], options.gapMs);
}

/** `n` measured hops per target; with several targets, in alternating blocks. */
async function measure(
  targets: readonly HopTarget[],
  counters: { seq: number }[],
  options: HopOptions,
): Promise<Row[]> {
  const samples = targets.map(() => newSamples());
  for (let done = 0; done < options.n; done += options.block) {
    const count = Math.min(options.block, options.n - done);
    for (let t = 0; t < targets.length; t++) await hops(targets[t], count, samples[t], counters[t], options.gapMs);
  }
  return targets.map((target, t) => rowOf(target, samples[t]));
}

// ----------------------------------------------------------------------------- broker

/** Best effort: a benchmark should not leave its topics in the namespace. */
async function deleteTopics(webUrl: string, topics: readonly string[]): Promise<void> {
  const { tenant, namespace } = DEFAULT_TOPIC_NAMING;
  await Promise.allSettled(
    topics.map((topic) =>
      fetch(`${webUrl}/admin/v2/persistent/${tenant}/${namespace}/${topic}?force=true`, {
        method: 'DELETE',
        signal: AbortSignal.timeout(10_000),
      }),
    ),
  );
}

// ----------------------------------------------------------------------------- output

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function printTable(rows: readonly Row[]): void {
  const header = ['bus', 'n', 'p50 ms', 'p99 ms', 'mean ms', 'loop ev/s', 'payload B'];
  const lines = rows.map((r) => [
    r.name,
    String(r.summary.n),
    fixed(r.summary.p50Ms, 3),
    fixed(r.summary.p99Ms, 3),
    fixed(r.summary.meanMs, 3),
    fixed(r.eventsPerSecond, 0),
    String(r.payloadBytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`${format(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const line of lines) process.stdout.write(`${format(line)}\n`);
}

// ----------------------------------------------------------------------------- entry

/** The targets of one bus family, started once and measured in every repeat. */
interface Group {
  readonly targets: HopTarget[];
  readonly counters: { seq: number }[];
}

/**
 * Runs the hop benchmark: warm-up once, then `repeats` rounds of `n` hops per bus (pulsar-ws,
 * raw and native in alternating blocks). Each figure is the median of the rounds' values; the
 * ratio mesh/raw is taken per round, then the median.
 */
export async function runHop(report: Report, options: HopOptions): Promise<void> {
  const run = randomBytes(4).toString('hex');
  const topic = `bench-hop-${run}`;
  const rawTopic = `bench-hop-${run}-raw`;
  const nativeTopic = `bench-hop-${run}-native`;
  process.stdout.write(
    `\nhop: one event, publish -> handler invoked, closed loop; ${options.repeats} x ${options.n} per bus after ${options.warmup} warm-up` +
      `${options.gapMs > 0 ? `, ${options.gapMs} ms idle before each event` : ''}; topics ${topic}, ${rawTopic}\n`,
  );

  const broker = new MemoryBroker();
  const memory = new MeshTarget('memory', broker.connect(), topic);
  const groups: Group[] = [];
  const toClose: HopTarget[] = [memory];
  const topics: string[] = [];
  let pulsar = false;
  try {
    await memory.start();
    groups.push({ targets: [memory], counters: [{ seq: 0 }] });

    const unreachable = await brokerAnswers(options.webUrl);
    if (unreachable) {
      report.skip(
        'hop.pulsar-ws',
        `Pulsar broker at ${options.webUrl} did not answer (${unreachable}); start it with: bash deploy/pulsar/pulsar.sh up`,
      );
    } else {
      const bus = new PulsarWsEventBus({ webUrl: options.webUrl });
      const mesh = new MeshTarget('pulsar-ws', bus, topic);
      const raw = new RawTarget(bus.wsBase, rawTopic);
      const rawMeta = new RawTarget(bus.wsBase, `${rawTopic}-meta`, true);
      toClose.push(mesh, raw, rawMeta);
      topics.push(topic, rawTopic, `${rawTopic}-meta`);
      await mesh.start();
      await raw.start();
      await rawMeta.start();
      const targets: HopTarget[] = [mesh, raw, rawMeta];
      const native = loadPulsarClient();
      if (!native.ok) {
        report.skip('hop.native', `pulsar-client is not loadable: ${native.reason.split('\n')[0]}`);
      } else {
        try {
          const nativeBus = PulsarNativeEventBus.create({ serviceUrl: options.serviceUrl });
          const nativeTarget = new MeshTarget('native', nativeBus, nativeTopic);
          toClose.push(nativeTarget);
          topics.push(nativeTopic);
          await nativeTarget.start();
          targets.push(nativeTarget);
        } catch (error) {
          report.skip(
            'hop.native',
            `native driver at ${options.serviceUrl}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      groups.push({ targets, counters: targets.map(() => ({ seq: 0 })) });
      pulsar = true;
    }

    for (const group of groups) await warmUp(group.targets, group.counters, options);
    const rounds: Row[][] = [];
    for (let r = 0; r < options.repeats; r++) {
      const rows: Row[] = [];
      for (const group of groups) rows.push(...(await measure(group.targets, group.counters, options)));
      process.stdout.write(`round ${r + 1}/${options.repeats}\n`);
      printTable(rows);
      rounds.push(rows);
    }
    const strays = toClose.reduce((sum, t) => sum + t.probe.strays, 0);
    if (strays > 0) report.note(`hop: ${strays} redelivered or late event(s) ignored`);

    const names = rounds[0].map((row) => row.name);
    const of = (name: string, pick: (row: Row) => number) =>
      rounds.map((rows) => pick(rows.find((x) => x.name === name) as Row));
    for (const name of names) {
      const base = name === 'pulsar-ws' || name === 'native' ? { baseline: 'hop.raw.p50' } : {};
      const what =
        name === 'memory'
          ? 'mesh on the memory bus (envelope, validation both ends, Nest routing)'
          : name === 'raw'
            ? 'raw ws producer/consumer pair on the same broker, no framework'
            : name === 'raw-meta'
              ? "raw pair also sending the mesh's message metadata (7 properties, key, event time)"
              : `mesh on ${name} against the broker`;
      report.addMedian(
        'hop',
        `hop.${name}.p50`,
        of(name, (x) => x.summary.p50Ms),
        'ms',
        { label: `${what}, p50`, ...base },
      );
      report.addMedian(
        'hop',
        `hop.${name}.p99`,
        of(name, (x) => x.summary.p99Ms),
        'ms',
        {
          label: `${what}, p99`,
          ...(name === 'pulsar-ws' || name === 'native' ? { baseline: 'hop.raw.p99' } : {}),
        },
      );
    }
    if (pulsar) {
      const ratio = (target: string, q: (row: Row) => number) =>
        rounds.map(
          (rows) => q(rows.find((x) => x.name === target) as Row) / q(rows.find((x) => x.name === 'raw') as Row),
        );
      report.addMedian(
        'hop',
        'hop.ratio.p50',
        ratio('pulsar-ws', (x) => x.summary.p50Ms),
        'x',
        { label: 'mesh/raw on Pulsar, p50 (per round, median)' },
      );
      report.addMedian(
        'hop',
        'hop.ratio.p99',
        ratio('pulsar-ws', (x) => x.summary.p99Ms),
        'x',
        { label: 'mesh/raw on Pulsar, p99' },
      );
      if (names.includes('native')) {
        report.addMedian(
          'hop',
          'hop.native.ratio.p50',
          ratio('native', (x) => x.summary.p50Ms),
          'x',
          { label: 'mesh on native / raw ws pair, p50' },
        );
      }
      report.add(
        'hop',
        'hop.payload',
        rounds[0].find((x) => x.name === 'pulsar-ws')?.payloadBytes ?? Number.NaN,
        'bytes',
        {
          label: 'serialized envelope of one hop event',
        },
      );
    }
    report.add('hop', 'hop.memory.loop.eps', median(of('memory', (x) => x.eventsPerSecond)), 'events/s', {
      label: 'memory bus closed loop (one in flight)',
    });
  } finally {
    await Promise.allSettled(toClose.map((t) => t.close()));
    broker.shutdown();
    if (topics.length > 0) await deleteTopics(options.webUrl, topics);
  }
}

/** Why the broker's namespace cannot be used, or undefined. */
async function brokerAnswers(webUrl: string): Promise<string | undefined> {
  const { tenant, namespace } = DEFAULT_TOPIC_NAMING;
  try {
    const response = await fetch(`${webUrl}/admin/v2/namespaces/${tenant}/${namespace}`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!response.ok) return `namespace ${tenant}/${namespace}: HTTP ${response.status}`;
    return undefined;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error instanceof Error ? error.message : String(error)}${cause}`;
  }
}
