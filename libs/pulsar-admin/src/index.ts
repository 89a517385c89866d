/**
 * A small typed client for Pulsar's admin REST API v2: tenants, namespaces, topics,
 * subscriptions and the schema registry; the geo-replication bootstrap and its lag.
 * Start at pulsar-admin.ts; request and answer shapes are in types.ts.
 */
export { PulsarAdmin } from './pulsar-admin';
export { bootstrapGeoReplication, type GeoBootstrapOptions, type GeoBootstrapReport } from './geo-bootstrap';
export { replicationLag, type ReplicationLag } from './replication-lag';
export type {
  ClusterData,
  GeoClusterInfo,
  ReplicatorStats,
  SchemaCompatibility,
  SchemaCompatibilityStrategy,
  SchemaDefinition,
  StoredSchema,
  SubscriptionStats,
  TopicStats,
} from './types';
