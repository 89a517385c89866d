import { isRetryableError, NonRetryableError, PayloadTooLargeError, RetryableError } from './retryable';

describe('retryable errors', () => {
  it('treats anything not marked retryable: false as retryable', () => {
    expect(isRetryableError(new Error('flaky'))).toBe(true);
    expect(isRetryableError('a string')).toBe(true);
    expect(isRetryableError(null)).toBe(true);
    expect(isRetryableError(new NonRetryableError('never'))).toBe(false);
    expect(isRetryableError(new PayloadTooLargeError(6, 5))).toBe(false);
    expect(isRetryableError(Object.assign(new Error('marked by hand'), { retryable: false }))).toBe(false);
  });

  it('RetryableError carries a policy and reads as its cause', () => {
    const cause = new TypeError('skill broke');
    const wrapped = new RetryableError(cause, { attempts: 2 });
    expect(wrapped.policy).toEqual({ attempts: 2 });
    expect(wrapped.name).toBe('TypeError');
    expect(wrapped.message).toBe('skill broke');
    expect(wrapped.stack).toBe(cause.stack);
    expect(isRetryableError(wrapped)).toBe(true);
    expect(isRetryableError(new RetryableError(new NonRetryableError('no'), undefined))).toBe(false);
  });
});
