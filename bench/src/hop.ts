/**
 * The hop benchmark: latency of one event hop, publish → handler invoked, in a closed loop
 * (publish, wait for the handler and the broker's receipt, next). See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Controller, Inject, Module, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsISO8601, IsString, Length, MaxLength, Min } from 'class-validator';
import WebSocket from 'ws';
import { MemoryBroker, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  defineEvent,
  DEFAULT_TOPIC_NAMING,
  uuidv7,
  type EventEnvelope,
  type EventOrigin,
} from '@agent-mesh/contracts';
import { MeshPublisher, MeshTransportModule, MeshTransportServer, nextTraceparent, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { summarize, type LatencySummary } from './stats';

export interface HopOptions {
  /** Measured events per bus. */
  readonly n: number;
  /** Unmeasured events per bus before measuring. */
  readonly warmup: number;
  /** Broker web service, e.g. http://127.0.0.1:8080. */
  readonly webUrl: string;
  /** Events per block when mesh-on-pulsar and raw alternate. */
  readonly block: number;
  /** Idle time before each event (think time), outside the measurement. 0 = back to back. */
  readonly gapMs: number;
  /** Where hop.json goes. */
  readonly resultsDir: string;
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
  private lastBytes = 0;

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
        imports: [MeshTransportModule.forRoot({ bus: this.bus, registry, naming: DEFAULT_TOPIC_NAMING, origin: ORIGIN })],
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
      this.lastBytes = Buffer.byteLength(JSON.stringify(envelope));
      return envelope;
    };
  }

  payloadBytes(): number {
    return this.lastBytes;
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

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: 5000 });
    socket.once('open', () => resolve(socket));
    socket.once('error', (error: Error) => reject(new Error(`${url}: ${error.message}`)));
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`${url}: HTTP ${response.statusCode ?? 0}`));
    });
  });
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close();
  });
}

/** The baseline: a `ws` producer and a Shared consumer on Pulsar's WebSocket API, nothing else. */
class RawTarget implements HopTarget {
  readonly name = 'raw';
  readonly probe = new HopProbe();
  private producer?: WebSocket;
  private consumer?: WebSocket;
  private context = 0;
  private readonly receipts = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  private lastBytes = 0;

  constructor(
    private readonly wsBase: string,
    private readonly topic: string,
  ) {}

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
    return () => {
      const payload = Buffer.from(JSON.stringify(event));
      this.lastBytes = payload.length;
      const context = String(++this.context);
      return new Promise<void>((resolve, reject) => {
        this.receipts.set(context, { resolve, reject });
        producer.send(JSON.stringify({ payload: payload.toString('base64'), context }));
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

/** Warm-up, then `n` measured hops; with several targets, in alternating blocks. */
async function measure(targets: readonly HopTarget[], options: HopOptions): Promise<Row[]> {
  const counters = targets.map(() => ({ seq: 0 }));
  for (let t = 0; t < targets.length; t++) await hops(targets[t], options.warmup, undefined, counters[t], options.gapMs);
  const samples = targets.map(() => newSamples());
  for (let done = 0; done < options.n; done += options.block) {
    const count = Math.min(options.block, options.n - done);
    for (let t = 0; t < targets.length; t++) await hops(targets[t], count, samples[t], counters[t], options.gapMs);
  }
  return targets.map((target, t) => rowOf(target, samples[t]));
}

// ----------------------------------------------------------------------------- broker

async function brokerAnswers(webUrl: string): Promise<string | undefined> {
  const { tenant, namespace } = DEFAULT_TOPIC_NAMING;
  try {
    const response = await fetch(`${webUrl}/admin/v2/namespaces/${tenant}/${namespace}`, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) return `namespace ${tenant}/${namespace}: HTTP ${response.status}`;
    return undefined;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error instanceof Error ? error.message : String(error)}${cause}`;
  }
}

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

interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

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

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function figuresOf(rows: readonly Row[], gapMs: number, ratio?: { p50: number; p99: number }): Figure[] {
  const figures: Figure[] = [];
  if (gapMs > 0) figures.push({ name: 'hop.gap', value: gapMs, unit: 'ms' });
  for (const r of rows) {
    figures.push(
      { name: `hop.${r.name}.n`, value: r.summary.n, unit: 'events' },
      { name: `hop.${r.name}.p50`, value: round(r.summary.p50Ms, 4), unit: 'ms' },
      { name: `hop.${r.name}.p99`, value: round(r.summary.p99Ms, 4), unit: 'ms' },
      { name: `hop.${r.name}.mean`, value: round(r.summary.meanMs, 4), unit: 'ms' },
      { name: `hop.${r.name}.throughput`, value: round(r.eventsPerSecond, 1), unit: 'events/s' },
      { name: `hop.${r.name}.payload`, value: r.payloadBytes, unit: 'bytes' },
    );
  }
  if (ratio) {
    figures.push({ name: 'hop.ratio.p50', value: round(ratio.p50, 3), unit: 'x' });
    figures.push({ name: 'hop.ratio.p99', value: round(ratio.p99, 3), unit: 'x' });
  }
  return figures;
}

// ----------------------------------------------------------------------------- entry

/** Runs the hop benchmark; returns the process exit code. */
export async function runHop(options: HopOptions): Promise<number> {
  const run = randomBytes(4).toString('hex');
  const topic = `bench-hop-${run}`;
  const rawTopic = `bench-hop-${run}-raw`;
  const machine = { cores: availableParallelism(), node: process.version, cpuModel: cpus()[0]?.model ?? 'unknown' };
  process.stdout.write(
    `hop: one event, publish -> handler invoked, closed loop; n=${options.n} per bus after ${options.warmup} warm-up` +
      `${options.gapMs > 0 ? `, ${options.gapMs} ms idle before each event` : ''}\n` +
      `machine: ${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}; topics ${topic}, ${rawTopic}\n\n`,
  );

  const rows: Row[] = [];

  // 1. the mesh on the memory bus
  const broker = new MemoryBroker();
  const memory = new MeshTarget('memory', broker.connect(), topic);
  try {
    await memory.start();
    rows.push(...(await measure([memory], options)));
  } finally {
    await memory.close();
    broker.shutdown();
  }

  // 2 + 3. the mesh on pulsar-ws and the raw pair, same broker, alternating blocks
  let ratio: { p50: number; p99: number } | undefined;
  const unreachable = await brokerAnswers(options.webUrl);
  if (unreachable) {
    process.stdout.write(
      `Pulsar broker at ${options.webUrl} did not answer (${unreachable}).\n` +
        `Skipping pulsar-ws and raw; start it with: bash deploy/pulsar/pulsar.sh up\n\n`,
    );
  } else {
    const bus = new PulsarWsEventBus({ webUrl: options.webUrl });
    const mesh = new MeshTarget('pulsar-ws', bus, topic);
    const raw = new RawTarget(bus.wsBase, rawTopic);
    try {
      await mesh.start();
      await raw.start();
      const [meshRow, rawRow] = await measure([mesh, raw], options);
      rows.push(meshRow, rawRow);
      ratio = { p50: meshRow.summary.p50Ms / rawRow.summary.p50Ms, p99: meshRow.summary.p99Ms / rawRow.summary.p99Ms };
      const strays = mesh.probe.strays + raw.probe.strays;
      if (strays > 0) process.stdout.write(`note: ${strays} redelivered/late event(s) ignored\n`);
    } finally {
      await Promise.allSettled([mesh.close(), raw.close()]);
      await deleteTopics(options.webUrl, [topic, rawTopic]);
    }
  }

  printTable(rows);
  if (ratio) process.stdout.write(`\nmesh/raw (pulsar-ws vs raw): p50 x${fixed(ratio.p50, 2)}  p99 x${fixed(ratio.p99, 2)}\n`);

  mkdirSync(options.resultsDir, { recursive: true });
  const file = join(options.resultsDir, 'hop.json');
  writeFileSync(file, `${JSON.stringify({ machine, figures: figuresOf(rows, options.gapMs, ratio) }, null, 2)}\n`);
  process.stdout.write(`\nwrote ${relative(process.cwd(), file)}\n`);
  return 0;
}
