import {
  compileFailurePolicy,
  type FailurePolicy,
  type QuorumPolicy,
  type RetryBranchPolicy,
} from '@agent-mesh/contracts';
import { inBranchOrder, label } from './branches';
import type { BranchResult, Decision } from './types';

/** Attempts made so far per branch index (a branch not listed has made 1 attempt). */
export type Attempts = Readonly<Record<number, number>>;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function describeFailures(failed: readonly BranchResult[]): string {
  return failed.map((b) => (b.error ? `${label(b)}: ${b.error}` : label(b))).join('; ');
}

/**
 * Decides what a fan-out does next given its branches' states. Pure: call it after every branch
 * event with the current picture.
 *
 * - `fail-fast`: any failed branch → `failed` now; else `pending` until all completed → `completed`.
 * - `retry-branch`: a failed branch with attempts < maxRetries + 1 → `retry` (listing them); a
 *   failed branch with its attempts used up → `failed` (even if others could still retry);
 *   else as fail-fast.
 * - `proceed-with-partial`: `pending` while any branch is pending; then `completed` with the
 *   completed branches if there is at least one, else `failed`.
 * - `quorum` k: `completed` once k branches completed (pending ones are not waited for; every
 *   branch completed so far is used); `failed` once completed + pending < k.
 *
 * `used` lists the branches whose outputs feed the strategy (only for `completed`); `branches`
 * lists what the outcome is about (to retry, that failed, still pending). Throws on an invalid
 * policy for this many branches, an empty or inconsistent branch list, or bad attempt counts.
 */
export function decide(policy: FailurePolicy, branches: readonly BranchResult[], attempts: Attempts = {}): Decision {
  const ordered = inBranchOrder(branches);
  if (ordered.length === 0) throw new Error('decide: a fan-out has at least one branch');
  compileFailurePolicy(policy, ordered.length); // throws on a policy invalid for this many branches
  const picture: Picture = {
    ordered,
    completed: ordered.filter((b) => b.status === 'completed'),
    failed: ordered.filter((b) => b.status === 'failed'),
    pending: ordered.filter((b) => b.status === 'pending'),
  };
  switch (policy.type) {
    case 'fail-fast':
      return decideFailFast(picture);
    case 'retry-branch':
      return decideRetryBranch(policy, picture, attempts);
    case 'proceed-with-partial':
      return decideProceedWithPartial(picture);
    case 'quorum':
      return decideQuorum(policy, picture);
  }
}

/** A fan-out's branches, in branch order, and by status. */
interface Picture {
  readonly ordered: readonly BranchResult[];
  readonly completed: readonly BranchResult[];
  readonly failed: readonly BranchResult[];
  readonly pending: readonly BranchResult[];
}

const indexes = (list: readonly BranchResult[]) => list.map((b) => b.branchIndex);

function waiting(name: string, { pending }: Picture): Decision {
  return {
    outcome: 'pending',
    branches: indexes(pending),
    reason: `${name}: waiting for ${plural(pending.length, 'branch', 'branches')}`,
    used: [],
  };
}

/** Pending until every branch completed, then completed from all of them. */
function whenAllCompleted(name: string, picture: Picture): Decision {
  if (picture.pending.length > 0) return waiting(name, picture);
  return {
    outcome: 'completed',
    reason: `${name}: all ${picture.ordered.length} completed`,
    used: indexes(picture.completed),
  };
}

function decideFailFast(picture: Picture): Decision {
  const { failed } = picture;
  if (failed.length > 0) {
    return {
      outcome: 'failed',
      branches: indexes(failed),
      reason: `fail-fast: ${failed.length} failed: ${describeFailures(failed)}`,
      used: [],
    };
  }
  return whenAllCompleted('fail-fast', picture);
}

function decideRetryBranch(policy: RetryBranchPolicy, picture: Picture, attempts: Attempts): Decision {
  const { failed } = picture;
  const limit = policy.maxRetries + 1;
  const attemptsOf = (b: BranchResult) => {
    const n = attempts[b.branchIndex] ?? 1;
    if (!Number.isSafeInteger(n) || n < 1)
      throw new Error(`decide: attempts[${b.branchIndex}] must be a positive integer (got ${String(n)})`);
    return n;
  };
  const exhausted = failed.filter((b) => attemptsOf(b) >= limit);
  if (exhausted.length > 0) {
    return {
      outcome: 'failed',
      branches: indexes(exhausted),
      reason: `retry-branch: ${exhausted.length} failed after ${plural(limit, 'attempt', 'attempts')} (maxRetries ${policy.maxRetries}): ${describeFailures(exhausted)}`,
      used: [],
    };
  }
  if (failed.length > 0) {
    const next = failed.map((b) => `${label(b)} attempt ${attemptsOf(b) + 1} of ${limit}`).join('; ');
    return { outcome: 'retry', branches: indexes(failed), reason: `retry-branch: ${next}`, used: [] };
  }
  return whenAllCompleted('retry-branch', picture);
}

function decideProceedWithPartial(picture: Picture): Decision {
  const { ordered, completed, failed, pending } = picture;
  if (pending.length > 0) return waiting('proceed-with-partial', picture);
  if (completed.length === 0) {
    return {
      outcome: 'failed',
      branches: indexes(failed),
      reason: `proceed-with-partial: all ${ordered.length} failed: ${describeFailures(failed)}`,
      used: [],
    };
  }
  return {
    outcome: 'completed',
    reason: `proceed-with-partial: ${completed.length} of ${ordered.length} completed, ${failed.length} failed`,
    used: indexes(completed),
  };
}

function decideQuorum({ k }: QuorumPolicy, picture: Picture): Decision {
  const { ordered, completed, failed, pending } = picture;
  if (completed.length >= k) {
    return {
      outcome: 'completed',
      reason: `quorum: ${completed.length} of ${ordered.length} completed (k=${k}), ${pending.length} pending, ${failed.length} failed`,
      used: indexes(completed),
    };
  }
  if (completed.length + pending.length < k) {
    return {
      outcome: 'failed',
      branches: indexes(failed),
      reason: `quorum: k=${k} is out of reach: ${completed.length} completed + ${pending.length} pending < ${k} (${failed.length} failed: ${describeFailures(failed)})`,
      used: [],
    };
  }
  return waiting('quorum', picture);
}

/** How many branches of a fan-out have completed and how many have failed (the rest are pending). */
export interface BranchCounts {
  readonly completed: number;
  readonly failed: number;
}

/**
 * Whether `decide` could return anything but `pending` for a fan-out of `branchCount` branches
 * with these counts — so a caller that keeps counts reads every branch only when this is true.
 * Never false when `decide` would decide: counts above `branchCount` (or below 0 pending) say
 * true. Throws, as `decide` does, on a policy invalid for this many branches.
 */
export function canDecide(policy: FailurePolicy, branchCount: number, counts: BranchCounts): boolean {
  compileFailurePolicy(policy, branchCount);
  const pending = branchCount - counts.completed - counts.failed;
  switch (policy.type) {
    case 'fail-fast':
    case 'retry-branch':
      // a failure fails or retries at once; otherwise only all completed decides
      return counts.failed > 0 || pending <= 0;
    case 'proceed-with-partial':
      return pending <= 0;
    case 'quorum':
      return counts.completed >= policy.k || counts.completed + pending < policy.k;
  }
}
