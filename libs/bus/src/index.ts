export * from './event-bus';
export { deadLetterMessage, describeError } from './dead-letter';
export { MemoryBroker, MemoryEventBus } from './memory/memory-broker';
