export { OrchestratorModule } from './orchestrator.module';
export { OrchestratorService, fanOutSpec } from './orchestrator.service';
export type { BranchView, StepState, TimelineEntry, WorkflowStatus, WorkflowSummary, WorkflowView } from './engine/workflow-state';
