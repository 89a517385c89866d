import { decide } from './failure-policies';
import {
  aggregate,
  collectAll,
  lastWriterWins,
  majorityVote,
  rankedFusion,
  reciprocalRankFusion,
  selectBranches,
} from './strategies';
import type { BranchResult } from './types';

const done = (
  branchIndex: number,
  output: Record<string, unknown> | undefined,
  completedAt?: number,
): BranchResult => ({
  branchIndex,
  inputId: `in-${branchIndex}`,
  status: 'completed',
  output,
  completedAt,
});
const failed = (branchIndex: number): BranchResult => ({
  branchIndex,
  status: 'failed',
  error: 'boom',
  output: { label: 'ignored' },
});
const pending = (branchIndex: number): BranchResult => ({ branchIndex, status: 'pending' });

describe('all', () => {
  it('returns every completed output in branch order, whatever the arrival order', () => {
    const branches = [done(2, { n: 2 }), done(0, { n: 0 }), failed(1), pending(3), done(4, undefined)];
    // completed: 0, 2, 4 (4 has no output → {})
    expect(collectAll(branches)).toEqual([
      { branchIndex: 0, inputId: 'in-0', output: { n: 0 } },
      { branchIndex: 2, inputId: 'in-2', output: { n: 2 } },
      { branchIndex: 4, inputId: 'in-4', output: {} },
    ]);
  });
});

describe('last-writer-wins', () => {
  it('takes the greatest completedAt, ties to the higher branch index, ignoring non-completed branches', () => {
    const branches = [
      done(0, { v: 'a' }, 30),
      done(1, { v: 'b' }, 50),
      done(2, { v: 'c' }, 50),
      { ...failed(3), completedAt: 99 },
      pending(4),
    ];
    // 50 is the latest completedAt among completed (3 failed, so its 99 does not count); 1 and 2 tie → 2
    expect(lastWriterWins(branches)).toEqual({ branchIndex: 2, inputId: 'in-2', output: { v: 'c' }, completedAt: 50 });
  });

  it('ranks a branch without completedAt below one with it; undefined when nothing completed', () => {
    expect(lastWriterWins([done(1, { v: 'x' }, 5), done(0, { v: 'y' })])?.branchIndex).toBe(1);
    expect(lastWriterWins([done(0, { v: 'x' }), done(1, { v: 'y' })])?.branchIndex).toBe(1); // both missing: tie → higher index
    expect(lastWriterWins([pending(0), failed(1)])).toBeUndefined();
  });
});

describe('majority-vote', () => {
  it('breaks a tie by the earliest first vote in branch order', () => {
    // labels by branch: 0 cat, 1 dog, 2 cat, 3 bird, 4 dog → cat 2, dog 2, bird 1.
    // cat's first vote is branch 0, dog's is branch 1 → cat wins.
    const branches = ['cat', 'dog', 'cat', 'bird', 'dog'].map((label, i) => done(i, { label }));
    const expected = { winner: 'cat', votes: { '"cat"': 2, '"dog"': 2, '"bird"': 1 }, total: 5, abstained: 0 };
    expect(majorityVote(branches, 'label')).toEqual(expected);
    expect(majorityVote([...branches].reverse(), 'label')).toEqual(expected); // arrival order does not matter
  });

  it('uses branch index, not array position, for the tie-break', () => {
    // array order 3 → x, 1 → y, 2 → x, 0 → y. x 2, y 2; in branch order y votes first (branch 0) → y.
    const branches = [
      done(3, { label: 'x' }),
      done(1, { label: 'y' }),
      done(2, { label: 'x' }),
      done(0, { label: 'y' }),
    ];
    expect(majorityVote(branches, 'label').winner).toBe('y');
  });

  it('reads a nested field, skips non-completed branches and counts abstentions', () => {
    // completed: 0 B, 1 A, 2 B, 3 B, 5 (no answer → abstains); 4 failed (its label is ignored)
    const branches = [
      done(0, { answer: { choice: 'B' } }),
      done(1, { answer: { choice: 'A' } }),
      done(2, { answer: { choice: 'B' } }),
      done(3, { answer: { choice: 'B' } }),
      { ...failed(4), output: { answer: { choice: 'A' } } },
      done(5, { other: true }),
      pending(6),
    ];
    // B 3, A 1; total 4 votes; 1 abstained
    expect(majorityVote(branches, 'answer.choice')).toEqual({
      winner: 'B',
      votes: { '"B"': 3, '"A"': 1 },
      total: 4,
      abstained: 1,
    });
  });

  it('compares values by canonical JSON: key order does not matter, types do', () => {
    const objects = [
      done(0, { v: { x: 1, y: [1, 2] } }),
      done(1, { v: { y: [2, 1], x: 1 } }),
      done(2, { v: { y: [1, 2], x: 1 } }),
    ];
    // {x:1,y:[1,2]} twice (branches 0 and 2; key order differs), {x:1,y:[2,1]} once (array order matters)
    expect(majorityVote(objects, 'v')).toEqual({
      winner: { x: 1, y: [1, 2] },
      votes: { '{"x":1,"y":[1,2]}': 2, '{"x":1,"y":[2,1]}': 1 },
      total: 3,
      abstained: 0,
    });
    // the number 1 and the string "1" are different values: "1" has 2 votes, 1 has 1
    expect(majorityVote([done(0, { v: 1 }), done(1, { v: '1' }), done(2, { v: '1' })], 'v')).toEqual({
      winner: '1',
      votes: { '1': 1, '"1"': 2 },
      total: 3,
      abstained: 0,
    });
  });

  it('has no winner when nobody voted', () => {
    expect(majorityVote([done(0, {}), failed(1)], 'label')).toEqual({
      winner: undefined,
      votes: {},
      total: 0,
      abstained: 1,
    });
  });
});

describe('ranked-fusion (reciprocal rank fusion)', () => {
  it('fuses three ranked lists with k = 60', () => {
    // lists [a,b,c], [b,a,d], [c,b,a]; score = Σ 1/(60 + rank):
    //   a: ranks 1,2,3 → 1/61 + 1/62 + 1/63 = 0.016393442623 + 0.016129032258 + 0.015873015873 = 0.048395490754
    //   b: ranks 2,1,2 → 1/62 + 1/61 + 1/62 = 0.016393442623 + 0.032258064516               = 0.048651507139
    //   c: ranks 3,-,1 → 1/63 + 1/61       = 0.015873015873 + 0.016393442623               = 0.032266458496
    //   d: rank  -,3,- → 1/63                                                               = 0.015873015873
    // order: b > a > c > d
    const branches = [
      done(0, { hits: ['a', 'b', 'c'] }),
      done(1, { hits: ['b', 'a', 'd'] }),
      done(2, { hits: ['c', 'b', 'a'] }),
    ];
    const ranking = rankedFusion(branches, { field: 'hits' });
    expect(ranking.map((r) => r.id)).toEqual(['b', 'a', 'c', 'd']);
    const expected = [0.048651507139, 0.048395490754, 0.032266458496, 0.015873015873];
    ranking.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i], 11));
  });

  it('reads objects at a nested field by a declared id field, with a custom k', () => {
    // k = 1: lists [p, q] and [q, r]
    //   p: 1/(1+1) = 1/2 = 0.5;  q: 1/(1+2) + 1/(1+1) = 1/3 + 1/2 = 5/6 ≈ 0.833333;  r: 1/(1+2) = 1/3
    const branches = [
      done(0, { retrieval: { hits: [{ doc: 'p', text: '…' }, { doc: 'q' }] } }),
      done(1, { retrieval: { hits: [{ doc: 'q' }, { doc: 'r' }] } }),
      failed(2),
    ];
    const ranking = rankedFusion(branches, { field: 'retrieval.hits', idField: 'doc', k: 1 });
    expect(ranking.map((r) => r.id)).toEqual(['q', 'p', 'r']);
    expect(ranking[0].score).toBeCloseTo(5 / 6, 12);
    expect(ranking[1].score).toBeCloseTo(1 / 2, 12);
    expect(ranking[2].score).toBeCloseTo(1 / 3, 12);
  });

  it('breaks equal scores by id ascending, exactly (sums in rank order)', () => {
    // each of a, m, z holds ranks {1,2,3} across the lists → identical score 1/61 + 1/62 + 1/63
    const ranking = reciprocalRankFusion([
      ['z', 'a', 'm'],
      ['m', 'z', 'a'],
      ['a', 'm', 'z'],
    ]);
    expect(ranking.map((r) => r.id)).toEqual(['a', 'm', 'z']);
    expect(ranking[0].score).toBe(ranking[1].score);
    expect(ranking[1].score).toBe(ranking[2].score);
    // two lists [y, x] and [x, y]: both 1/61 + 1/62 → tie → x before y
    expect(
      reciprocalRankFusion([
        ['y', 'x'],
        ['x', 'y'],
      ]).map((r) => r.id),
    ).toEqual(['x', 'y']);
  });

  it('counts an id repeated within one list at its best rank only; numbers are ids too', () => {
    // k = 0: list [7, b, 7] → "7": 1/1 = 1 (not 1 + 1/3); b: 1/2
    expect(rankedFusion([done(0, { ids: [7, 'b', 7] })], { field: 'ids', k: 0 })).toEqual([
      { id: '7', score: 1 },
      { id: 'b', score: 0.5 },
    ]);
  });

  it('skips branches without the field and throws on malformed lists', () => {
    expect(rankedFusion([done(0, {}), done(1, { hits: ['x'] })], { field: 'hits' })).toEqual([
      { id: 'x', score: 1 / 61 },
    ]);
    expect(() => rankedFusion([done(0, { hits: 'x' })], { field: 'hits' })).toThrow(
      /branch #0 field hits is not a list/,
    );
    expect(() => rankedFusion([done(3, { hits: [{ name: 'x' }] })], { field: 'hits' })).toThrow(
      /branch #3 hits\[0\] has no string or number id/,
    );
    expect(() => reciprocalRankFusion([['a']], -1)).toThrow(/k must be a finite number >= 0/);
  });
});

describe('aggregate', () => {
  it('dispatches on the declared strategy', () => {
    const branches = [done(0, { label: 'x', hits: ['a'] }, 2), done(1, { label: 'y', hits: ['b', 'a'] }, 1)];
    expect(aggregate({ type: 'all' }, branches)).toEqual({ type: 'all', outputs: collectAll(branches) });
    expect(aggregate({ type: 'last-writer-wins' }, branches)).toEqual({
      type: 'last-writer-wins',
      winner: { branchIndex: 0, inputId: 'in-0', output: { label: 'x', hits: ['a'] }, completedAt: 2 },
    });
    // x 1, y 1 → tie → x (branch 0 voted first)
    expect(aggregate({ type: 'majority-vote', field: 'label' }, branches)).toEqual({
      type: 'majority-vote',
      winner: 'x',
      votes: { '"x"': 1, '"y"': 1 },
      total: 2,
      abstained: 0,
    });
    // a: 1/61 + 1/62 ≈ 0.032522; b: 1/61 ≈ 0.016393
    const fused = aggregate({ type: 'ranked-fusion', field: 'hits', idField: 'id', k: 60 }, branches);
    expect(fused.type === 'ranked-fusion' && fused.ranking.map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('feeds the strategy only the branches a quorum decision used', () => {
    // quorum 2 of 3: branches 0 and 2 completed, 1 pending → completed with used [0, 2]
    const branches = [done(2, { label: 'no' }), pending(1), done(0, { label: 'yes' })];
    const decision = decide({ type: 'quorum', k: 2 }, branches);
    expect(decision.used).toEqual([0, 2]);
    expect(selectBranches(branches, decision.used).map((b) => b.branchIndex)).toEqual([0, 2]);
    // yes 1 (branch 0), no 1 (branch 2) → tie → yes
    expect(majorityVote(selectBranches(branches, decision.used), 'label').winner).toBe('yes');
  });

  it('rejects duplicate branch indexes', () => {
    expect(() => collectAll([done(0, {}), done(0, {})])).toThrow(/branchIndex 0 appears more than once/);
  });
});
