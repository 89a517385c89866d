export * from './event-bus';
export { deadLetterMessage } from './dead-letter';
export { MemoryBroker, MemoryEventBus, type MemoryBrokerOptions } from './memory/memory-broker';
export { PulsarWsEventBus, type PulsarWsOptions } from './pulsar-ws/pulsar-ws-bus';
export { decodeMessageId, encodeMessageId, comparePositions, type MessagePosition } from './pulsar-ws/message-id';
export { PulsarNativeEventBus, loadPulsarClient, type PulsarNativeOptions } from './pulsar-native';
