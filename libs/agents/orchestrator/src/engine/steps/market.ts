import { MarketAskV1, Topics, type StepOf } from '@agent-mesh/contracts';
import type { Outgoing, WorkflowEvents } from '../outgoing';
import type { StepUnit } from '../step-unit';

/** The ask of one round of a market step (`round` counts re-pricings; the ask id says which). */
export function marketAsk(
  events: WorkflowEvents,
  path: string,
  step: StepOf<'market'>,
  round: number,
  budget: number,
): Outgoing {
  return events.event(
    Topics.marketAsks,
    MarketAskV1,
    {
      stepPath: path,
      askId: `${events.workflowId}:${path}:ask-${round}`,
      market: step.skill,
      budget,
      maxEstimatedMs: step.maxEstimatedMs,
      expiresAt: Date.now() + step.expireAfterMs,
      input: step.input,
      params: step.params,
    },
    // Keyed by market: one market's orders reach the market maker in order.
    { stepPath: path, detail: `ask ${round} for ${step.skill}, budget ${budget}`, key: step.skill },
  );
}

/** A market step: an ask on `market.asks`; the filled task's result ends it, an expired ask is re-priced or fails it. */
export function marketUnit(): StepUnit<'market'> {
  return {
    start: (step, { plan, path }) => ({ work: [marketAsk(plan.events, path, step, 1, step.budget)] }),
  };
}
