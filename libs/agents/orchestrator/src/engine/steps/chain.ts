import {
  backoffDelayMs,
  backoffPolicy,
  StageFailedV1,
  StageValidatedV1,
  Topics,
  type StepOf,
} from '@agent-mesh/contracts';
import { evaluateGate, judgeVerdict } from '../gate';
import type { Outgoing } from '../outgoing';
import type { ChildCompleted, Previous, StepDeps, StepFlow, StepUnit } from '../step-unit';

/** A stage's gate failed (a check, or its judge): the gate's onFail — retry the stage, run its recovery, or fail the chain. */
async function gateFailed(flow: StepFlow, chain: StepOf<'chain'>, end: ChildCompleted, reason: string): Promise<void> {
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
}

/** The stage's output goes on: the next stage starts with it, or it is the chain's output. */
function advance(
  flow: StepFlow,
  chain: StepOf<'chain'>,
  { plan, parent, parentState }: ChildCompleted,
  previous: Previous & { readonly output: Record<string, unknown> },
  also: readonly Outgoing[],
): Promise<void> {
  const next = parent.index + 1;
  if (next < chain.stages.length)
    return flow.start({ plan, path: `${parent.path}.stages.${next}`, attempt: 1, previous }, also);
  return flow.complete(plan, parent.path, parentState.attempt, previous.output, also);
}

/** The stage's gate holds (with the judge's reason, when it has one). */
function passed(
  flow: StepFlow,
  chain: StepOf<'chain'>,
  end: ChildCompleted,
  output: Record<string, unknown>,
  reason?: string,
): Promise<void> {
  const { plan, parent } = end;
  const stagePath = `${parent.path}.stages.${parent.index}`;
  const validated = plan.events.event(
    Topics.workflowEvents,
    StageValidatedV1,
    { chainPath: parent.path, stage: parent.index, reason },
    { stepPath: stagePath, detail: reason },
  );
  return advance(flow, chain, end, { path: stagePath, output }, [validated]);
}

/**
 * A chain: its first stage starts with it; a stage's end is gated (`stage.validated`, or the
 * gate's onFail: retry the stage, run its recovery, or fail the chain) and starts the next
 * stage with its output, and the last stage's output is the chain's. A gate's checks come
 * first; its judge (a task at `<stage>.judge`) then reads the output and accepts or rejects it.
 */
export function chainUnit({ flow }: StepDeps): StepUnit<'chain'> {
  return {
    start: (_step, { path, previous }) => ({ children: [{ path: `${path}.stages.0`, previous }] }),

    async childCompleted(chain, end) {
      const { plan, parent, childPath, attempt, output } = end;
      const gate = chain.stages[parent.index].gate;
      const stagePath = `${parent.path}.stages.${parent.index}`;
      // A recovery's output stands in for the stage's; it is not gated again.
      if (parent.link === 'stage' && gate) {
        const verdict = evaluateGate(gate, output);
        if (!verdict.ok) return gateFailed(flow, chain, end, verdict.reason);
        // The judge runs once the checks pass, as a task on the stage's output: once per stage
        // attempt (its attempt is the stage's), so a retried stage is judged again.
        if (gate.judge)
          return flow.start({ plan, path: `${stagePath}.judge`, attempt, previous: { path: stagePath, output } });
        return passed(flow, chain, end, output);
      }
      if (parent.link === 'judge') {
        const judged = (await plan.stateOf(stagePath))?.output ?? {};
        const verdict = judgeVerdict(output);
        // Rejected: exactly as a failed check, on the stage's output (its onFail applies).
        if (!verdict.ok) return gateFailed(flow, chain, { ...end, output: judged }, verdict.reason);
        return passed(flow, chain, end, judged, verdict.reason);
      }
      return advance(flow, chain, end, { path: childPath, output }, []);
    },
  };
}
