// Test helpers of the state lib for other projects' specs (`@agent-mesh/state/testing`): crash injection.
export { DyingStore } from './dying-store';
