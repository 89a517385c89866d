import {
  backoffDelayMs,
  backoffPolicy,
  StageFailedV1,
  StageValidatedV1,
  Topics,
  type StepOf,
} from '@agent-mesh/contracts';
import { evaluateGate } from '../gate';
import type { Outgoing } from '../outgoing';
import type { ChildCompleted, StepDeps, StepUnit } from '../step-unit';

/**
 * A chain: its first stage starts with it; a stage's end is gated (`stage.validated`, or the
 * gate's onFail: retry the stage, run its recovery, or fail the chain) and starts the next
 * stage with its output, and the last stage's output is the chain's.
 */
export function chainUnit({ flow }: StepDeps): StepUnit<'chain'> {
  const gateFailed = async (chain: StepOf<'chain'>, end: ChildCompleted, reason: string): Promise<void> => {
    const { plan, parent, attempt, output } = end;
    const onFail = chain.stages[parent.index].gate?.onFail;
    const stagePath = `${parent.path}.stages.${parent.index}`;
    const retriesLeft = onFail?.action === 'retry' && attempt <= (onFail.maxRetries ?? 0);
    const action = onFail?.action === 'retry' && !retriesLeft ? 'fail' : (onFail?.action ?? 'fail');
    const failed = plan.events.event(
      Topics.workflowEvents,
      StageFailedV1,
      { chainPath: parent.path, stage: parent.index, reason, action },
      { stepPath: stagePath, detail: `${action}: ${reason}` },
    );
    if (onFail?.action === 'retry' && action === 'retry') {
      // The bad output goes nowhere: the stage runs again on the same input, after its backoff.
      const previousPath = (await plan.stateOf(stagePath))?.previousPath;
      const delayMs = backoffDelayMs(backoffPolicy(onFail.backoff, (onFail.maxRetries ?? 0) + 1), attempt);
      const previous = previousPath ? { path: previousPath } : undefined;
      return flow.start({ plan, path: stagePath, attempt: attempt + 1, previous, delayMs }, [failed]);
    }
    if (action === 'recover')
      return flow.start({ plan, path: `${stagePath}.recovery`, attempt: 1, previous: { path: stagePath, output } }, [
        failed,
      ]);
    const why =
      onFail?.action === 'retry'
        ? `gate of stage ${parent.index} still failing after ${attempt} attempts: ${reason}`
        : `gate of stage ${parent.index} failed: ${reason}`;
    return flow.fail(plan, parent.path, end.parentState.attempt, why, [failed]);
  };

  return {
    start: (_step, { path, previous }) => ({ children: [{ path: `${path}.stages.0`, previous }] }),

    async childCompleted(chain, end) {
      const { plan, parent, childPath, output } = end;
      const stage = chain.stages[parent.index];
      const also: Outgoing[] = [];
      // A recovery's output stands in for the stage's; it is not gated again.
      if (parent.link === 'stage' && stage.gate) {
        const verdict = evaluateGate(stage.gate, output);
        if (!verdict.ok) return gateFailed(chain, end, verdict.reason);
        const validated = { chainPath: parent.path, stage: parent.index };
        also.push(
          plan.events.event(Topics.workflowEvents, StageValidatedV1, validated, {
            stepPath: `${parent.path}.stages.${parent.index}`,
          }),
        );
      }
      const next = parent.index + 1;
      if (next < chain.stages.length)
        return flow.start(
          { plan, path: `${parent.path}.stages.${next}`, attempt: 1, previous: { path: childPath, output } },
          also,
        );
      return flow.complete(plan, parent.path, end.parentState.attempt, output, also);
    },
  };
}
