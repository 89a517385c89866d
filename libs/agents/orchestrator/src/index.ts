/**
 * The orchestrator role: the workflow HTTP API and the engine that runs workflow specs step by step.
 * Start at orchestrator.module.ts, then engine/workflow-engine.ts and engine/workflow-state.ts (what the API returns).
 */
export { OrchestratorModule } from './orchestrator.module';
export type { StepState, TimelineEntry, WorkflowStatus, WorkflowView } from './engine/workflow-state';
export { WORKFLOW_LOG_READER, workflowViewOf, type WorkflowLogReader } from './workflow-log-reader';
export type { ReadOnlyWorkflowView } from './workflows.controller';
export type { WorkflowPage, WorkflowSummary } from './engine/workflow-state';
export type { ConsoleEvent, WorkflowChange } from './console';
