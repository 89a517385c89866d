export type {
  AggregationStrategy,
  AggregationStrategyType,
  AllStrategy,
  BranchResult,
  BranchStatus,
  Decision,
  FailFastPolicy,
  FailurePolicy,
  FailurePolicyType,
  FanOutPolicy,
  LastWriterWinsStrategy,
  MajorityVoteStrategy,
  Outcome,
  ProceedWithPartialPolicy,
  QuorumPolicy,
  RankedFusionStrategy,
  RetryBranchPolicy,
} from './types';
export {
  aggregate,
  collectAll,
  lastWriterWins,
  majorityVote,
  rankedFusion,
  reciprocalRankFusion,
  selectBranches,
  DEFAULT_ID_FIELD,
  DEFAULT_RRF_K,
  type AggregateResult,
  type BranchOutput,
  type LastWrite,
  type MajorityVoteResult,
  type RankedItem,
} from './strategies';
export { canDecide, decide, type Attempts, type BranchCounts } from './failure-policies';
export { validateAggregationStrategy, validateFailurePolicy, validateFanOutPolicy, DEFAULT_FAN_OUT_POLICY, MAX_RETRIES } from './validate';
export { canonicalJson, readPath } from './json';
