import type { RetryPolicy } from './retry-policy';

/**
 * Errors that no retry can cure: the mesh transport sends the message straight to the
 * dead-letter topic (reason `non-retryable: …`) instead of retrying it. Anything thrown with
 * `retryable: false` counts, so a library can mark its own errors without importing this class.
 */
export class NonRetryableError extends Error {
  readonly retryable = false;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** A payload over the broker's limit: sending it again would fail again. */
export class PayloadTooLargeError extends NonRetryableError {
  constructor(bytes: number, limit: number) {
    super(`payload of ${bytes} bytes is over the limit of ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/**
 * A failure to retry by a policy of its own rather than the handler's — e.g. a skill's: the
 * worker throws it around the skill's error with the skill's `retry`. Describes itself as its cause.
 */
export class RetryableError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly policy: Partial<RetryPolicy> | undefined,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = cause instanceof Error ? cause.name : 'RetryableError';
    if (cause instanceof Error && cause.stack) this.stack = cause.stack;
  }
}

/** Whether a retry may cure `error`: false for anything marked `retryable: false` (NonRetryableError, SkillInputError). */
export function isRetryableError(error: unknown): boolean {
  const inner = error instanceof RetryableError ? error.cause : error;
  return !(typeof inner === 'object' && inner !== null && (inner as { retryable?: unknown }).retryable === false);
}
