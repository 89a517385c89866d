import { Topics, WorkflowDeadlineV1, type WorkflowDeadline } from '@agent-mesh/contracts';
import type { Outgoing, WorkflowEvents } from './outgoing';

/**
 * Deadlines are delayed messages, never sleeps: `workflow.deadline` on `workflow.timers`,
 * published when what it bounds starts and delivered once it has passed. The orchestrator
 * then decides from state whether it still matters (WorkflowEngine.expire).
 *
 * To stay cheap, a step sends a timer only when its own deadline is tighter than the one that
 * already bounds it: each step's record keeps its effective deadline (`deadlineAt`: its own
 * or its parent's, whichever is earlier), so a workflow costs one timer, plus one per step
 * (or batch of fan-out branches) that declares a tighter deadline of its own.
 */

/** The timer of a deadline, delivered once `afterMs` have passed. */
export function deadlineTimer(events: WorkflowEvents, deadline: WorkflowDeadline, afterMs: number): Outgoing {
  return events.command(Topics.workflowTimers, WorkflowDeadlineV1, deadline, { deliverAfterMs: Math.max(1, afterMs) });
}

/**
 * A deadline of `ms` (if declared) from `startsAt` under the bound that already applies
 * (`boundAt`, epoch ms; undefined: none): the one that applies, and whether it is the step's
 * own (tighter, so it needs a timer).
 */
export function tighterOf(
  boundAt: number | undefined,
  startsAt: number,
  ms: number | undefined,
): { readonly at: number | undefined; readonly own: boolean } {
  if (ms === undefined) return { at: boundAt, own: false };
  const own = startsAt + ms;
  return boundAt !== undefined && boundAt <= own ? { at: boundAt, own: false } : { at: own, own: true };
}

/** A record's `deadlineAt`, as epoch ms. */
export function deadlineAtOf(record: { readonly deadlineAt?: string } | undefined): number | undefined {
  const at = record?.deadlineAt ? Date.parse(record.deadlineAt) : Number.NaN;
  return Number.isFinite(at) ? at : undefined;
}

/** The reason a step, a branch or the workflow gives when its deadline passed. */
export const deadlineExceeded = (ms: number): string => `deadline exceeded (${ms} ms)`;
