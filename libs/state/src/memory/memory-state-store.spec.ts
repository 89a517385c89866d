import { globToRegExp } from '../internal/glob';
import { MemoryStateStore } from './memory-state-store';

describe('MemoryStateStore', () => {
  it('expires markers on its clock, to the millisecond', async () => {
    let now = 1_000_000;
    const store = new MemoryStateStore({ now: () => now });
    const ops = [{ op: 'hincrby', key: 'c', field: 'n', by: 1 }] as const;
    expect((await store.applyOnce('m', ops, 10)).applied).toBe(true);
    now += 9_999;
    expect((await store.applyOnce('m', ops, 10)).applied).toBe(false);
    now += 1;
    expect(await store.applyOnce('m', ops, 10)).toEqual({ applied: true, results: [2] });
  });

  it('defaults the marker TTL to 7 days', async () => {
    let now = 0;
    const store = new MemoryStateStore({ now: () => now });
    await store.applyOnce('m', []);
    now = 7 * 24 * 3600 * 1000 - 1;
    expect((await store.applyOnce('m', [])).applied).toBe(false);
    now += 1;
    expect((await store.applyOnce('m', [])).applied).toBe(true);
  });

  it('keeps instances independent', async () => {
    const a = new MemoryStateStore();
    const b = new MemoryStateStore();
    await a.apply([{ op: 'set', key: 'k', value: 'v' }]);
    expect(await b.get('k')).toBeNull();
    expect(b.driver).toBe('memory');
  });
});

describe('globToRegExp (Redis glob)', () => {
  const matches = (pattern: string, text: string): boolean => globToRegExp(pattern).test(text);

  it.each([
    ['workflow:*', 'workflow:', true],
    ['workflow:*', 'workflow:a:b', true],
    ['workflow:*', 'task:a', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a?c', 'a🚀c', true],
    ['[abc]x', 'bx', true],
    ['[^abc]x', 'bx', false],
    ['[^abc]x', 'dx', true],
    ['[z-a]', 'm', true],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['a[', 'a[', true],
    ['a.b', 'axb', false],
    ['(x)+', '(x)+', true],
    ['*\n*', 'line\nbreak', true],
  ])('%j vs %j → %s', (pattern, text, expected) => {
    expect(matches(pattern, text)).toBe(expected);
  });
});
