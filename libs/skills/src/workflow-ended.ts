/**
 * The reason a task's signal carries when its workflow ended early — cancelled over the API
 * (`workflow.cancelled`) or past its deadline (`workflow.timed-out`) — while the task ran: the
 * work is no longer wanted. A skill that tells it apart from a timeout or a shutdown checks
 * `context.signal.reason instanceof WorkflowCancelledError`.
 */
export class WorkflowCancelledError extends Error {
  constructor(
    readonly workflowId: string,
    /** The terminal event that ended the workflow, e.g. `workflow.cancelled`. */
    readonly endedBy: string,
    readonly reason: string,
  ) {
    super(`workflow ${workflowId} ended (${endedBy}): ${reason}`);
    this.name = 'WorkflowCancelledError';
  }
}
