export interface PulsarAdminOptions {
  /** Broker web service URL, e.g. `http://127.0.0.1:8080` (a trailing `/` is ignored). */
  readonly webUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  readonly token?: string;
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
