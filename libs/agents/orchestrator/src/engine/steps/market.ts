import { bidWindowOf, MarketAskV1, Topics, type StepOf } from '@agent-mesh/contracts';
import type { Outgoing, WorkflowEvents } from '../outgoing';
import type { StepDeps, StepUnit } from '../step-unit';

/** Attempts of a market step: a step past its own deadline is re-opened until it has had this many. */
export const MARKET_ATTEMPTS = 3;

/**
 * The id of an ask: its round (re-pricings count up from 1) and, from the second on, the
 * step's attempt — `<workflowId>:<path>:ask-<round>`, `<workflowId>:<path>:attempt-<n>:ask-<round>`.
 */
export function askIdOf(workflowId: string, path: string, attempt: number, round: number): string {
  return attempt === 1 ? `${workflowId}:${path}:ask-${round}` : `${workflowId}:${path}:attempt-${attempt}:ask-${round}`;
}

/** The attempt and round an ask id names (see askIdOf). */
export function askRoundOf(askId: string): { readonly attempt: number; readonly round: number } {
  const found = /(?::attempt-(\d+))?:ask-(\d+)$/.exec(askId);
  return { attempt: Number(found?.[1] ?? '1'), round: Number(found?.[2] ?? '1') };
}

/**
 * The ask of one round of a market step's attempt (`round` counts re-pricings), expiring
 * `expireAfterMs` after it is made (its event's time, so a rebuild makes the ask live made).
 */
export function marketAsk(
  events: WorkflowEvents,
  path: string,
  step: StepOf<'market'>,
  round: number,
  budget: number,
  attempt = 1,
): Outgoing {
  return events.eventAt(
    Topics.marketAsks,
    MarketAskV1,
    (madeAt) => ({
      stepPath: path,
      askId: askIdOf(events.workflowId, path, attempt, round),
      market: step.skill,
      budget,
      maxEstimatedMs: step.maxEstimatedMs,
      expiresAt: madeAt.getTime() + step.expireAfterMs,
      bidWindowMs: bidWindowOf(step),
      ...(attempt > 1 && { attempt }),
      input: step.input,
      params: step.params,
    }),
    // Keyed by market: one market's orders reach the market maker in order.
    {
      stepPath: path,
      detail: `ask ${round}${attempt > 1 ? ` of attempt ${attempt}` : ''} for ${step.skill}, budget ${budget}`,
      key: step.skill,
    },
  );
}

/**
 * A market step: an ask on `market.asks`; the filled task's result ends it, an expired ask is
 * re-priced or fails it. Past its own deadline (`deadlineMs`: a winner that died after its
 * fill, or asks nobody filled in time) it is re-opened — a new attempt, with a fresh ask at the
 * starting budget — until it has had MARKET_ATTEMPTS; the enclosing deadline (the workflow's)
 * still bounds every attempt. A result of a replaced attempt comes late and counts nothing.
 */
export function marketUnit({ flow }: StepDeps): StepUnit<'market'> {
  return {
    start: (step, { plan, path, attempt }) => ({
      work: [marketAsk(plan.events, path, step, 1, step.budget, attempt)],
    }),
    expire: async (_step, { plan, path, attempt }) => {
      if (attempt >= MARKET_ATTEMPTS) return undefined;
      await flow.start({ plan, path, attempt: attempt + 1 });
      return [];
    },
  };
}
