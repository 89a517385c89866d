/**
 * How a failed attempt is retried: the one backoff every retry of the mesh uses (handler and
 * skill retries through delayed delivery, a fan-out's `retry-branch`, a chain gate's `retry`).
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means no retry. */
  readonly attempts: number;
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Each retry waits this many times longer than the one before. */
  readonly multiplier: number;
  /** No retry waits longer than this. */
  readonly maxDelayMs: number;
  /** 0 to 1: the share of each delay drawn at random ("equal jitter"), so retries of many messages spread out. */
  readonly jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 5,
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.5,
};

/** The policy's fields checked: a message naming the first one out of range, or undefined. */
export function retryPolicyProblem(policy: RetryPolicy): string | undefined {
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) return 'attempts must be an integer of at least 1';
  if (!(policy.initialDelayMs >= 0)) return 'initialDelayMs must be 0 or more';
  if (!(policy.multiplier >= 1)) return 'multiplier must be 1 or more';
  if (!(policy.maxDelayMs >= policy.initialDelayMs)) return 'maxDelayMs must be at least initialDelayMs';
  if (!(policy.jitter >= 0 && policy.jitter <= 1)) return 'jitter must be between 0 and 1';
  return undefined;
}

/**
 * The delay before retry number `retry` (1 for the first retry): initialDelayMs × multiplier^(retry−1),
 * capped at maxDelayMs, of which the `jitter` share is drawn uniformly from `random()`.
 */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const exponential = policy.initialDelayMs * policy.multiplier ** Math.max(0, retry - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const fixed = capped * (1 - policy.jitter);
  return Math.round(fixed + capped * policy.jitter * random());
}

/** Whether another attempt is allowed after `attemptsMade` attempts. */
export function mayRetry(policy: RetryPolicy, attemptsMade: number): boolean {
  return attemptsMade < policy.attempts;
}

/** A backoff as a workflow spec declares it (`retry-branch`, a gate's `retry`): each field optional. */
export interface BackoffDeclaration {
  readonly initialDelayMs?: number;
  readonly multiplier?: number;
  readonly maxDelayMs?: number;
  readonly jitter?: number;
}

/**
 * A declared backoff with DEFAULT_RETRY_POLICY's delays for what it leaves out (attempts are
 * the declaring policy's own: `maxRetries`). A declared `initialDelayMs` above the default cap
 * raises the cap to it.
 */
export function backoffPolicy(declared: BackoffDeclaration | undefined, attempts: number): RetryPolicy {
  const initialDelayMs = declared?.initialDelayMs ?? DEFAULT_RETRY_POLICY.initialDelayMs;
  return {
    attempts,
    initialDelayMs,
    multiplier: declared?.multiplier ?? DEFAULT_RETRY_POLICY.multiplier,
    maxDelayMs: declared?.maxDelayMs ?? Math.max(DEFAULT_RETRY_POLICY.maxDelayMs, initialDelayMs),
    jitter: declared?.jitter ?? DEFAULT_RETRY_POLICY.jitter,
  };
}
