import {
  backoffDelayMs,
  backoffPolicy,
  DEFAULT_RETRY_POLICY,
  mayRetry,
  retryPolicyProblem,
  type RetryPolicy,
} from './retry-policy';

const policy: RetryPolicy = { attempts: 4, initialDelayMs: 100, multiplier: 2, maxDelayMs: 350, jitter: 0 };

describe('backoffDelayMs', () => {
  it('grows exponentially and stops at the cap', () => {
    expect([1, 2, 3, 4].map((retry) => backoffDelayMs(policy, retry))).toEqual([100, 200, 350, 350]);
  });

  it('draws the jitter share at random within [delay × (1 − jitter), delay]', () => {
    const jittered = { ...policy, jitter: 0.5 };
    expect(backoffDelayMs(jittered, 2, () => 0)).toBe(100);
    expect(backoffDelayMs(jittered, 2, () => 0.999999)).toBe(200);
  });
});

describe('retry policy', () => {
  it('allows attempts up to its count', () => {
    expect(mayRetry(policy, 3)).toBe(true);
    expect(mayRetry(policy, 4)).toBe(false);
  });

  it('names the field out of range', () => {
    expect(retryPolicyProblem(DEFAULT_RETRY_POLICY)).toBeUndefined();
    expect(retryPolicyProblem({ ...policy, attempts: 0 })).toMatch(/^attempts/);
    expect(retryPolicyProblem({ ...policy, maxDelayMs: 10 })).toMatch(/^maxDelayMs/);
    expect(retryPolicyProblem({ ...policy, jitter: 2 })).toMatch(/^jitter/);
  });
});

describe('backoffPolicy', () => {
  it("fills what a declaration leaves out from the default policy, with the declaring policy's attempts", () => {
    expect(backoffPolicy(undefined, 3)).toEqual({ ...DEFAULT_RETRY_POLICY, attempts: 3 });
    expect(backoffPolicy({ initialDelayMs: 100, jitter: 0 }, 2)).toEqual({
      ...DEFAULT_RETRY_POLICY,
      attempts: 2,
      initialDelayMs: 100,
      jitter: 0,
    });
    // an initial delay above the default cap raises the cap to it
    expect(backoffPolicy({ initialDelayMs: 60_000 }, 2).maxDelayMs).toBe(60_000);
  });
});
