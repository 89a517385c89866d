export { OrchestratorModule } from './orchestrator.module';
export { OrchestratorService } from './orchestrator.service';
export type { BranchView, WorkflowStatus, WorkflowView } from './workflow-store';
