import { ContractValidationError, type FieldError } from './validation';

/**
 * The fan-out policy model: how a fan-out joins — which branches count (the failure policy) and
 * how their outputs combine (the aggregation strategy). A workflow spec declares them with
 * optional fields; compileFanOutPolicy() is the one place that fills the defaults and checks the
 * limits, for the spec on submission, the orchestrator's `fanout.started` and the aggregator.
 */

export const FAN_OUT_POLICIES = ['fail-fast', 'retry-branch', 'proceed-with-partial', 'quorum'] as const;
export const AGGREGATION_STRATEGIES = ['combine', 'all', 'last-writer-wins', 'majority-vote', 'ranked-fusion'] as const;
export type FailurePolicyType = (typeof FAN_OUT_POLICIES)[number];
export type AggregationStrategyType = (typeof AGGREGATION_STRATEGIES)[number];

export const DEFAULT_FAILURE_POLICY = 'fail-fast' satisfies FailurePolicyType;
export const DEFAULT_AGGREGATION_STRATEGY = 'combine' satisfies AggregationStrategyType;
/** retry-branch: re-runs of a failed branch, so a typo cannot mean a near-endless retry loop. */
export const MIN_BRANCH_RETRIES = 1;
export const MAX_BRANCH_RETRIES = 10;
/** ranked-fusion: the reciprocal rank fusion constant and the id field of ranked objects. */
export const DEFAULT_RRF_K = 60;
export const MIN_RRF_K = 1;
export const DEFAULT_ID_FIELD = 'id';
/** A dotted path into a branch's output, such as `label` or `answer.choice`. */
export const FIELD_PATH_PATTERN = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

/** A failure policy as a spec declares it (FanOutPolicySpec's shape). */
export interface FailurePolicyDeclaration {
  readonly type: FailurePolicyType;
  readonly maxRetries?: number;
  readonly k?: number;
}

/** An aggregation strategy as a spec declares it (AggregationStrategySpec's shape). */
export interface AggregationStrategyDeclaration {
  readonly type: AggregationStrategyType;
  readonly field?: string;
  readonly idField?: string;
  readonly k?: number;
}

/** Any failed branch fails the fan-out at once. */
export interface FailFastPolicy {
  readonly type: 'fail-fast';
}

/** A failed branch is re-run up to `maxRetries` times; a branch failing after that fails the fan-out. */
export interface RetryBranchPolicy {
  readonly type: 'retry-branch';
  readonly maxRetries: number;
}

/** Wait for every branch; succeed with whatever completed (failed only if nothing did). */
export interface ProceedWithPartialPolicy {
  readonly type: 'proceed-with-partial';
}

/** Succeed as soon as `k` branches completed; fail as soon as `k` can no longer be reached. */
export interface QuorumPolicy {
  readonly type: 'quorum';
  readonly k: number;
}

export type FailurePolicy = FailFastPolicy | RetryBranchPolicy | ProceedWithPartialPolicy | QuorumPolicy;

/** The skill's own combine over every used output. */
export interface CombineStrategy {
  readonly type: 'combine';
}

/** Every used output, in branch order. */
export interface AllStrategy {
  readonly type: 'all';
}

/** The output with the greatest `completedAt` (ties: the higher branch index). */
export interface LastWriterWinsStrategy {
  readonly type: 'last-writer-wins';
}

/** The most common value at `field` (a dotted path such as `answer.choice`). */
export interface MajorityVoteStrategy {
  readonly type: 'majority-vote';
  readonly field: string;
}

/**
 * Reciprocal rank fusion of the ranked lists found at `field`: each list holds ids, or objects
 * whose `idField` is the id. score(d) = Σ 1 / (k + rank), rank from 1.
 */
export interface RankedFusionStrategy {
  readonly type: 'ranked-fusion';
  readonly field: string;
  readonly idField: string;
  readonly k: number;
}

export type AggregationStrategy =
  CombineStrategy | AllStrategy | LastWriterWinsStrategy | MajorityVoteStrategy | RankedFusionStrategy;
/** The strategies that need no skill: the aggregator runs them itself. */
export type SkillFreeStrategy = Exclude<AggregationStrategy, CombineStrategy>;

/** A fan-out's join, every default filled in and every limit checked. */
export interface CompiledFanOutPolicy {
  readonly policy: FailurePolicy;
  readonly strategy: AggregationStrategy;
}

const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);
const isFieldPath = (value: unknown): value is string =>
  typeof value === 'string' && value.split('.').every((segment) => segment.length > 0);

/** Each problem of a declared failure policy for a fan-out of `branchCount` branches, `path` naming it. */
export function failurePolicyErrors(
  declared: FailurePolicyDeclaration,
  branchCount: number,
  path = 'policy',
): FieldError[] {
  switch (declared.type) {
    case 'fail-fast':
    case 'proceed-with-partial':
      return [];
    case 'retry-branch': {
      const { maxRetries } = declared;
      if (isInteger(maxRetries) && maxRetries >= MIN_BRANCH_RETRIES && maxRetries <= MAX_BRANCH_RETRIES) return [];
      const got = maxRetries === undefined ? 'none' : JSON.stringify(maxRetries);
      return [
        {
          field: `${path}.maxRetries`,
          messages: [
            `retry-branch needs maxRetries, an integer from ${MIN_BRANCH_RETRIES} to ${MAX_BRANCH_RETRIES} (got ${got})`,
          ],
        },
      ];
    }
    case 'quorum': {
      const { k } = declared;
      if (isInteger(k) && k >= 1 && k <= branchCount) return [];
      return [
        {
          field: `${path}.k`,
          messages: [
            `quorum needs k between 1 and the ${branchCount} inputs (got ${k === undefined ? 'none' : JSON.stringify(k)})`,
          ],
        },
      ];
    }
    default:
      return [
        {
          field: `${path}.type`,
          messages: [`type must be one of ${FAN_OUT_POLICIES.join(', ')} (got ${JSON.stringify(declared.type)})`],
        },
      ];
  }
}

/** Each problem of a declared aggregation strategy, `path` naming it. */
export function aggregationStrategyErrors(declared: AggregationStrategyDeclaration, path = 'strategy'): FieldError[] {
  if (!(AGGREGATION_STRATEGIES as readonly string[]).includes(declared.type)) {
    return [
      {
        field: `${path}.type`,
        messages: [`type must be one of ${AGGREGATION_STRATEGIES.join(', ')} (got ${JSON.stringify(declared.type)})`],
      },
    ];
  }
  if (declared.type !== 'majority-vote' && declared.type !== 'ranked-fusion') return [];
  const errors: FieldError[] = [];
  if (typeof declared.field !== 'string' || !FIELD_PATH_PATTERN.test(declared.field)) {
    errors.push({
      field: `${path}.field`,
      messages: [`${declared.type} needs the output field to use, a dotted path such as "label" or "answer.choice"`],
    });
  }
  if (declared.type === 'ranked-fusion' && declared.idField !== undefined && !isFieldPath(declared.idField)) {
    errors.push({
      field: `${path}.idField`,
      messages: [`idField must be a dotted field path such as "id" (got ${JSON.stringify(declared.idField)})`],
    });
  }
  if (
    declared.type === 'ranked-fusion' &&
    declared.k !== undefined &&
    !(isInteger(declared.k) && declared.k >= MIN_RRF_K)
  ) {
    errors.push({
      field: `${path}.k`,
      messages: [`k must be an integer of at least ${MIN_RRF_K} (got ${JSON.stringify(declared.k)})`],
    });
  }
  return errors;
}

/** A valid declared failure policy, typed; fields the type does not use are dropped. */
function resolveFailurePolicy(declared: FailurePolicyDeclaration): FailurePolicy {
  switch (declared.type) {
    case 'retry-branch':
      return { type: 'retry-branch', maxRetries: declared.maxRetries ?? MIN_BRANCH_RETRIES };
    case 'quorum':
      return { type: 'quorum', k: declared.k ?? 1 };
    default:
      return { type: declared.type };
  }
}

/** A valid declared aggregation strategy, typed, with its defaults; fields the type does not use are dropped. */
function resolveAggregationStrategy(declared: AggregationStrategyDeclaration): AggregationStrategy {
  switch (declared.type) {
    case 'majority-vote':
      return { type: 'majority-vote', field: declared.field ?? '' };
    case 'ranked-fusion':
      return {
        type: 'ranked-fusion',
        field: declared.field ?? '',
        idField: declared.idField ?? DEFAULT_ID_FIELD,
        k: declared.k ?? DEFAULT_RRF_K,
      };
    default:
      return { type: declared.type };
  }
}

/** Checks a failure policy for a fan-out of `branchCount` branches; throws ContractValidationError naming the field. */
export function compileFailurePolicy(
  declared: FailurePolicyDeclaration | undefined,
  branchCount: number,
): FailurePolicy {
  const policy = declared ?? { type: DEFAULT_FAILURE_POLICY };
  const errors = [...branchCountErrors(branchCount), ...failurePolicyErrors(policy, branchCount)];
  if (errors.length > 0) throw new ContractValidationError('fan-out policy', errors);
  return resolveFailurePolicy(policy);
}

/** Checks an aggregation strategy (default `combine`) and fills its defaults; throws ContractValidationError naming the field. */
export function compileAggregationStrategy(declared: AggregationStrategyDeclaration | undefined): AggregationStrategy {
  const strategy = declared ?? { type: DEFAULT_AGGREGATION_STRATEGY };
  const errors = aggregationStrategyErrors(strategy);
  if (errors.length > 0) throw new ContractValidationError('aggregation strategy', errors);
  return resolveAggregationStrategy(strategy);
}

/**
 * A fan-out's declared `policy` and `strategy` (each optional) for `branchCount` branches, checked
 * and resolved: policy `fail-fast` and strategy `combine` by default, retry-branch's `maxRetries`
 * from 1 to 10, quorum's `k` from 1 to the branch count, ranked-fusion's `idField` `id` and `k`
 * 60 by default. Throws ContractValidationError naming every bad field (`policy.k`, ...).
 */
export function compileFanOutPolicy(
  declared: { readonly policy?: FailurePolicyDeclaration; readonly strategy?: AggregationStrategyDeclaration },
  branchCount: number,
): CompiledFanOutPolicy {
  const policy = declared.policy ?? { type: DEFAULT_FAILURE_POLICY };
  const strategy = declared.strategy ?? { type: DEFAULT_AGGREGATION_STRATEGY };
  const errors = [
    ...branchCountErrors(branchCount),
    ...failurePolicyErrors(policy, branchCount),
    ...aggregationStrategyErrors(strategy),
  ];
  if (errors.length > 0) throw new ContractValidationError('fan-out policy', errors);
  return { policy: resolveFailurePolicy(policy), strategy: resolveAggregationStrategy(strategy) };
}

function branchCountErrors(branchCount: number): FieldError[] {
  if (isInteger(branchCount) && branchCount >= 1) return [];
  return [
    {
      field: 'branchCount',
      messages: [`a fan-out has a positive whole number of branches (got ${String(branchCount)})`],
    },
  ];
}
