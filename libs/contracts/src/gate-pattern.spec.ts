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

  it('refuse what RE2 cannot run in linear time, with the parser’s message', () => {
    expect(() => compileGatePattern('(a)\\1')).toThrow(/invalid escape sequence/);
    expect(() => compileGatePattern('(?=a)')).toThrow();
  });
});
