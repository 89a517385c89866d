import { DEFAULT_RETRY_POLICY, retryPolicyProblem, type RetryPolicy } from '@agent-mesh/contracts';

/** How the saga coordinator waits for late results and retries compensations. */
export interface SagaSettings {
  /**
   * How long after a step's deadline its action may still report (SAGA_RESULT_WAIT_MS, default
   * the worker's TASK_TIMEOUT_MS, which bounds a run). An action silent past it is compensated anyway.
   */
  readonly resultWaitMs: number;
  /**
   * Retries of a failed compensation: SAGA_COMPENSATION_ATTEMPTS (default 5) attempts in all,
   * the first retry SAGA_COMPENSATION_BACKOFF_MS (default 500) later, doubling, with jitter.
   */
  readonly compensationRetry: RetryPolicy;
}

/** A non-negative integer setting, or start-up stops naming it. */
function integerSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min)
    throw new Error(`${name} must be an integer of at least ${min} (got ${JSON.stringify(raw)})`);
  return value;
}

/** The settings from the environment; a bad value stops start-up with a message naming the setting. */
export function sagaSettings(env: NodeJS.ProcessEnv, taskTimeoutMs: number): SagaSettings {
  const initialDelayMs = integerSetting(env, 'SAGA_COMPENSATION_BACKOFF_MS', DEFAULT_RETRY_POLICY.initialDelayMs, 0);
  const compensationRetry: RetryPolicy = {
    ...DEFAULT_RETRY_POLICY,
    attempts: integerSetting(env, 'SAGA_COMPENSATION_ATTEMPTS', DEFAULT_RETRY_POLICY.attempts, 1),
    initialDelayMs,
    maxDelayMs: Math.max(DEFAULT_RETRY_POLICY.maxDelayMs, initialDelayMs),
  };
  const problem = retryPolicyProblem(compensationRetry);
  if (problem) throw new Error(`saga compensation retry policy: ${problem}`);
  return { resultWaitMs: integerSetting(env, 'SAGA_RESULT_WAIT_MS', taskTimeoutMs, 0), compensationRetry };
}
