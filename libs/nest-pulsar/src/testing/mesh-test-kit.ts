/**
 * Test-only helpers for the nest-pulsar specs: small real Nest apps on the memory bus.
 * Not exported from the library's index.
 */
import type { INestApplication, Provider, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsInt, IsOptional, IsString, Min } from 'class-validator';
import { MemoryBroker, type BusMessage, type EventBus } from '@agent-mesh/bus';
import {
  defineEvent,
  EventRegistry,
  MESH_EVENT_DEFINITIONS,
  qualifyTopic,
  Topics,
  uuidv7,
  type EventOrigin,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { MeshPublisher } from '../mesh-publisher';
import { MeshTransportModule } from '../mesh-transport.module';
import { MeshTransportServer } from '../mesh-transport.server';
import type { MeshTransportOptions } from '../options';

export const NAMING: TopicNaming = { tenant: 't', namespace: 'n' };
export const ORIGIN: EventOrigin = { source: 'test@1', region: 'r1' };
export const MESH_DLQ = qualifyTopic(NAMING, Topics.deadLetter);

export function topicOf(short: string): string {
  return qualifyTopic(NAMING, short);
}

/** Body of the test-only `test.ping` event. */
export class Ping {
  @IsInt()
  @Min(0)
  n!: number;

  @IsOptional()
  @IsString()
  note?: string;
}

/** Body of the test-only `test.pong` event. */
export class Pong {
  @IsString()
  text!: string;
}

export const PingV1 = defineEvent('test.ping', 1, 'event', Ping);
export const PingV2 = defineEvent('test.ping', 2, 'event', Ping);
export const PongV1 = defineEvent('test.pong', 1, 'event', Pong);

/** The mesh's events plus the test events. */
export function testRegistry(): EventRegistry {
  return new EventRegistry([...MESH_EVENT_DEFINITIONS, PingV1, PongV1]);
}

/** A plain, valid `test.ping@1` envelope, for publishing raw (possibly broken) JSON. */
export function rawPingEnvelope(n: number, correlationId = 'raw-corr'): Record<string, unknown> {
  return {
    id: uuidv7(),
    type: PingV1.type,
    version: PingV1.version,
    correlationId,
    source: 'raw@1',
    region: 'r1',
    occurredAt: new Date().toISOString(),
    data: { n },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(5);
  }
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Every message currently on `topic`, oldest first (a throw-away reader). */
export async function readTopic(bus: EventBus, topic: string): Promise<BusMessage[]> {
  const reader = await bus.createReader({ topic, startMessageId: 'earliest' });
  const out: BusMessage[] = [];
  try {
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(100);
      if (!message) break;
      out.push(message);
    }
  } finally {
    await reader.close();
  }
  return out;
}

/** Reads `topic` until it holds `count` messages (fails after `timeoutMs`); returns them. */
export async function waitForMessages(
  bus: EventBus,
  topic: string,
  count: number,
  timeoutMs = 5000,
): Promise<BusMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await readTopic(bus, topic);
    if (messages.length >= count) return messages;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} message(s) on ${topic}`);
    await sleep(20);
  }
}

export interface MeshAppOptions {
  readonly controllers: Type<unknown>[];
  readonly providers?: Provider[];
  readonly registry?: EventRegistry;
  readonly topicVariables?: MeshTransportOptions['topicVariables'];
  readonly drainTimeoutMs?: number;
  readonly alwaysUseNestPipeline?: boolean;
  /** Connect the transport with the app's global enhancers (as the runtime's bootstrap does). */
  readonly inheritAppConfig?: boolean;
  /** Runs on the app before the transport is connected (e.g. `useGlobalInterceptors`). */
  readonly configure?: (app: INestApplication) => void;
  /** Homing, as in a geo set. */
  readonly homing?: MeshTransportOptions['homing'];
}

export interface MeshTestApp {
  readonly app: INestApplication;
  readonly server: MeshTransportServer;
  /** This app's own bus client (closed by the app on shutdown). */
  readonly bus: EventBus;
}

/**
 * One MemoryBroker per test, the apps started on it, and an external client + publisher that
 * play "another process". `dispose()` closes everything.
 */
export class MeshHarness {
  readonly broker = new MemoryBroker();
  readonly registry: EventRegistry;
  readonly external: EventBus;
  readonly publisher: MeshPublisher;
  private readonly apps: INestApplication[] = [];

  constructor(registry: EventRegistry = testRegistry()) {
    this.registry = registry;
    this.external = this.broker.connect();
    this.publisher = new MeshPublisher({ bus: this.external, registry, naming: NAMING, origin: ORIGIN });
  }

  /** Builds the app and connects the transport, without starting it. */
  async create(options: MeshAppOptions): Promise<MeshTestApp> {
    const bus = this.broker.connect();
    const moduleRef = await Test.createTestingModule({
      imports: [
        MeshTransportModule.forRoot({
          bus,
          registry: options.registry ?? this.registry,
          naming: NAMING,
          origin: ORIGIN,
          topicVariables: options.topicVariables,
          drainTimeoutMs: options.drainTimeoutMs,
          alwaysUseNestPipeline: options.alwaysUseNestPipeline,
          homing: options.homing,
        }),
      ],
      controllers: options.controllers,
      providers: options.providers ?? [],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: process.env['MESH_TEST_LOGS'] ? undefined : false });
    this.apps.push(app);
    const server = app.get(MeshTransportServer);
    options.configure?.(app);
    app.connectMicroservice({ strategy: server }, { inheritAppConfig: options.inheritAppConfig });
    return { app, server, bus };
  }

  /** Builds, starts the consumers and initialises the app. */
  async start(options: MeshAppOptions): Promise<MeshTestApp> {
    const created = await this.create(options);
    await created.app.startAllMicroservices();
    await created.app.init();
    return created;
  }

  /** Publishes raw bytes/string to a short topic name, bypassing every contract check. */
  async publishRaw(shortTopic: string, payload: string, key?: string): Promise<string> {
    return this.external.publish(topicOf(shortTopic), { payload, key });
  }

  backlog(shortTopic: string, subscription: string): number {
    return this.broker.backlog(topicOf(shortTopic), subscription);
  }

  async dispose(): Promise<void> {
    for (const app of this.apps.splice(0)) {
      await app.close().catch(() => undefined);
    }
    await this.external.close();
    this.broker.shutdown();
  }
}
