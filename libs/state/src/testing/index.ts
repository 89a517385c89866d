/**
 * Test helpers of the state lib for other projects' specs (`@agent-mesh/state/testing`): crash
 * and fault injection. Start at dying-store.ts (a process dies after a write) and
 * faulty-store.ts (a write fails once, the process lives on).
 */
export { DyingStore } from './dying-store';
export { FaultyStore, InjectedStoreFault, type StoreWrite, type WriteFault } from './faulty-store';
