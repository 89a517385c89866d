/**
 * The worker role: runs skills on the tasks of `tasks.<skill>` topics, and bids on market asks.
 * Start at worker.module.ts, then worker.controller.ts and task-runner.ts; bidding is in bidding/,
 * stopping the tasks of a workflow that was cancelled or timed out in cancellation/.
 */
export { WorkerModule } from './worker.module';
