/**
 * The StateStore port (the Redis projection of the event log, changed through applyOnce) and its stores.
 * Start at state-store.ts (the port), then create-state-store.ts; the stores are in memory/ and redis/.
 */
export type {
  ApplyOnceResult,
  ChainResult,
  OnceStep,
  SlotWrite,
  SlotWriteResult,
  StateOp,
  StateOpResult,
  StateStore,
  ReserveResult,
  WindowClaim,
} from './state-store';
export { expireOps, windowMember, windowWeight } from './state-store';
export { MemoryStateStore } from './memory/memory-state-store';
export { maskRedisUrl, RedisStateStore, type RedisTlsOptions } from './redis/redis-state-store';
export { createStateStore, type StateStoreConfig } from './create-state-store';
