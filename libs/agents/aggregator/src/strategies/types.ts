export type BranchStatus = 'completed' | 'failed' | 'pending';

/** What the aggregator knows about one branch of a fan-out. */
export interface BranchResult {
  readonly branchIndex: number;
  readonly inputId?: string;
  readonly status: BranchStatus;
  readonly output?: Record<string, unknown>;
  /** When the branch completed: a sequence number or epoch ms (only compared, never read as a date). */
  readonly completedAt?: number;
  readonly error?: string;
}

/** Every completed output, in branch order. */
export interface AllStrategy {
  readonly type: 'all';
}

/** The output with the greatest `completedAt` (ties: the higher branch index). */
export interface LastWriterWinsStrategy {
  readonly type: 'last-writer-wins';
}

/** The most common value at `field` (a dotted path such as `answer.choice`). */
export interface MajorityVoteStrategy {
  readonly type: 'majority-vote';
  readonly field: string;
}

/**
 * Reciprocal rank fusion of the ranked lists found at `field`: each list holds ids, or objects
 * whose `idField` (default `id`) is the id. score(d) = Σ 1 / (k + rank), rank from 1, k default 60.
 */
export interface RankedFusionStrategy {
  readonly type: 'ranked-fusion';
  readonly field: string;
  readonly idField?: string;
  readonly k?: number;
}

export type AggregationStrategy = AllStrategy | LastWriterWinsStrategy | MajorityVoteStrategy | RankedFusionStrategy;
export type AggregationStrategyType = AggregationStrategy['type'];

/** Any failed branch fails the fan-out at once. */
export interface FailFastPolicy {
  readonly type: 'fail-fast';
}

/** A failed branch is re-run up to `maxRetries` times; a branch failing after that fails the fan-out. */
export interface RetryBranchPolicy {
  readonly type: 'retry-branch';
  readonly maxRetries: number;
}

/** Wait for every branch; succeed with whatever completed (failed only if nothing did). */
export interface ProceedWithPartialPolicy {
  readonly type: 'proceed-with-partial';
}

/** Succeed as soon as `k` branches completed; fail as soon as `k` can no longer be reached. */
export interface QuorumPolicy {
  readonly type: 'quorum';
  readonly k: number;
}

export type FailurePolicy = FailFastPolicy | RetryBranchPolicy | ProceedWithPartialPolicy | QuorumPolicy;
export type FailurePolicyType = FailurePolicy['type'];

/** How a fan-out joins: which branches count (failure policy) and how their outputs combine (strategy). */
export interface FanOutPolicy {
  readonly strategy: AggregationStrategy;
  readonly failure: FailurePolicy;
}

export type Outcome = 'pending' | 'completed' | 'failed' | 'retry';

export interface Decision {
  readonly outcome: Outcome;
  /**
   * The branches the outcome is about: `retry` → the branches to re-run; `failed` → the failed
   * branches that caused it; `pending` → the branches still pending. Absent for `completed`.
   */
  readonly branches?: number[];
  readonly reason?: string;
  /** The branches whose outputs feed the strategy, in branch order; empty unless `completed`. */
  readonly used: number[];
}
