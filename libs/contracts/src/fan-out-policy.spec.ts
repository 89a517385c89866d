// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import {
  compileAggregationStrategy,
  compileFailurePolicy,
  compileFanOutPolicy,
  DEFAULT_AGGREGATION_STRATEGY,
  DEFAULT_FAILURE_POLICY,
  MAX_BRANCH_RETRIES,
  type AggregationStrategyDeclaration,
  type FailurePolicyDeclaration,
} from './fan-out-policy';
import { ContractValidationError } from './validation';
import { validateWorkflowSpec } from './workflow-spec';

describe('compileFanOutPolicy', () => {
  it('defaults to fail-fast and combine, the whole declaration or each part omitted', () => {
    expect(DEFAULT_FAILURE_POLICY).toBe('fail-fast');
    expect(DEFAULT_AGGREGATION_STRATEGY).toBe('combine');
    expect(compileFanOutPolicy({}, 3)).toEqual({ policy: { type: 'fail-fast' }, strategy: { type: 'combine' } });
    expect(compileFanOutPolicy({ policy: { type: 'quorum', k: 2 } }, 3)).toEqual({
      policy: { type: 'quorum', k: 2 },
      strategy: { type: 'combine' },
    });
    expect(compileFanOutPolicy({ strategy: { type: 'all' } }, 3)).toEqual({
      policy: { type: 'fail-fast' },
      strategy: { type: 'all' },
    });
  });

  it('returns typed policies with the strategy defaults filled in', () => {
    expect(
      compileFanOutPolicy(
        { strategy: { type: 'ranked-fusion', field: 'hits' }, policy: { type: 'retry-branch', maxRetries: 1 } },
        1,
      ),
    ).toEqual({
      strategy: { type: 'ranked-fusion', field: 'hits', idField: 'id', k: 60 },
      policy: { type: 'retry-branch', maxRetries: 1 },
    });
    expect(
      compileFanOutPolicy({ strategy: { type: 'ranked-fusion', field: 'hits', idField: 'doc.ref', k: 5 } }, 1).strategy,
    ).toEqual({
      type: 'ranked-fusion',
      field: 'hits',
      idField: 'doc.ref',
      k: 5,
    });
    expect(
      compileFanOutPolicy(
        { strategy: { type: 'majority-vote', field: 'answer.choice' }, policy: { type: 'proceed-with-partial' } },
        2,
      ),
    ).toEqual({
      strategy: { type: 'majority-vote', field: 'answer.choice' },
      policy: { type: 'proceed-with-partial' },
    });
  });

  it('drops fields the declared type does not use (as the wire carries them: undefined or stray)', () => {
    expect(
      compileFanOutPolicy(
        {
          policy: { type: 'fail-fast', maxRetries: undefined, k: 3 },
          strategy: { type: 'all', field: 'x', k: undefined },
        },
        3,
      ),
    ).toEqual({
      policy: { type: 'fail-fast' },
      strategy: { type: 'all' },
    });
  });

  it('accepts the limits themselves', () => {
    expect(compileFanOutPolicy({ policy: { type: 'retry-branch', maxRetries: MAX_BRANCH_RETRIES } }, 1).policy).toEqual(
      { type: 'retry-branch', maxRetries: 10 },
    );
    expect(compileFanOutPolicy({ policy: { type: 'quorum', k: 5 } }, 5).policy).toEqual({ type: 'quorum', k: 5 });
    expect(compileFanOutPolicy({ policy: { type: 'quorum', k: 1 } }, 5).policy).toEqual({ type: 'quorum', k: 1 });
    expect(compileFanOutPolicy({ strategy: { type: 'ranked-fusion', field: 'hits', k: 1 } }, 1).strategy).toMatchObject(
      { k: 1 },
    );
  });

  it.each<
    [string, { policy?: FailurePolicyDeclaration; strategy?: AggregationStrategyDeclaration }, number, string, RegExp]
  >([
    [
      'quorum k above branchCount',
      { policy: { type: 'quorum', k: 6 } },
      5,
      'policy.k',
      /quorum needs k between 1 and the 5 inputs \(got 6\)/,
    ],
    ['quorum k of 0', { policy: { type: 'quorum', k: 0 } }, 5, 'policy.k', /got 0/],
    ['fractional quorum k', { policy: { type: 'quorum', k: 2.5 } }, 5, 'policy.k', /got 2\.5/],
    ['quorum without k', { policy: { type: 'quorum' } }, 5, 'policy.k', /got none/],
    [
      'maxRetries of 0',
      { policy: { type: 'retry-branch', maxRetries: 0 } },
      2,
      'policy.maxRetries',
      /an integer from 1 to 10 \(got 0\)/,
    ],
    [
      'maxRetries above the limit',
      { policy: { type: 'retry-branch', maxRetries: 11 } },
      2,
      'policy.maxRetries',
      /from 1 to 10 \(got 11\)/,
    ],
    [
      'maxRetries the aggregator once allowed',
      { policy: { type: 'retry-branch', maxRetries: 100 } },
      2,
      'policy.maxRetries',
      /got 100/,
    ],
    [
      'missing maxRetries',
      { policy: { type: 'retry-branch' } },
      2,
      'policy.maxRetries',
      /retry-branch needs maxRetries/,
    ],
    [
      'unknown policy type',
      { policy: { type: 'best-effort' as 'fail-fast' } },
      2,
      'policy.type',
      /one of fail-fast, retry-branch, proceed-with-partial, quorum \(got "best-effort"\)/,
    ],
    [
      'unknown strategy type',
      { strategy: { type: 'average' as 'all' } },
      2,
      'strategy.type',
      /one of combine, all, last-writer-wins, majority-vote, ranked-fusion/,
    ],
    [
      'majority-vote without field',
      { strategy: { type: 'majority-vote' } },
      2,
      'strategy.field',
      /majority-vote needs the output field/,
    ],
    [
      'empty path segment',
      { strategy: { type: 'majority-vote', field: 'answer..choice' } },
      2,
      'strategy.field',
      /needs the output field/,
    ],
    [
      'ranked-fusion without field',
      { strategy: { type: 'ranked-fusion' } },
      2,
      'strategy.field',
      /ranked-fusion needs the output field/,
    ],
    [
      'RRF k of 0',
      { strategy: { type: 'ranked-fusion', field: 'hits', k: 0 } },
      2,
      'strategy.k',
      /k must be an integer of at least 1 \(got 0\)/,
    ],
    ['fractional RRF k', { strategy: { type: 'ranked-fusion', field: 'hits', k: 1.5 } }, 2, 'strategy.k', /got 1\.5/],
    [
      'empty idField',
      { strategy: { type: 'ranked-fusion', field: 'hits', idField: '' } },
      2,
      'strategy.idField',
      /idField must be a dotted field path/,
    ],
    ['zero branches', {}, 0, 'branchCount', /positive whole number of branches \(got 0\)/],
  ])('refuses %s, naming the field', (_, declared, branchCount, field, message) => {
    let thrown: unknown;
    try {
      compileFanOutPolicy(declared, branchCount);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ContractValidationError);
    const errors = (thrown as ContractValidationError).fieldErrors;
    expect(errors.map((e) => e.field)).toEqual([field]);
    expect(errors[0].messages.join('; ')).toMatch(message);
    expect((thrown as Error).message).toMatch(/^fan-out policy is invalid: /);
  });

  it('names every bad field at once', () => {
    expect(() =>
      compileFanOutPolicy({ policy: { type: 'quorum', k: 9 }, strategy: { type: 'majority-vote' } }, 2),
    ).toThrow(/policy\.k: quorum needs k .*, strategy\.field: majority-vote needs/);
  });
});

describe('compileFailurePolicy and compileAggregationStrategy', () => {
  it('resolve one part each, with the same defaults and limits', () => {
    expect(compileFailurePolicy(undefined, 1)).toEqual({ type: 'fail-fast' });
    expect(compileFailurePolicy({ type: 'quorum', k: 2 }, 2)).toEqual({ type: 'quorum', k: 2 });
    expect(() => compileFailurePolicy({ type: 'quorum', k: 3 }, 2)).toThrow(
      /policy\.k: quorum needs k between 1 and the 2 inputs/,
    );
    expect(() => compileFailurePolicy({ type: 'fail-fast' }, 0)).toThrow(/branchCount/);
    expect(compileAggregationStrategy(undefined)).toEqual({ type: 'combine' });
    expect(compileAggregationStrategy({ type: 'ranked-fusion', field: 'hits' })).toEqual({
      type: 'ranked-fusion',
      field: 'hits',
      idField: 'id',
      k: 60,
    });
    expect(() => compileAggregationStrategy({ type: 'ranked-fusion', field: 'hits', k: -1 })).toThrow(
      /aggregation strategy is invalid: strategy\.k/,
    );
  });
});

describe('validateWorkflowSpec uses the policy model', () => {
  const doc = (id: string) => ({ id, text: id });
  const fieldsOf = (spec: unknown): string[] => {
    try {
      validateWorkflowSpec(spec);
      return [];
    } catch (error) {
      return (error as ContractValidationError).fieldErrors.map((e) => e.field);
    }
  };

  it('refuses a fan-out whose policy or strategy the model refuses, at the step path', () => {
    const fanOut = (extra: object) => ({
      step: { kind: 'fan-out', skill: 'count', inputs: [doc('a'), doc('b')], ...extra },
    });
    expect(fieldsOf(fanOut({ policy: { type: 'quorum', k: 3 } }))).toEqual(['step.policy.k']);
    expect(fieldsOf(fanOut({ policy: { type: 'retry-branch' } }))).toEqual(['step.policy.maxRetries']);
    expect(fieldsOf(fanOut({ strategy: { type: 'ranked-fusion', field: 'hits', idField: '' } }))).toEqual([
      'step.strategy.idField',
    ]);
    expect(
      fieldsOf(fanOut({ policy: { type: 'quorum', k: 2 }, strategy: { type: 'majority-vote', field: 'label' } })),
    ).toEqual([]);
  });

  it('refuses a solver-rounds strategy the model refuses', () => {
    const rounds = (strategy: object) => ({
      step: { kind: 'solver-rounds', skill: 'count', input: doc('a'), solvers: 2, rounds: 1, strategy },
    });
    expect(fieldsOf(rounds({ type: 'majority-vote' }))).toEqual(['step.strategy.field']);
    expect(fieldsOf(rounds({ type: 'combine' }))).toEqual([]);
  });
});
