export interface PulsarAdminOptions {
  /** Broker web service URL, e.g. `http://127.0.0.1:8080` (a trailing `/` is ignored). */
  readonly webUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  readonly token?: string;
  /** PEM file of the CA that signed the broker's certificate, for an https:// webUrl (PULSAR_TLS_CA_FILE). */
  readonly tlsCaFile?: string;
  /** Per-request timeout; default 10 000 ms. */
  readonly timeoutMs?: number;
}

export interface TenantInfo {
  readonly adminRoles: string[];
  readonly allowedClusters: string[];
}

export interface ClusterData {
  readonly serviceUrl: string;
  readonly brokerServiceUrl: string;
}

export interface RetentionPolicy {
  /** -1 = unlimited, 0 = no retention beyond the backlog. */
  readonly minutes: number;
  /** -1 = unlimited. */
  readonly sizeMB: number;
}

export interface NamespacePolicies {
  readonly retention?: RetentionPolicy;
  readonly deduplication?: boolean;
  readonly replicationClusters?: string[];
  readonly messageTtlSeconds?: number;
}

/** What an `ensure*` call did. */
export type EnsureResult = 'created' | 'updated' | 'unchanged';

export type SubscriptionType = 'Exclusive' | 'Shared' | 'Failover' | 'Key_Shared';
export type InitialPosition = 'earliest' | 'latest';

export interface ConsumerStats {
  readonly consumerName: string;
  readonly unackedMessages: number;
  readonly msgOutCounter: number;
  readonly availablePermits: number;
  readonly address?: string;
  readonly connectedSince?: string;
}

export interface SubscriptionStats {
  readonly msgBacklog: number;
  readonly unackedMessages: number;
  /** `None` while no consumer has attached since the subscription was created or the topic loaded. */
  readonly type: SubscriptionType | 'None';
  readonly msgOutCounter: number;
  /** Messages per second delivered to its consumers (the broker's rate over its last stats interval). */
  readonly msgRateOut: number;
  readonly isDurable: boolean;
  readonly consumers: ConsumerStats[];
}

export interface PublisherStats {
  readonly producerName: string;
  readonly producerId: number;
  readonly accessMode: string;
  readonly msgRateIn: number;
  readonly address?: string;
  readonly connectedSince?: string;
}

/** A typed subset of `GET /admin/v2/persistent/{t}/{ns}/{topic}/stats`. */
export interface TopicStats {
  /**
   * Messages received from producers since the topic was loaded. Counts only messages from
   * connected producers (binary/WebSocket): the REST producer endpoint does not bump it.
   */
  readonly msgInCounter: number;
  readonly msgOutCounter: number;
  readonly bytesInCounter: number;
  readonly bytesOutCounter: number;
  /** Bytes stored for the topic (includes REST-produced messages). */
  readonly storageSize: number;
  readonly backlogSize: number;
  readonly subscriptions: Record<string, SubscriptionStats>;
  readonly publishers: PublisherStats[];
  /** e.g. `Enabled` / `Disabled`, when the broker reports it. */
  readonly deduplicationStatus?: string;
  /** Geo-replication, by remote cluster name (empty when the topic is not replicated). */
  readonly replication: Record<string, ReplicatorStats>;
}

/** One message for the REST producer endpoint (`POST /topics/persistent/…`). */
export interface RestMessage {
  /** With no schema on the request the broker uses a UTF-8 STRING schema: the payload is stored as-is. */
  readonly payload: string;
  readonly key?: string;
  readonly properties?: Record<string, string>;
  readonly eventTime?: number;
}

/** Pulsar's schema compatibility strategies (namespace policy `schemaCompatibilityStrategy`). */
export type SchemaCompatibilityStrategy =
  | 'UNDEFINED'
  | 'ALWAYS_INCOMPATIBLE'
  | 'ALWAYS_COMPATIBLE'
  | 'BACKWARD'
  | 'FORWARD'
  | 'FULL'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD_TRANSITIVE'
  | 'FULL_TRANSITIVE';

/**
 * A schema as the registry takes it: for `JSON` and `AVRO`, `schema` is an Avro record
 * definition (an object here; sent as its JSON text).
 */
export interface SchemaDefinition {
  readonly type: 'JSON' | 'AVRO';
  readonly schema: object;
  readonly properties?: Readonly<Record<string, string>>;
}

/** The latest schema registered for a topic. */
export interface StoredSchema {
  readonly version: number;
  readonly type: string;
  /** The schema definition, parsed. */
  readonly schema: unknown;
}

/** The registry's answer to "could this schema be registered now?". */
export interface SchemaCompatibility {
  readonly compatible: boolean;
  readonly strategy?: string;
  /** Why not (the broker's first line of explanation). */
  readonly reason?: string;
}

/** One direction of a topic's geo-replication, as the topic's stats report it (`replication.<remote>`). */
export interface ReplicatorStats {
  /** Messages of this topic not yet sent to the remote cluster. */
  readonly replicationBacklog: number;
  /** Messages per second sent to the remote cluster (the broker's last stats interval). */
  readonly msgRateOut: number;
  /** Messages per second received from the remote cluster. */
  readonly msgRateIn: number;
  /** Age of the oldest message not yet replicated; 0 when the backlog is empty. */
  readonly replicationDelayInSeconds: number;
  /** Whether the replicator's producer to the remote cluster is connected. */
  readonly connected: boolean;
}

/** A cluster of a geo-replicated set, as the geo bootstrap found it. */
export interface GeoClusterInfo {
  /** The cluster's `clusterName`, e.g. `us-east`. */
  readonly name: string;
  /** Where the bootstrap reached its admin API. */
  readonly webUrl: string;
  /** The cluster's registration of itself: what the other clusters register it with. */
  readonly data: ClusterData;
}
