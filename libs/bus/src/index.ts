/**
 * The EventBus port, with Apache Pulsar's semantics, and its drivers: in-memory, Pulsar over WebSocket, native Pulsar.
 * Start at event-bus.ts (the port); the drivers are in memory/, pulsar-ws/ and pulsar-native/.
 */
export {
  type SubscriptionType,
  type InitialPosition,
  type BusMessage,
  type SubscribeOptions,
  type OutgoingMessage,
  DeadLetterProperties,
  RetryProperties,
  defaultRetryTopic,
  DEAD_LETTER_SUBSCRIPTION,
  type Reader,
  type Consumer,
  type BusConnectionStatus,
  type EventBus,
  BusClosedError,
} from './event-bus';
export { deadLetterMessage, retryMessage, failedAttempts, MAX_FAILURE_DETAIL_CHARS } from './dead-letter';
export { MemoryBroker, MemoryEventBus, type MemorySubscriptionStats } from './memory/memory-broker';
export { PulsarWsEventBus } from './pulsar-ws/pulsar-ws-bus';
export { PulsarNativeEventBus, loadPulsarClient } from './pulsar-native';
export { trustedFetch, type HttpFetch } from './trusted-fetch';
export { UpgradeRefusedError } from './pulsar-ws/ws-session';
