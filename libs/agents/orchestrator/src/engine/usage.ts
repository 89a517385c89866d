import type { BudgetSpec, TaskUsage } from '@agent-mesh/contracts';

/** What model calls used, summed over tasks: a step's (with the steps under it) or a workflow's. */
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Absent when no task's calls were priced. */
  readonly costUsd?: number;
  readonly calls: number;
}

/** Costs are summed as integer micro-dollars (Redis HINCRBY), so sums stay exact. */
const MICRO = 1_000_000;

/** The counters one task's usage adds to, by name. */
export function usageIncrements(usage: TaskUsage): Record<string, number> {
  return {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    calls: usage.calls,
    ...(usage.costUsd === undefined ? {} : { costMicroUsd: Math.round(usage.costUsd * MICRO), priced: 1 }),
  };
}

/** Several tasks' usage as one (a solver round's); undefined when none had any. */
export function summedUsage(usages: readonly (TaskUsage | undefined)[]): TaskUsage | undefined {
  const counters: Record<string, number> = {};
  for (const usage of usages)
    for (const [name, by] of Object.entries(usage ? usageIncrements(usage) : {}))
      counters[name] = (counters[name] ?? 0) + by;
  return counters['calls'] ? usageOf(counters) : undefined;
}

/** Usage from its counters (absent ones read 0). */
export function usageOf(counters: Readonly<Record<string, number>>): Usage {
  const n = (name: string) => counters[name] ?? 0;
  return {
    promptTokens: n('promptTokens'),
    completionTokens: n('completionTokens'),
    costUsd: n('priced') > 0 ? n('costMicroUsd') / MICRO : undefined,
    calls: n('calls'),
  };
}

const tokens = (n: number) => n.toLocaleString('en-US');
const dollars = (n: number) => `$${n.toLocaleString('en-US', { maximumFractionDigits: 6 })}`;

/**
 * Why the workflow may go no further on its budget, if so: a task's completion fails its step
 * once usage is over the budget (`exceeded`); a step about to send work fails once it is all
 * used (`atDispatch`: at or over it).
 */
export function budgetProblem(budget: BudgetSpec | undefined, used: Usage, atDispatch = false): string | undefined {
  const beyond = (spent: number, limit: number) => spent > limit || (atDispatch && spent >= limit);
  const spentTokens = used.promptTokens + used.completionTokens;
  if (budget?.tokens !== undefined && beyond(spentTokens, budget.tokens))
    return `budget exceeded: ${tokens(spentTokens)} tokens used of ${tokens(budget.tokens)}`;
  if (budget?.costUsd !== undefined && beyond(used.costUsd ?? 0, budget.costUsd))
    return `budget exceeded: ${dollars(used.costUsd ?? 0)} used of ${dollars(budget.costUsd)}`;
  return undefined;
}
