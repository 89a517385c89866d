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
  /** How long shutdown waits for in-flight handlers. Default 30 s. */
  readonly drainTimeoutMs?: number;
}

export const MESH_TRANSPORT_OPTIONS = Symbol('MESH_TRANSPORT_OPTIONS');
