import { canonicalJson, readPath } from './json';
import { validateFanOutPolicy } from './validate';

describe('validateFanOutPolicy', () => {
  it('returns typed policies with defaults filled in', () => {
    expect(validateFanOutPolicy(undefined, 3)).toEqual({ strategy: { type: 'all' }, failure: { type: 'fail-fast' } });
    expect(validateFanOutPolicy({ failure: { type: 'quorum', k: 2 } }, 3)).toEqual({ strategy: { type: 'all' }, failure: { type: 'quorum', k: 2 } });
    expect(validateFanOutPolicy({ strategy: { type: 'ranked-fusion', field: 'hits' }, failure: { type: 'retry-branch', maxRetries: 0 } }, 1)).toEqual({
      strategy: { type: 'ranked-fusion', field: 'hits', idField: 'id', k: 60 },
      failure: { type: 'retry-branch', maxRetries: 0 },
    });
    expect(validateFanOutPolicy({ strategy: { type: 'majority-vote', field: 'answer.choice' }, failure: { type: 'proceed-with-partial' } }, 2).strategy).toEqual({
      type: 'majority-vote',
      field: 'answer.choice',
    });
  });

  it.each<[string, unknown, number, RegExp]>([
    ['quorum k above branchCount', { failure: { type: 'quorum', k: 6 } }, 5, /failure\.k must be an integer from 1 to branchCount \(5\) \(got 6\)/],
    ['quorum k of 0', { failure: { type: 'quorum', k: 0 } }, 5, /failure\.k/],
    ['fractional quorum k', { failure: { type: 'quorum', k: 2.5 } }, 5, /failure\.k/],
    ['quorum k as a string', { failure: { type: 'quorum', k: '3' } }, 5, /failure\.k .*got "3"/],
    ['negative maxRetries', { failure: { type: 'retry-branch', maxRetries: -1 } }, 2, /failure\.maxRetries must be an integer from 0 to 100/],
    ['missing maxRetries', { failure: { type: 'retry-branch' } }, 2, /failure\.maxRetries/],
    ['misspelt field', { failure: { type: 'retry-branch', maxRetry: 2 } }, 2, /failure\.maxRetry is not a known field/],
    ['unknown failure type', { failure: { type: 'best-effort' } }, 2, /failure\.type must be one of fail-fast, retry-branch, proceed-with-partial, quorum/],
    ['unknown strategy type', { strategy: { type: 'average' } }, 2, /strategy\.type must be one of/],
    ['majority-vote without field', { strategy: { type: 'majority-vote' } }, 2, /strategy\.field must be a dotted field path/],
    ['empty path segment', { strategy: { type: 'majority-vote', field: 'answer..choice' } }, 2, /strategy\.field/],
    ['negative RRF k', { strategy: { type: 'ranked-fusion', field: 'hits', k: -1 } }, 2, /strategy\.k must be a finite number >= 0/],
    ['bad idField', { strategy: { type: 'ranked-fusion', field: 'hits', idField: '' } }, 2, /strategy\.idField/],
    ['not an object', 'quorum', 2, /policy must be an object/],
    ['unknown top-level key', { strategy: { type: 'all' }, retries: 3 }, 2, /policy\.retries is not a known field/],
    ['zero branches', {}, 0, /branchCount must be a positive integer/],
  ])('rejects %s', (_, policy, branchCount, message) => {
    expect(() => validateFanOutPolicy(policy, branchCount)).toThrow(message);
  });
});

describe('canonicalJson and readPath', () => {
  it('sorts keys at every depth and follows JSON for odd values', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}');
    expect(canonicalJson({ a: undefined, b: NaN, c: [undefined] })).toBe('{"b":null,"c":[null]}');
    expect(canonicalJson('x')).toBe('"x"');
  });

  it('reads dotted paths through objects and arrays, own properties only', () => {
    const value = { answer: { choice: 'B', hits: [{ id: 'a' }, { id: 'b' }] } };
    expect(readPath(value, 'answer.choice')).toBe('B');
    expect(readPath(value, 'answer.hits.1.id')).toBe('b');
    expect(readPath(value, 'answer.missing.deeper')).toBeUndefined();
    expect(readPath(value, 'answer.constructor')).toBeUndefined();
    expect(readPath(value, 'answer.hits.first')).toBeUndefined();
  });
});
