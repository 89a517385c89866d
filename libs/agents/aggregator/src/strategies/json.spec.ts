import { canonicalJson, readPath } from './json';

describe('canonicalJson and readPath', () => {
  it('sorts keys at every depth and follows JSON for odd values', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
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
