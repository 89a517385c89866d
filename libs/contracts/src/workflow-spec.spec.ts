import 'reflect-metadata';
import { ContractValidationError } from './validation';
import {
  bidWindowOf,
  DEFAULT_BID_WINDOW_MS,
  MAX_BID_WINDOW_MS,
  MAX_DEADLINE_MS,
  validateWorkflowSpec,
} from './workflow-spec';

const doc = (id: string) => ({ id, text: id });
const task = { kind: 'task', skill: 'keywords', input: doc('a') };

/** The fields a spec is refused for, with their messages. */
function problems(spec: unknown): Record<string, string> {
  try {
    validateWorkflowSpec(spec);
    return {};
  } catch (error) {
    if (!(error instanceof ContractValidationError)) throw error;
    return Object.fromEntries(error.fieldErrors.map((e) => [e.field, e.messages.join('; ')]));
  }
}

describe('workflow spec: deadlines', () => {
  it('takes a deadline for the workflow and for any step, a child looser than its parent included', () => {
    const spec = validateWorkflowSpec({
      deadlineMs: 60_000,
      step: {
        kind: 'chain',
        deadlineMs: 10_000,
        stages: [
          { step: { ...task, deadlineMs: 20_000 } },
          {
            step: {
              kind: 'fan-out',
              skill: 'keywords',
              inputs: [doc('b')],
              deadlineMs: 5_000,
              branchDeadlineMs: 1_000,
            },
          },
        ],
      },
    });
    expect(spec.deadlineMs).toBe(60_000);
    expect(spec.step.deadlineMs).toBe(10_000);
  });

  it.each([
    [{ deadlineMs: 0, step: task }, 'deadlineMs'],
    [{ deadlineMs: 1.5, step: task }, 'deadlineMs'],
    [{ deadlineMs: MAX_DEADLINE_MS + 1, step: task }, 'deadlineMs'],
    [{ step: { ...task, deadlineMs: -5 } }, 'step.deadlineMs'],
    [{ step: { kind: 'supervisor', children: [{ ...task, deadlineMs: '1s' }] } }, 'step.children.0.deadlineMs'],
    [
      { step: { kind: 'fan-out', skill: 'keywords', inputs: [doc('a')], branchDeadlineMs: 0 } },
      'step.branchDeadlineMs',
    ],
  ])('refuses %j naming %s', (spec, field) => {
    expect(Object.keys(problems(spec))).toEqual([field]);
  });
});

describe('workflow spec: retry backoff', () => {
  const fanOut = (policy: object) => ({ step: { kind: 'fan-out', skill: 'keywords', inputs: [doc('a')], policy } });
  const gated = (onFail: object) => ({
    step: { kind: 'chain', stages: [{ step: task, gate: { checks: [{ field: 'keywords', op: 'exists' }], onFail } }] },
  });

  it('takes a backoff on retry-branch and on a gate retry', () => {
    const backoff = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitter: 0.2 };
    expect(problems(fanOut({ type: 'retry-branch', maxRetries: 2, backoff }))).toEqual({});
    expect(problems(gated({ action: 'retry', maxRetries: 2, backoff }))).toEqual({});
  });

  it('refuses a backoff where nothing retries, and delays that make no policy', () => {
    expect(problems(fanOut({ type: 'quorum', k: 1, backoff: {} }))).toEqual({
      'step.policy.backoff': 'backoff applies to retry-branch only',
    });
    expect(problems(gated({ action: 'fail', backoff: {} }))).toEqual({
      'step.stages.0.gate.onFail.backoff': 'backoff applies to retry only',
    });
    expect(
      problems(fanOut({ type: 'retry-branch', maxRetries: 1, backoff: { initialDelayMs: 500, maxDelayMs: 100 } })),
    ).toEqual({
      'step.policy.backoff': 'maxDelayMs must be at least initialDelayMs',
    });
    expect(Object.keys(problems(fanOut({ type: 'retry-branch', maxRetries: 1, backoff: { jitter: 2 } })))).toEqual([
      'step.policy.backoff.jitter',
    ]);
  });
});

describe('workflow spec: a market step’s bidding window', () => {
  const market = (extra: object) => ({
    step: { kind: 'market', skill: 'keywords', input: doc('a'), budget: 5, expireAfterMs: 1000, ...extra },
  });

  it('takes a window shorter than the ask’s life; without one, the default is at most half of it', () => {
    const spec = validateWorkflowSpec(market({ bidWindowMs: 500 }));
    expect(spec.step).toMatchObject({ bidWindowMs: 500 });
    expect(bidWindowOf({ bidWindowMs: 500, expireAfterMs: 1000 })).toBe(500);
    expect(bidWindowOf({ expireAfterMs: 10_000 })).toBe(DEFAULT_BID_WINDOW_MS);
    expect(bidWindowOf({ expireAfterMs: 300 })).toBe(150);
  });

  it.each([
    [{ bidWindowMs: 0 }, 'must not be less than 1'],
    [{ bidWindowMs: 2.5 }, 'must be an integer'],
    [{ bidWindowMs: '200' }, 'must be an integer'],
    [{ bidWindowMs: MAX_BID_WINDOW_MS + 1 }, `must not be greater than ${MAX_BID_WINDOW_MS}`],
    [{ bidWindowMs: 1000 }, 'must be shorter than expireAfterMs (1000 ms)'],
  ])('refuses %j naming step.bidWindowMs', (extra, message) => {
    const found = problems(market(extra));
    expect(Object.keys(found)).toEqual(['step.bidWindowMs']);
    expect(found['step.bidWindowMs']).toContain(message);
  });
});
