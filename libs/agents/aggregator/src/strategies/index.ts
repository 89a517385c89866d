export type { BranchResult, BranchStatus, Decision, Outcome } from './types';
export {
  aggregate,
  collectAll,
  lastWriterWins,
  majorityVote,
  rankedFusion,
  reciprocalRankFusion,
  selectBranches,
  type AggregateResult,
  type BranchOutput,
  type LastWrite,
  type MajorityVoteResult,
  type RankedItem,
} from './strategies';
export { canDecide, decide, type Attempts, type BranchCounts } from './failure-policies';
export { canonicalJson, readPath } from './json';
