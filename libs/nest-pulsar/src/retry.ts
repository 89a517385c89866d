import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  describeError,
  isRetryableError,
  mayRetry,
  RetryableError,
  retryPolicyProblem,
  type RetryPolicy,
} from '@agent-mesh/contracts';
import type { MeshRetryOptions } from './decorators';

/** A handler's retry policy with every default applied. */
export interface HandlerRetry {
  readonly policy: RetryPolicy;
  readonly retryable: (error: unknown) => boolean;
}

/** What to do with a message whose handler threw. */
export type FailureOutcome =
  | { readonly action: 'retry'; readonly delayMs: number; readonly reason: string; readonly detail: string }
  | { readonly action: 'dead-letter'; readonly reason: string; readonly detail: string };

/** The declared options over DEFAULT_RETRY_POLICY, checked; `where` names the handler in the error. */
export function resolveRetry(declared: MeshRetryOptions | undefined, where: string): HandlerRetry {
  const { retryable, ...fields } = declared ?? {};
  const policy = withDefaults(fields);
  const problem = retryPolicyProblem(policy);
  if (problem) throw new Error(`retry policy of ${where}: ${problem}`);
  return { policy, retryable: retryable ?? isRetryableError };
}

/**
 * After `attempt` failed attempts (this one included): dead-letter a non-retryable error at once,
 * retry a retryable one after its backoff while the policy allows — the error's own policy
 * (RetryableError, e.g. a skill's) over the handler's — else dead-letter it.
 */
export function decideFailure(retry: HandlerRetry, error: unknown, attempt: number): FailureOutcome {
  const failure = `handler failed: ${describeError(error)}`;
  const detail = errorDetail(error);
  if (!retry.retryable(error)) return { action: 'dead-letter', reason: `non-retryable: ${failure}`, detail };
  const policy =
    error instanceof RetryableError && error.policy ? withDefaults(error.policy, retry.policy) : retry.policy;
  if (!mayRetry(policy, attempt)) {
    return { action: 'dead-letter', reason: `retries exhausted after ${attempt} attempt(s): ${failure}`, detail };
  }
  return { action: 'retry', delayMs: backoffDelayMs(policy, attempt), reason: failure, detail };
}

/** The error's stack (which starts with its message), or its description when it has none. */
export function errorDetail(error: unknown): string {
  const inner = error instanceof RetryableError ? error.cause : error;
  const stack = typeof inner === 'object' && inner !== null ? (inner as { stack?: unknown }).stack : undefined;
  return typeof stack === 'string' && stack !== '' ? stack : describeError(inner);
}

function withDefaults(fields: Partial<RetryPolicy>, base: RetryPolicy = DEFAULT_RETRY_POLICY): RetryPolicy {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return { ...base, ...defined };
}
