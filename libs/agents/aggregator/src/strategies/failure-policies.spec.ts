import { canDecide, decide } from './failure-policies';
import type { FailurePolicy } from '@agent-mesh/contracts';
import type { BranchResult, BranchStatus } from './types';

/** Branches from a status string: c = completed, f = failed, p = pending; index = position. */
function branches(pattern: string): BranchResult[] {
  const status: Record<string, BranchStatus> = { c: 'completed', f: 'failed', p: 'pending' };
  return [...pattern].map((ch, i) => ({
    branchIndex: i,
    status: status[ch],
    ...(ch === 'c' && { output: { i } }),
    ...(ch === 'f' && { error: `boom ${i}` }),
  }));
}

describe('decide: quorum', () => {
  it('completes with 3 of 5 while the other 2 are still pending', () => {
    // c c p c p: completed 3 >= k 3 → completed now, using 0, 1, 3
    const d = decide({ type: 'quorum', k: 3 }, branches('ccpcp'));
    expect(d.outcome).toBe('completed');
    expect(d.used).toEqual([0, 1, 3]);
    expect(d.reason).toContain('3 of 5 completed (k=3), 2 pending');
  });

  it('waits while the quorum is still reachable', () => {
    // c c p p p: 2 < 3, 2 + 3 pending = 5 >= 3 → pending
    expect(decide({ type: 'quorum', k: 3 }, branches('ccppp'))).toEqual({
      outcome: 'pending',
      branches: [2, 3, 4],
      reason: 'quorum: waiting for 3 branches',
      used: [],
    });
    // c f p p f: 1 completed + 2 pending = 3 >= 3 → still pending
    expect(decide({ type: 'quorum', k: 3 }, branches('cfppf')).outcome).toBe('pending');
  });

  it('fails as soon as the quorum becomes impossible, without waiting for pending branches', () => {
    // c f f p f: 1 completed + 1 pending = 2 < 3 → failed; the failed are 1, 2, 4
    const d = decide({ type: 'quorum', k: 3 }, branches('cffpf'));
    expect(d).toEqual(expect.objectContaining({ outcome: 'failed', branches: [1, 2, 4], used: [] }));
    expect(d.reason).toContain('1 completed + 1 pending < 3');
    // k = 5 of 5: one failure makes it impossible (4 < 5) though 3 are pending
    expect(decide({ type: 'quorum', k: 5 }, branches('cfppp')).outcome).toBe('failed');
  });

  it('uses every completed branch once reached, and ignores failures past the quorum', () => {
    // c c c f f with k 2 → completed with 0, 1, 2
    expect(decide({ type: 'quorum', k: 2 }, branches('cccff'))).toEqual(
      expect.objectContaining({ outcome: 'completed', used: [0, 1, 2] }),
    );
  });
});

describe('decide: fail-fast', () => {
  it('fails at the first failure, even with branches pending', () => {
    expect(decide({ type: 'fail-fast' }, branches('cfp'))).toEqual({
      outcome: 'failed',
      branches: [1],
      reason: 'fail-fast: 1 failed: #1: boom 1',
      used: [],
    });
  });

  it('waits for pending branches and completes when all completed', () => {
    expect(decide({ type: 'fail-fast' }, branches('cpc'))).toEqual(
      expect.objectContaining({ outcome: 'pending', branches: [1] }),
    );
    expect(decide({ type: 'fail-fast' }, branches('ccc'))).toEqual(
      expect.objectContaining({ outcome: 'completed', used: [0, 1, 2] }),
    );
  });
});

describe('decide: retry-branch', () => {
  const policy = { type: 'retry-branch', maxRetries: 2 } as const; // up to 1 + 2 = 3 attempts

  it('retries a failed branch while attempts < maxRetries + 1', () => {
    // branch 1 failed after attempt 1 (default) or 2: 1 < 3, 2 < 3 → retry [1]
    expect(decide(policy, branches('cfp'))).toEqual({
      outcome: 'retry',
      branches: [1],
      reason: 'retry-branch: #1 attempt 2 of 3',
      used: [],
    });
    expect(decide(policy, branches('cfp'), { 1: 2 })).toEqual(
      expect.objectContaining({ outcome: 'retry', branches: [1] }),
    );
    // two failures at once: both retried
    expect(decide(policy, branches('ffc'), { 0: 1, 1: 2 }).branches).toEqual([0, 1]);
  });

  it('fails once a branch has used all its attempts', () => {
    // attempts 3 = maxRetries + 1 → exhausted → failed, even though branch 2 is pending
    const d = decide(policy, branches('cfp'), { 1: 3 });
    expect(d).toEqual(expect.objectContaining({ outcome: 'failed', branches: [1], used: [] }));
    expect(d.reason).toContain('failed after 3 attempts (maxRetries 2)');
    // one exhausted and one retriable → failed (the fan-out cannot succeed), listing the exhausted one
    expect(decide(policy, branches('ff'), { 0: 3, 1: 1 })).toEqual(
      expect.objectContaining({ outcome: 'failed', branches: [0] }),
    );
    // maxRetries 1 → 2 attempts: the failure of the second is final (0 retries is refused: compileFanOutPolicy's limit)
    expect(decide({ type: 'retry-branch', maxRetries: 1 }, branches('cf'), { 1: 2 }).outcome).toBe('failed');
    expect(() => decide({ type: 'retry-branch', maxRetries: 0 }, branches('cf'))).toThrow(
      /policy\.maxRetries: retry-branch needs maxRetries, an integer from 1 to 10/,
    );
  });

  it('completes when the retried branch succeeds', () => {
    expect(decide(policy, branches('ccc'), { 1: 2 })).toEqual(
      expect.objectContaining({ outcome: 'completed', used: [0, 1, 2] }),
    );
    expect(decide(policy, branches('cpc'), { 1: 2 }).outcome).toBe('pending');
  });

  it('rejects a bad attempt count', () => {
    expect(() => decide(policy, branches('cf'), { 1: 0 })).toThrow(/attempts\[1\] must be a positive integer/);
  });
});

describe('decide: proceed-with-partial', () => {
  it('waits for every branch, then completes with what completed', () => {
    expect(decide({ type: 'proceed-with-partial' }, branches('cfp'))).toEqual(
      expect.objectContaining({ outcome: 'pending', branches: [2] }),
    );
    // c f f: one completed → completed with [0]
    expect(decide({ type: 'proceed-with-partial' }, branches('cff'))).toEqual({
      outcome: 'completed',
      reason: 'proceed-with-partial: 1 of 3 completed, 2 failed',
      used: [0],
    });
    expect(decide({ type: 'proceed-with-partial' }, branches('cc')).used).toEqual([0, 1]);
  });

  it('fails when nothing completed', () => {
    expect(decide({ type: 'proceed-with-partial' }, branches('ff'))).toEqual(
      expect.objectContaining({ outcome: 'failed', branches: [0, 1], used: [] }),
    );
  });
});

describe('decide: input checks', () => {
  it('reads branches in branch order and rejects bad input', () => {
    const shuffled = [...branches('cpcc')].reverse();
    expect(decide({ type: 'quorum', k: 3 }, shuffled).used).toEqual([0, 2, 3]);
    expect(() => decide({ type: 'quorum', k: 6 }, branches('ccccc'))).toThrow(
      /policy\.k: quorum needs k between 1 and the 5 inputs/,
    );
    expect(() => decide({ type: 'fail-fast' }, [])).toThrow(/at least one branch/);
    expect(() => decide({ type: 'fail-fast' }, [...branches('c'), ...branches('c')])).toThrow(/appears more than once/);
  });
});

describe('canDecide: counts say whether decide can decide', () => {
  /** Every pattern of c/f/p of this length. */
  function patterns(length: number): string[] {
    if (length === 0) return [''];
    return patterns(length - 1).flatMap((p) => ['c', 'f', 'p'].map((ch) => p + ch));
  }

  it('agrees with decide on every branch picture of 1 to 6 branches, for every policy', () => {
    let checked = 0;
    for (let n = 1; n <= 6; n++) {
      const policies: FailurePolicy[] = [
        { type: 'fail-fast' },
        { type: 'retry-branch', maxRetries: 1 },
        { type: 'retry-branch', maxRetries: 3 },
        { type: 'proceed-with-partial' },
        ...Array.from({ length: n }, (_, i): FailurePolicy => ({ type: 'quorum', k: i + 1 })),
      ];
      for (const pattern of patterns(n)) {
        const list = branches(pattern);
        const counts = {
          completed: [...pattern].filter((c) => c === 'c').length,
          failed: [...pattern].filter((c) => c === 'f').length,
        };
        // attempts vary so that retry-branch both retries and gives up
        const attempts = Object.fromEntries(list.map((b) => [b.branchIndex, 1 + (b.branchIndex % 3)]));
        for (const policy of policies) {
          expect([policy, pattern, canDecide(policy, n, counts)]).toEqual([
            policy,
            pattern,
            decide(policy, list, attempts).outcome !== 'pending',
          ]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('says true when the counts exceed the branch count (decide then reads the branches)', () => {
    expect(canDecide({ type: 'proceed-with-partial' }, 3, { completed: 4, failed: 0 })).toBe(true);
    expect(canDecide({ type: 'quorum', k: 3 }, 3, { completed: 2, failed: 2 })).toBe(true);
  });

  it('throws on a policy invalid for the branch count, as decide does', () => {
    expect(() => canDecide({ type: 'quorum', k: 6 }, 5, { completed: 0, failed: 0 })).toThrow(
      /policy\.k: quorum needs k between 1 and the 5 inputs/,
    );
  });
});
