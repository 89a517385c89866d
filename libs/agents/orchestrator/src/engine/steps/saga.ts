import { SagaStartV1, Topics } from '@agent-mesh/contracts';
import type { StepUnit } from '../step-unit';

/** A saga: `saga.start` to the saga coordinator, whose `saga.completed` / `.compensated` / `.failed` ends it. */
export function sagaUnit(): StepUnit<'saga'> {
  return {
    start: (step, { plan, path }) => ({
      work: [plan.events.command(Topics.sagaCommands, SagaStartV1, { stepPath: path, steps: step.steps })],
    }),
  };
}
