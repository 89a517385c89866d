import { NonRetryableError, RetryableError } from '@agent-mesh/contracts';
import { decideFailure, resolveRetry } from './retry';

describe('handler retry decisions', () => {
  const retry = resolveRetry({ attempts: 3, initialDelayMs: 100, jitter: 0 }, 'test.ping in subscription "s"');

  it('fills the policy from DEFAULT_RETRY_POLICY and refuses a bad one, naming the handler', () => {
    expect(retry.policy).toEqual({ attempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 30_000, jitter: 0 });
    expect(() => resolveRetry({ attempts: 0 }, 'test.ping in subscription "s"')).toThrow(
      'retry policy of test.ping in subscription "s": attempts must be an integer of at least 1',
    );
  });

  it('retries a retryable error with growing delays while attempts remain, then dead-letters it', () => {
    const error = new Error('flaky');
    expect(decideFailure(retry, error, 1)).toMatchObject({
      action: 'retry',
      delayMs: 100,
      reason: 'handler failed: Error: flaky',
    });
    expect(decideFailure(retry, error, 2)).toMatchObject({ action: 'retry', delayMs: 200 });
    expect(decideFailure(retry, error, 3)).toMatchObject({
      action: 'dead-letter',
      reason: 'retries exhausted after 3 attempt(s): handler failed: Error: flaky',
      detail: error.stack,
    });
  });

  it('dead-letters a non-retryable error at once, and follows an error’s own policy', () => {
    expect(decideFailure(retry, new NonRetryableError('never'), 1)).toMatchObject({
      action: 'dead-letter',
      reason: 'non-retryable: handler failed: NonRetryableError: never',
    });
    const own = new RetryableError(new Error('skill'), { attempts: 5, initialDelayMs: 1000 });
    expect(decideFailure(retry, own, 3)).toMatchObject({ action: 'retry', delayMs: 4000 });
    expect(decideFailure(retry, own, 5)).toMatchObject({ action: 'dead-letter' });
    const custom = resolveRetry({ retryable: () => false }, 'h');
    expect(decideFailure(custom, new Error('x'), 1)).toMatchObject({ action: 'dead-letter' });
  });
});
