import type { EventBus } from '@agent-mesh/bus';
import {
  qualifyTopic,
  Topics,
  WorkflowCancelledV1,
  WorkflowCompensatedV1,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowRequestedV1,
  WorkflowSubmittedV1,
  WorkflowTimedOutV1,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { readTopic } from './event-log';

/** What begins a workflow on `workflow.events`. */
export const BEGINNINGS: ReadonlySet<string> = new Set([WorkflowSubmittedV1, WorkflowRequestedV1].map((d) => d.type));
/** Its one terminal event. */
export const ENDINGS: ReadonlySet<string> = new Set(
  [WorkflowCompletedV1, WorkflowFailedV1, WorkflowCompensatedV1, WorkflowCancelledV1, WorkflowTimedOutV1].map(
    (d) => d.type,
  ),
);

/**
 * The workflows the log says are running: begun on `workflow.events` (submitted or requested) with no terminal event there. Read from the log, not from Redis, so it finds the
 * workflows whose state is lost. In the order they began.
 */
export async function findRunningWorkflows(bus: EventBus, naming: TopicNaming): Promise<string[]> {
  const running = new Set<string>();
  const ended = new Set<string>();
  await readTopic(bus, qualifyTopic(naming, Topics.workflowEvents), ({ correlationId, type }) => {
    if (!correlationId || !type) return false;
    if (ENDINGS.has(type)) {
      ended.add(correlationId);
      running.delete(correlationId);
    } else if (BEGINNINGS.has(type) && !ended.has(correlationId)) running.add(correlationId);
    return false;
  });
  return [...running];
}
