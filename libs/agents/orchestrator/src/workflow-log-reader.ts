import type { StateStore } from '@agent-mesh/state';
import { WorkflowState, type WorkflowView } from './engine/workflow-state';

/**
 * Where `GET /workflows/:id` looks when this region's state does not have the workflow: another
 * region's workflow, known here only by its replicated events (docs/geo.md). Provided by the app
 * (libs/replay's WorkflowLogReaderModule folds the events into a view); none by default.
 */
export const WORKFLOW_LOG_READER = Symbol('WORKFLOW_LOG_READER');

export interface WorkflowLogReader {
  /**
   * The workflow's view made from its events in the log, or undefined when the log has none of
   * it; `adoptedBy` names the region that adopted it when it was this region's (fail-back).
   */
  read(workflowId: string): Promise<(WorkflowView & { readonly adoptedBy?: string }) | undefined>;
}

/** The view `GET /workflows/:id` gives of a workflow whose orchestrator state is in `state`. */
export function workflowViewOf(state: StateStore, workflowId: string): Promise<WorkflowView | undefined> {
  return new WorkflowState(state).view(workflowId);
}
