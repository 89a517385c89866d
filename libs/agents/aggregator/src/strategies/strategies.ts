import { DEFAULT_ID_FIELD, DEFAULT_RRF_K, type SkillFreeStrategy } from '@agent-mesh/contracts';
import { completedInOrder } from './branches';
import { canonicalJson, readPath } from './json';
import type { BranchResult } from './types';

export interface BranchOutput {
  readonly branchIndex: number;
  readonly inputId?: string;
  readonly output: Record<string, unknown>;
}

export interface LastWrite extends BranchOutput {
  readonly completedAt?: number;
}

export interface MajorityVoteResult {
  /** The winning value (as first seen), or undefined when nobody voted. */
  readonly winner: unknown;
  /** Votes per value, keyed by the value's canonical JSON (so `"cat"` for the string cat, `1` for the number). */
  readonly votes: Record<string, number>;
  /** Votes cast: completed branches with a value at the field. */
  readonly total: number;
  /** Completed branches with nothing at the field (undefined); they do not vote. */
  readonly abstained: number;
}

export interface RankedItem {
  readonly id: string;
  readonly score: number;
}

export type AggregateResult =
  | { readonly type: 'all'; readonly outputs: BranchOutput[] }
  | { readonly type: 'last-writer-wins'; readonly winner: LastWrite | undefined }
  | ({ readonly type: 'majority-vote' } & MajorityVoteResult)
  | { readonly type: 'ranked-fusion'; readonly ranking: RankedItem[] };

function toOutput(branch: BranchResult): BranchOutput {
  return {
    branchIndex: branch.branchIndex,
    ...(branch.inputId !== undefined && { inputId: branch.inputId }),
    output: branch.output ?? {},
  };
}

/** `all`: every completed branch's output (a missing output counts as `{}`), in branch order. */
export function collectAll(branches: readonly BranchResult[]): BranchOutput[] {
  return completedInOrder(branches).map(toOutput);
}

/**
 * `last-writer-wins`: the completed branch with the greatest `completedAt`; equal times go to the
 * higher branch index, and a branch without `completedAt` loses to any branch that has one.
 * Undefined when no branch completed.
 */
export function lastWriterWins(branches: readonly BranchResult[]): LastWrite | undefined {
  let best: BranchResult | undefined;
  for (const branch of completedInOrder(branches)) {
    // branches ascend by index, so `>=` lets the later (higher) index win a tie
    if (!best || (branch.completedAt ?? -Infinity) >= (best.completedAt ?? -Infinity)) best = branch;
  }
  if (!best) return undefined;
  return { ...toOutput(best), ...(best.completedAt !== undefined && { completedAt: best.completedAt }) };
}

/**
 * `majority-vote` over the value at `field` in each completed output. Values are compared by
 * canonical JSON (key order does not matter; the number 1 and the string "1" differ). A branch
 * with no value there abstains. Ties go to the value whose first vote comes from the lowest
 * branch index (branch order, not arrival order, so the result does not depend on timing).
 */
export function majorityVote(branches: readonly BranchResult[], field: string): MajorityVoteResult {
  const votes: Record<string, number> = {};
  const firstValue = new Map<string, unknown>(); // insertion order = order of first vote
  let total = 0;
  let abstained = 0;
  for (const branch of completedInOrder(branches)) {
    const value = readPath(branch.output ?? {}, field);
    if (value === undefined) {
      abstained += 1;
      continue;
    }
    const key = canonicalJson(value);
    if (!firstValue.has(key)) firstValue.set(key, value);
    votes[key] = (votes[key] ?? 0) + 1;
    total += 1;
  }
  let winnerKey: string | undefined;
  for (const key of firstValue.keys()) {
    if (winnerKey === undefined || votes[key] > votes[winnerKey]) winnerKey = key; // strict: earlier first vote keeps a tie
  }
  return { winner: winnerKey === undefined ? undefined : firstValue.get(winnerKey), votes, total, abstained };
}

/**
 * Reciprocal rank fusion over plain id lists: score(d) = Σ over lists containing d of
 * 1 / (k + rank), rank counted from 1. An id repeated within one list counts at its first
 * (best) rank only. Terms are summed best rank first, so ids with the same ranks get exactly
 * equal scores. Sorted by score descending, equal scores by id ascending (code-unit order).
 */
export function reciprocalRankFusion(
  lists: ReadonlyArray<ReadonlyArray<string>>,
  k: number = DEFAULT_RRF_K,
): RankedItem[] {
  if (typeof k !== 'number' || !Number.isFinite(k) || k < 0)
    throw new Error(`ranked-fusion: k must be a finite number >= 0 (got ${String(k)})`);
  const ranks = new Map<string, number[]>();
  for (const list of lists) {
    const seen = new Set<string>();
    list.forEach((id, index) => {
      if (seen.has(id)) return;
      seen.add(id);
      const mine = ranks.get(id) ?? [];
      mine.push(index + 1);
      ranks.set(id, mine);
    });
  }
  const items: RankedItem[] = [...ranks.entries()].map(([id, rs]) => ({
    id,
    score: [...rs].sort((a, b) => a - b).reduce((sum, rank) => sum + 1 / (k + rank), 0),
  }));
  return items.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * `ranked-fusion` over completed branches: the list at `field` in each output, items being ids
 * (strings or numbers, compared as strings) or objects carrying the id at `idField`. A branch
 * with nothing at `field` contributes no list; a value that is not a list, or an item with no
 * usable id, throws (a malformed output, not a vote).
 */
export function rankedFusion(
  branches: readonly BranchResult[],
  options: { readonly field: string; readonly idField?: string; readonly k?: number },
): RankedItem[] {
  const idField = options.idField ?? DEFAULT_ID_FIELD;
  const lists: string[][] = [];
  for (const branch of completedInOrder(branches)) {
    const value = readPath(branch.output ?? {}, options.field);
    if (value === undefined) continue;
    if (!Array.isArray(value))
      throw new Error(`ranked-fusion: branch #${branch.branchIndex} field ${options.field} is not a list`);
    lists.push(
      value.map((item: unknown, index) => {
        const id = typeof item === 'object' && item !== null && !Array.isArray(item) ? readPath(item, idField) : item;
        if (typeof id === 'string' && id.length > 0) return id;
        if (typeof id === 'number' && Number.isFinite(id)) return String(id);
        throw new Error(
          `ranked-fusion: branch #${branch.branchIndex} ${options.field}[${index}] has no string or number id (idField ${idField})`,
        );
      }),
    );
  }
  return reciprocalRankFusion(lists, options.k ?? DEFAULT_RRF_K);
}

/** Runs the declared strategy. Only completed branches are read; pass `decide(...).used` to pick them. */
export function aggregate(strategy: SkillFreeStrategy, branches: readonly BranchResult[]): AggregateResult {
  switch (strategy.type) {
    case 'all':
      return { type: 'all', outputs: collectAll(branches) };
    case 'last-writer-wins':
      return { type: 'last-writer-wins', winner: lastWriterWins(branches) };
    case 'majority-vote':
      return { type: 'majority-vote', ...majorityVote(branches, strategy.field) };
    case 'ranked-fusion':
      return { type: 'ranked-fusion', ranking: rankedFusion(branches, strategy) };
  }
}

/** The branches `decide` said to use, in branch order. */
export function selectBranches(branches: readonly BranchResult[], used: readonly number[]): BranchResult[] {
  const wanted = new Set(used);
  return branches.filter((b) => wanted.has(b.branchIndex)).sort((a, b) => a.branchIndex - b.branchIndex);
}
