import type { EventBus } from '@agent-mesh/bus';
import type { EventOrigin, EventRegistry, TopicNaming } from '@agent-mesh/contracts';
import type { Homing } from './region-homing';

/** Everything the mesh transport needs; built from validated config by the runtime. */
export interface MeshTransportOptions {
  readonly bus: EventBus;
  readonly registry: EventRegistry;
  readonly naming: TopicNaming;
  /** Stamped on every event this process publishes. */
  readonly origin: EventOrigin;
  /** Values for `{name}` placeholders in handler topics, e.g. `{ capability: ['keywords'] }`. */
  readonly topicVariables?: Readonly<Record<string, readonly string[]>>;
  /** Largest payload MeshPublisher publishes; larger ones throw PayloadTooLargeError. Default 5 MiB (Pulsar's maxMessageSize). */
  readonly maxPayloadBytes?: number;
  /** How long shutdown waits for in-flight handlers. Default 30 s. */
  readonly drainTimeoutMs?: number;
  /**
   * Run every handler through Nest's RPC pipeline. By default a handler with no guard,
   * interceptor or pipe of its own (nor an APP_GUARD / APP_INTERCEPTOR / APP_PIPE provider) and
   * only `@Payload()` / `@Ctx()` parameters is called directly. Enhancers registered with
   * `app.useGlobalGuards/Interceptors/Pipes` are invisible to the transport: set this to have
   * them applied to mesh handlers.
   */
  readonly alwaysUseNestPipeline?: boolean;
  /** The events' ids, times and sources when they are known already (a rebuild). Default: new ones. */
  readonly stamps?: EventStamps;
  /**
   * In a geo set (docs/geo.md): which workflows this process works on. The server acks and skips
   * events of other homes; the publisher stamps its home on events no cause gives one. Undefined
   * (one region): every event is taken and none gets a home.
   */
  readonly homing?: Homing;
}

/** The id, time and source of an event about to be made. */
export interface EventStamp {
  readonly id: string;
  readonly occurredAt: Date;
  readonly source: string;
}

/**
 * Where a publisher takes the id, time and source of the events it makes when they are known
 * already: a rebuild from the log hands its handlers the log's own (the event of that topic and
 * type the event being handled caused, in order), so what they record of their outputs is what
 * live processing recorded. Undefined: a new id, the time now and this process's source.
 */
export interface EventStamps {
  stampFor(topic: string, type: string, causationId: string | undefined): EventStamp | undefined;
}

export const MESH_TRANSPORT_OPTIONS = Symbol('MESH_TRANSPORT_OPTIONS');
