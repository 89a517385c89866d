import { SagaAbortV1, SagaStartV1, Topics } from '@agent-mesh/contracts';
import type { StepUnit } from '../step-unit';

/**
 * A saga: `saga.start` to the saga coordinator, whose `saga.completed` / `.compensated` /
 * `.failed` ends it. Past its own deadline it is aborted — it compensates, and that ends the
 * step — rather than failed with its effects in place (its steps have deadlines of their own
 * in the coordinator).
 */
export function sagaUnit(): StepUnit<'saga'> {
  return {
    start: (step, { plan, path }) => ({
      work: [plan.events.command(Topics.sagaCommands, SagaStartV1, { stepPath: path, steps: step.steps })],
    }),
    expire: (_step, { plan, path, reason }) => [
      plan.events.command(Topics.sagaCommands, SagaAbortV1, { stepPath: path, reason }),
    ],
  };
}
