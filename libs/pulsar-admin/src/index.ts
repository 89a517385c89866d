/**
 * A small typed client for Pulsar's admin REST API v2: tenants, namespaces, topics,
 * subscriptions and the schema registry.
 * Start at pulsar-admin.ts; request and answer shapes are in types.ts.
 */
export { PulsarAdmin } from './pulsar-admin';
export type { SchemaCompatibility, SchemaCompatibilityStrategy, SchemaDefinition, StoredSchema } from './types';
