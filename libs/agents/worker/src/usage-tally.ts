import type { TaskUsage } from '@agent-mesh/contracts';
import type { SkillUsage } from '@agent-mesh/skills';

/** What a task's model calls used, summed from the skill's `recordUsage` calls onto `task.completed`. */
export class UsageTally {
  private calls = 0;
  private promptTokens = 0;
  private completionTokens = 0;
  private costUsd?: number;

  /** The skill's `recordUsage`. */
  readonly record = (usage: SkillUsage): void => {
    this.calls++;
    this.promptTokens += wholeTokens(usage.promptTokens);
    this.completionTokens += wholeTokens(usage.completionTokens);
    if (usage.costUsd !== undefined && Number.isFinite(usage.costUsd) && usage.costUsd >= 0)
      this.costUsd = (this.costUsd ?? 0) + usage.costUsd;
  };

  /** The `usage` of `task.completed`: absent when the skill recorded no call. */
  total(): TaskUsage | undefined {
    if (this.calls === 0) return undefined;
    const total: TaskUsage = {
      calls: this.calls,
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
    };
    if (this.costUsd !== undefined) total.costUsd = this.costUsd;
    return total;
  }
}

/** A count the contract accepts (a non-negative integer), whatever a skill reports. */
function wholeTokens(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}
