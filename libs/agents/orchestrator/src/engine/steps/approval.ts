import type { ApprovalDecided } from '@agent-mesh/contracts';
import type { StepUnit } from '../step-unit';

/**
 * A human approval: starting it sends nothing; the step waits (its record says for what) until
 * `approval.decided` ends it (OrchestratorEventsController.onApprovalDecided), or its deadline
 * fails it as any step's does.
 */
export function approvalUnit(): StepUnit<'approval'> {
  return {
    start: (step) => ({ awaiting: { what: 'approval', prompt: step.prompt } }),
  };
}

/**
 * An approved step's output: the decision, and the output it was asked about (`previous`, the
 * stage before it in a chain), so the next stage can take its input from `previous.<field>`.
 */
export function approvedOutput(
  decision: Pick<ApprovalDecided, 'comment' | 'by'>,
  previous: Record<string, unknown> | undefined,
): Record<string, unknown> {
  return { approved: true, comment: decision.comment, by: decision.by, previous };
}

/** Why a rejected step fails. */
export const rejectedReason = (decision: Pick<ApprovalDecided, 'comment' | 'by'>): string =>
  `rejected${decision.by ? ` by ${decision.by}` : ''}${decision.comment ? `: ${decision.comment}` : ''}`;
