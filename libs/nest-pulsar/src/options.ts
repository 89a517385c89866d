import type { EventBus } from '@agent-mesh/bus';
import type { EventOrigin, EventRegistry, TopicNaming } from '@agent-mesh/contracts';

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
}

export const MESH_TRANSPORT_OPTIONS = Symbol('MESH_TRANSPORT_OPTIONS');
