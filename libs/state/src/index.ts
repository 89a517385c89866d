export type { ApplyOnceResult, ChainResult, HashField, OnceStep, SlotWrite, SlotWriteResult, StateOp, StateOpResult, StateStore } from './state-store';
export { DEFAULT_MARKER_TTL_SECONDS, MARKER_NAMESPACE } from './internal/validation';
export { MemoryStateStore, type MemoryStateStoreOptions } from './memory/memory-state-store';
export { DEFAULT_KEY_PREFIX, RedisStateStore, type RedisStateStoreOptions } from './redis/redis-state-store';
export { createStateStore, type StateStoreConfig } from './create-state-store';
