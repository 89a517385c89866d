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
