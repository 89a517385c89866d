/**
 * The worker role: runs skills on the tasks of `tasks.<skill>` topics, and bids on market asks.
 * Start at worker.module.ts, then worker.controller.ts and task-runner.ts; bidding is in bidding/,
 * stopping the tasks of a workflow that was cancelled or timed out in cancellation/.
 */
export { WorkerModule } from './worker.module';
export { WORKER_SUBSCRIPTION } from './worker.controller';
export { TokenStream, TOKEN_FLUSH_MS, type TokenStreamTarget } from './token-stream';
