import { isFieldPath } from './json';
import { DEFAULT_ID_FIELD, DEFAULT_RRF_K } from './strategies';
import type { AggregationStrategy, FailurePolicy, FanOutPolicy } from './types';

/** Upper bound on `retry-branch.maxRetries`, so a typo cannot mean a near-endless retry loop. */
export const MAX_RETRIES = 100;

export const DEFAULT_FAN_OUT_POLICY: FanOutPolicy = { strategy: { type: 'all' }, failure: { type: 'fail-fast' } };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(path: string, message: string): never {
  throw new Error(`invalid fan-out policy: ${path} ${message}`);
}

function onlyKeys(value: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`${path}.${key}`, `is not a known field (allowed: ${allowed.join(', ')})`);
  }
}

function fieldPath(value: unknown, path: string): string {
  if (!isFieldPath(value)) fail(path, `must be a dotted field path such as "label" or "answer.choice" (got ${JSON.stringify(value)})`);
  return value;
}

/** Checks a strategy declaration (from JSON or code) and returns it with defaults filled in. */
export function validateAggregationStrategy(value: unknown, path = 'strategy'): AggregationStrategy {
  if (!isRecord(value)) fail(path, 'must be an object with a type');
  switch (value.type) {
    case 'all':
    case 'last-writer-wins':
      onlyKeys(value, path, ['type']);
      return { type: value.type };
    case 'majority-vote':
      onlyKeys(value, path, ['type', 'field']);
      return { type: 'majority-vote', field: fieldPath(value.field, `${path}.field`) };
    case 'ranked-fusion': {
      onlyKeys(value, path, ['type', 'field', 'idField', 'k']);
      const k = value.k ?? DEFAULT_RRF_K;
      if (typeof k !== 'number' || !Number.isFinite(k) || k < 0) fail(`${path}.k`, `must be a finite number >= 0 (got ${JSON.stringify(k)})`);
      return {
        type: 'ranked-fusion',
        field: fieldPath(value.field, `${path}.field`),
        idField: fieldPath(value.idField ?? DEFAULT_ID_FIELD, `${path}.idField`),
        k,
      };
    }
    default:
      return fail(`${path}.type`, `must be one of all, last-writer-wins, majority-vote, ranked-fusion (got ${JSON.stringify(value.type)})`);
  }
}

/** Checks a failure policy against the fan-out's branch count; returns it as a typed value. */
export function validateFailurePolicy(value: unknown, branchCount: number, path = 'failure'): FailurePolicy {
  if (!Number.isSafeInteger(branchCount) || branchCount < 1) fail('branchCount', `must be a positive integer (got ${String(branchCount)})`);
  if (!isRecord(value)) fail(path, 'must be an object with a type');
  switch (value.type) {
    case 'fail-fast':
    case 'proceed-with-partial':
      onlyKeys(value, path, ['type']);
      return { type: value.type };
    case 'retry-branch': {
      onlyKeys(value, path, ['type', 'maxRetries']);
      const { maxRetries } = value;
      if (typeof maxRetries !== 'number' || !Number.isSafeInteger(maxRetries) || maxRetries < 0 || maxRetries > MAX_RETRIES) {
        fail(`${path}.maxRetries`, `must be an integer from 0 to ${MAX_RETRIES} (got ${JSON.stringify(maxRetries)})`);
      }
      return { type: 'retry-branch', maxRetries };
    }
    case 'quorum': {
      onlyKeys(value, path, ['type', 'k']);
      const { k } = value;
      if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1 || k > branchCount) {
        fail(`${path}.k`, `must be an integer from 1 to branchCount (${branchCount}) (got ${JSON.stringify(k)})`);
      }
      return { type: 'quorum', k };
    }
    default:
      return fail(`${path}.type`, `must be one of fail-fast, retry-branch, proceed-with-partial, quorum (got ${JSON.stringify(value.type)})`);
  }
}

/**
 * Checks a fan-out policy `{ strategy, failure }` for a fan-out of `branchCount` branches and
 * returns it typed, with defaults: strategy `all`, failure `fail-fast` (each may be omitted,
 * as may the whole policy). Throws an Error naming the offending field.
 */
export function validateFanOutPolicy(policy: unknown, branchCount: number): FanOutPolicy {
  if (policy === undefined) policy = {};
  if (!isRecord(policy)) fail('policy', 'must be an object { strategy, failure }');
  onlyKeys(policy, 'policy', ['strategy', 'failure']);
  return {
    strategy: validateAggregationStrategy(policy.strategy ?? DEFAULT_FAN_OUT_POLICY.strategy),
    failure: validateFailurePolicy(policy.failure ?? DEFAULT_FAN_OUT_POLICY.failure, branchCount),
  };
}
