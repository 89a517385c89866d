import type { TopicNaming } from '@agent-mesh/contracts';

/** What the metrics, heartbeats and broker stats of one agent process need; built by the runtime. */
export interface MeshMetricsOptions {
  readonly role: string;
  readonly instanceId: string;
  readonly region: string;
  readonly naming: TopicNaming;
  /** How often the agent publishes its heartbeat on `mesh.agents` (MESH_HEARTBEAT_MS); 0: never. */
  readonly heartbeatMs: number;
  /** How often this process samples the broker and publishes `mesh.stats` (MESH_STATS_MS); 0: never. */
  readonly statsMs: number;
  /** Pulsar's admin API, where broker stats come from on the Pulsar transport; without it, the memory broker's. */
  readonly pulsarAdmin?: { readonly webUrl: string; readonly token?: string };
  /**
   * In a geo set (MESH_GEO_PEER_WEB_URLS set): the sampling role also samples geo-replication
   * out of this region's cluster (needs pulsarAdmin).
   */
  readonly geoReplication?: boolean;
  /** The skills this process's worker serves, for its heartbeat. */
  readonly skills?: readonly string[];
}

export const MESH_METRICS_OPTIONS = Symbol('MESH_METRICS_OPTIONS');
