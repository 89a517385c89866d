/**
 * The event-sourced rebuild: a workflow's Redis state made again from the log, by the roles' own handlers.
 * Start at rebuild.ts (rebuildWorkflows), then replay-bus.ts and replay-state-store.ts; command.ts is `mesh replay`.
 */
export {
  rebuildWorkflows,
  type RebuildOptions,
  type PublishedOutput,
  type RebuildReport,
  type ReplayedRole,
  type UnsettledEvent,
  type WorkflowRebuild,
} from './rebuild';
export { REPLAYED_ROLES } from './roles';
export type { UnmatchedOutput } from './log-stamps';
export { findRunningWorkflows } from './running';
export { adoptRegion, type AdoptionOptions, type AdoptionReport } from './adopt';
export {
  formatAdoptionReport,
  runFailOverCommand,
  type FailOverCommandArgs,
  formatReplayReport,
  replayFailed,
  runReplayCommand,
  type ReplayCommandArgs,
  type ReplayReport,
} from './command';
export { LogWorkflowReader, WorkflowLogReaderModule } from './workflow-log-reader';
export { GeoAdminController, GeoAdminModule, type FailOverAnswer } from './geo-admin';
export { GeoAutoFailOver } from './auto-fail-over';
