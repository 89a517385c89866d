import { compileGatePattern, gatePatternMatches } from './gate-pattern';

describe('gate patterns (RE2)', () => {
  it('match as RegExp.test does on ordinary patterns', () => {
    expect(gatePatternMatches('^[A-Z][a-z]+', 'Bees visit flowers')).toBe(true);
    expect(gatePatternMatches('\\d{3}', 'no digits')).toBe(false);
  });

  it('run a catastrophic-backtracking pattern in linear time (a RegExp would not finish on this text)', () => {
    // `(a+)+$` over 10,000 a's and a '!': 2^10000 steps for a backtracking engine.
    expect(gatePatternMatches('(a+)+$', `${'a'.repeat(10_000)}!`)).toBe(false);
  });

  it('match as RegExp.test does where groups and anchors matter', () => {
    const cases: [string, string][] = [
      ['(a+)+$', 'aaa'],
      ['^b', 'ab'],
      ['(x|y){2}z', 'xxyz'],
      ['\\bword\\b', 'a word here'],
      ['\\bword\\b', 'swordfish'],
      ['^$', ''],
    ];
    for (const [pattern, text] of cases)
      expect([pattern, text, gatePatternMatches(pattern, text)]).toEqual([
        pattern,
        text,
        new RegExp(pattern).test(text),
      ]);
  });

  it('refuse what RE2 cannot run in linear time, with the parser’s message', () => {
    expect(() => compileGatePattern('(a)\\1')).toThrow(/invalid escape sequence/);
    expect(() => compileGatePattern('(?=a)')).toThrow();
  });
});
