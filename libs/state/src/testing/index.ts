/**
 * Test helpers of the state lib for other projects' specs (`@agent-mesh/state/testing`): crash injection.
 * Start at dying-store.ts.
 */
export { DyingStore } from './dying-store';
