import type { BranchResult } from './types';

const STATUSES = new Set(['completed', 'failed', 'pending']);

/** Branch label for messages: `#2 (orchard)`. */
export function label(branch: BranchResult): string {
  return branch.inputId === undefined ? `#${branch.branchIndex}` : `#${branch.branchIndex} (${branch.inputId})`;
}

/**
 * Checks the branch list (indexes are non-negative integers, unique; statuses known) and
 * returns it sorted by branch index: every strategy and policy reads branches in branch order,
 * whatever order they arrived in.
 */
export function inBranchOrder(branches: readonly BranchResult[]): BranchResult[] {
  if (!Array.isArray(branches)) throw new Error('branches must be an array');
  const seen = new Set<number>();
  for (const branch of branches) {
    if (!Number.isSafeInteger(branch.branchIndex) || branch.branchIndex < 0) {
      throw new Error(`branchIndex must be a non-negative integer (got ${String(branch.branchIndex)})`);
    }
    if (seen.has(branch.branchIndex)) throw new Error(`branchIndex ${branch.branchIndex} appears more than once`);
    seen.add(branch.branchIndex);
    if (!STATUSES.has(branch.status))
      throw new Error(`branch #${branch.branchIndex}: unknown status ${JSON.stringify(branch.status)}`);
  }
  return [...branches].sort((a, b) => a.branchIndex - b.branchIndex);
}

/** Completed branches in branch order. */
export function completedInOrder(branches: readonly BranchResult[]): BranchResult[] {
  return inBranchOrder(branches).filter((b) => b.status === 'completed');
}
