/**
 * The orchestrator role: the workflow HTTP API and the engine that runs workflow specs step by step.
 * Start at orchestrator.module.ts, then engine/workflow-engine.ts and engine/workflow-state.ts (what the API returns).
 */
export { OrchestratorModule } from './orchestrator.module';
export type { StepState, TimelineEntry, WorkflowStatus, WorkflowView } from './engine/workflow-state';
