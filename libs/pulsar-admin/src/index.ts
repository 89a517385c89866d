export { PulsarAdmin } from './pulsar-admin';
export { PulsarAdminError, PulsarUnreachableError } from './errors';
export { parseTopicName, persistentTopic, type PersistentTopicName } from './topic-name';
export type {
  ClusterData,
  ConsumerStats,
  EnsureResult,
  InitialPosition,
  NamespacePolicies,
  PublisherStats,
  PulsarAdminOptions,
  RestMessage,
  RetentionPolicy,
  SubscriptionStats,
  SubscriptionType,
  TenantInfo,
  TopicStats,
} from './types';
