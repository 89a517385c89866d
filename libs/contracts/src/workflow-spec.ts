import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { DocumentInput, MAX_FAN_OUT, MAX_INPUT_TEXT, SKILL_NAME_PATTERN } from './events/workflow';
import {
  AGGREGATION_STRATEGIES,
  aggregationStrategyErrors,
  FAN_OUT_POLICIES,
  failurePolicyErrors,
  FIELD_PATH_PATTERN,
  MAX_BRANCH_RETRIES,
  MIN_BRANCH_RETRIES,
  MIN_RRF_K,
  type AggregationStrategyDeclaration,
  type FailurePolicyDeclaration,
} from './fan-out-policy';
import { backoffPolicy, retryPolicyProblem, type BackoffDeclaration } from './retry-policy';
import { walkSteps, type StepPlace } from './step-tree';
import { compileGatePattern } from './gate-pattern';
import { ContractValidationError, validatePlain, type FieldError, type UnknownFields } from './validation';

/**
 * A workflow is a declarative tree of steps the orchestrator runs; each step kind is one
 * coordination pattern (docs/patterns.md). Specs are JSON, validated here on submission so a
 * bad spec is refused with the field named, never discovered half-way through a run.
 */

export const STEP_KINDS = [
  'task',
  'fan-out',
  'chain',
  'supervisor',
  'saga',
  'market',
  'solver-rounds',
  'blackboard',
  'approval',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const MAX_STEP_DEPTH = 8;
export const MAX_STEPS = 5000;
/** The longest deadline a workflow or a step may declare: 7 days. */
export const MAX_DEADLINE_MS = 7 * 86_400_000;

/**
 * How long a retry waits (a fan-out's `retry-branch`, a gate's `retry`): the mesh's one backoff,
 * `backoffDelayMs` (retry-policy.ts); what is left out takes DEFAULT_RETRY_POLICY's value.
 */
export class BackoffSpec implements BackoffDeclaration {
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  initialDelayMs?: number;

  @IsOptional()
  @IsNumber()
  @Min(1)
  @Max(10)
  multiplier?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  maxDelayMs?: number;

  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  jitter?: number;
}

/** Where a step's input text comes from when it is not given literally. */
export class InputFrom {
  /** `previous`: the output of the stage before, in a chain. */
  @IsIn(['previous'])
  source!: 'previous';

  /** A field of that output holding text (dotted path), e.g. `summary`. */
  @IsString()
  @Matches(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/)
  field!: string;
}

export abstract class StepSpecBase {
  @IsIn(STEP_KINDS)
  kind!: StepKind;

  /** Shown in the API and the timeline. */
  @IsOptional()
  @IsString()
  @MaxLength(80)
  name?: string;

  /**
   * How long the step (each attempt) may run, from its start; past it, the step fails as if
   * its work had failed. A deadline longer than its parent's is allowed: the parent's applies.
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_DEADLINE_MS)
  deadlineMs?: number;
}

/** One task on a worker with the skill. */
export class TaskStepSpec extends StepSpecBase {
  declare kind: 'task';

  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "keywords"' })
  skill!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => DocumentInput)
  input?: DocumentInput;

  @IsOptional()
  @ValidateNested()
  @Type(() => InputFrom)
  inputFrom?: InputFrom;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

/** A fan-out's failure policy as declared; compileFanOutPolicy() (fan-out-policy.ts) resolves it. */
export class FanOutPolicySpec implements FailurePolicyDeclaration {
  /** `fail-fast` (default). */
  @IsIn(FAN_OUT_POLICIES)
  type!: (typeof FAN_OUT_POLICIES)[number];

  /** retry-branch: re-runs of a failed branch. */
  @IsOptional()
  @IsInt()
  @Min(MIN_BRANCH_RETRIES)
  @Max(MAX_BRANCH_RETRIES)
  maxRetries?: number;

  /** quorum: branches that must complete. */
  @IsOptional()
  @IsInt()
  @Min(1)
  k?: number;

  /** retry-branch: how long a failed branch waits before it runs again. */
  @IsOptional()
  @ValidateNested()
  @Type(() => BackoffSpec)
  backoff?: BackoffSpec;
}

/** An aggregation strategy as declared; compileFanOutPolicy() (fan-out-policy.ts) resolves it. */
export class AggregationStrategySpec implements AggregationStrategyDeclaration {
  /** `combine` (default): the skill's own combine over every output. */
  @IsIn(AGGREGATION_STRATEGIES)
  type!: (typeof AGGREGATION_STRATEGIES)[number];

  /** majority-vote: the output field voted on; ranked-fusion: the field holding the ranked list. */
  @IsOptional()
  @IsString()
  @Matches(FIELD_PATH_PATTERN)
  field?: string;

  /** ranked-fusion: the id field of ranked objects (lists of plain ids need none). */
  @IsOptional()
  @IsString()
  idField?: string;

  /** ranked-fusion: the RRF constant (default 60). */
  @IsOptional()
  @IsInt()
  @Min(MIN_RRF_K)
  k?: number;
}

/** Scatter-gather: the skill over every input in parallel; the aggregator joins them. */
export class FanOutStepSpec extends StepSpecBase {
  declare kind: 'fan-out';

  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "keywords"' })
  skill!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FAN_OUT)
  @ValidateNested({ each: true })
  @Type(() => DocumentInput)
  inputs!: DocumentInput[];

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @IsOptional()
  @ValidateNested()
  @Type(() => FanOutPolicySpec)
  policy?: FanOutPolicySpec;

  @IsOptional()
  @ValidateNested()
  @Type(() => AggregationStrategySpec)
  strategy?: AggregationStrategySpec;

  /** How long each branch (each attempt) may run; past it the branch counts as failed and the policy decides. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_DEADLINE_MS)
  branchDeadlineMs?: number;
}

/** One check of a validation gate on a stage's output. */
export class GateCheckSpec {
  /** Dotted path into the stage's output. */
  @IsString()
  @Matches(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/)
  field!: string;

  /** exists; min/max (number, or length of a string/array); equals; matches (regex). */
  @IsIn(['exists', 'min', 'max', 'equals', 'matches'])
  op!: 'exists' | 'min' | 'max' | 'equals' | 'matches';

  @IsOptional()
  value?: unknown;
}

export class GateFailureSpec {
  /** retry: run the stage again; recover: run `recovery` instead; fail: fail the workflow. */
  @IsIn(['retry', 'recover', 'fail'])
  action!: 'retry' | 'recover' | 'fail';

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxRetries?: number;

  /** retry: how long the stage waits before it runs again. */
  @IsOptional()
  @ValidateNested()
  @Type(() => BackoffSpec)
  backoff?: BackoffSpec;

  @IsOptional()
  @ValidateNested()
  @Type(() => StepSpecBase, stepDiscriminator())
  recovery?: StepSpec;
}

/**
 * A judge: a skill (a task on the workers, like any task) that reads the stage's output as JSON
 * text and answers `{ accept: boolean, reason?: string }` (or in `json`, an llm skill's
 * structured output); a rejection fails the gate with its reason.
 */
export class JudgeSpec {
  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "llm"' })
  skill!: string;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  /** How long the judge (each attempt) may run. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_DEADLINE_MS)
  deadlineMs?: number;
}

export class GateSpec {
  /** Deterministic checks, evaluated first. */
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => GateCheckSpec)
  checks!: GateCheckSpec[];

  /** Runs once the checks pass: the gate holds only if it accepts. */
  @IsOptional()
  @ValidateNested()
  @Type(() => JudgeSpec)
  judge?: JudgeSpec;

  @IsDefined()
  @ValidateNested()
  @Type(() => GateFailureSpec)
  onFail!: GateFailureSpec;
}

export class ChainStageSpec {
  @IsDefined()
  @ValidateNested()
  @Type(() => StepSpecBase, stepDiscriminator())
  step!: StepSpec;

  /** Checked on the stage's output before the next stage may start. */
  @IsOptional()
  @ValidateNested()
  @Type(() => GateSpec)
  gate?: GateSpec;
}

/** Event chaining: each stage starts from the previous stage's completion. */
export class ChainStepSpec extends StepSpecBase {
  declare kind: 'chain';

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => ChainStageSpec)
  stages!: ChainStageSpec[];
}

/** How many times a planner runs before its supervisor fails for want of a valid plan (planner.maxAttempts). */
export const DEFAULT_PLANNER_ATTEMPTS = 2;

/**
 * A supervisor's planner: a skill (a task on the workers, like any task) whose output is the
 * supervisor's children, `{ children: [step, ...] }` (or in `json`, an llm skill's structured
 * output). It reads `input`, or else the previous output as JSON text.
 */
export class PlannerSpec {
  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "llm"' })
  skill!: string;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  @IsOptional()
  @ValidateNested()
  @Type(() => DocumentInput)
  input?: DocumentInput;

  /** Runs of the planner (its plan refused, it runs again) before the supervisor fails. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxAttempts?: number;

  /** How long the planner (each attempt) may run. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_DEADLINE_MS)
  deadlineMs?: number;
}

/**
 * A supervisor decomposes its work into children (which may be supervisors themselves) and
 * rolls their results up: it holds its own children's results, never its grandchildren's. The
 * children are given (`children`) or decided at run time by its `planner`; a plan is validated
 * as a submitted spec's steps are, and recorded (WorkflowState's plans, `supervisor.planned`).
 */
export class SupervisorStepSpec extends StepSpecBase {
  declare kind: 'supervisor';

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FAN_OUT)
  @ValidateNested({ each: true })
  @Type(() => StepSpecBase, stepDiscriminator())
  children?: StepSpec[];

  @IsOptional()
  @ValidateNested()
  @Type(() => PlannerSpec)
  planner?: PlannerSpec;

  /** The most children a plan may give (at most MAX_FAN_OUT in any case). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_FAN_OUT)
  maxChildren?: number;
}

/** An action (or its compensation): a skill run on an input. */
export class SagaActionSpec {
  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "keywords"' })
  skill!: string;

  @ValidateNested()
  @Type(() => DocumentInput)
  input!: DocumentInput;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

export class SagaStepItemSpec {
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,62}$/, { message: 'name must be a lower-case step name' })
  name!: string;

  @IsDefined()
  @ValidateNested()
  @Type(() => SagaActionSpec)
  action!: SagaActionSpec;

  /** Required: a saga step without a compensation is refused at submission. */
  @IsDefined({ message: 'compensation is required: every saga step must declare how to undo it' })
  @ValidateNested()
  @Type(() => SagaActionSpec)
  compensation!: SagaActionSpec;

  /** The step fails (and the saga compensates) if it has not completed by then. */
  @IsInt({ message: 'deadlineMs is required: every saga step has a deadline' })
  @Min(10)
  @Max(86_400_000)
  deadlineMs!: number;
}

/** Ordered steps with compensations, run by the saga coordinator. */
export class SagaStepSpec extends StepSpecBase {
  declare kind: 'saga';

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => SagaStepItemSpec)
  steps!: SagaStepItemSpec[];
}

/** How long a market step's ask collects bids when the spec does not say (MarketStepSpec.bidWindowMs). */
export const DEFAULT_BID_WINDOW_MS = 200;
/** The longest bidding window a spec may ask for. */
export const MAX_BID_WINDOW_MS = 60_000;

/**
 * The bidding window of a market step's asks: its own, else the default — at most half of
 * `expireAfterMs`, so a short-lived ask (a spec written before windows existed) still has time
 * left to be filled after its window.
 */
export function bidWindowOf(step: { readonly bidWindowMs?: number; readonly expireAfterMs: number }): number {
  return step.bidWindowMs ?? Math.min(DEFAULT_BID_WINDOW_MS, Math.floor(step.expireAfterMs / 2));
}

/** How an unfilled ask is re-priced when it expires. */
export class RepriceSpec {
  /** New budget = old budget × factor, capped at maxBudget. */
  @IsNumber()
  @Min(1.01)
  @Max(10)
  factor!: number;

  @IsNumber()
  @Min(0)
  maxBudget!: number;

  /** Re-pricings before the step fails. */
  @IsInt()
  @Min(1)
  @Max(5)
  times!: number;
}

/** A step that runs one skill on one given input (market and solver rounds). */
export abstract class SkillOnInputStepSpec extends StepSpecBase {
  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "keywords"' })
  skill!: string;

  @IsDefined()
  @ValidateNested()
  @Type(() => DocumentInput)
  input!: DocumentInput;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

/**
 * Market-based allocation: the task is put up as an ask (budget and constraints) on
 * `market.asks`; workers bid from their own load and the task's size; the market maker matches
 * by price-time priority and publishes the fill; the winning worker does the work.
 */
export class MarketStepSpec extends SkillOnInputStepSpec {
  declare kind: 'market';

  /** The most the owner pays. */
  @IsNumber()
  @Min(0)
  budget!: number;

  /** Bids promising a longer run are not considered. */
  @IsOptional()
  @IsInt()
  @Min(1)
  maxEstimatedMs?: number;

  /** How long the ask stays open without a fill. */
  @IsInt()
  @Min(10)
  @Max(86_400_000)
  expireAfterMs!: number;

  /**
   * How long each ask collects bids before the best one (lowest price, then earliest) wins;
   * default DEFAULT_BID_WINDOW_MS, at most half of `expireAfterMs` (bidWindowOf). Shorter than
   * `expireAfterMs`.
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_BID_WINDOW_MS)
  bidWindowMs?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => RepriceSpec)
  reprice?: RepriceSpec;
}

/**
 * Solver rounds: `solvers` agents answer, see each other's answers, and refine for a fixed
 * number of rounds (run by the market maker); the aggregator compiles the last round's answers.
 */
export class SolverRoundsStepSpec extends SkillOnInputStepSpec {
  declare kind: 'solver-rounds';

  @IsInt()
  @Min(2)
  @Max(20)
  solvers!: number;

  @IsInt()
  @Min(1)
  @Max(10)
  rounds!: number;

  @IsDefined()
  @ValidateNested()
  @Type(() => AggregationStrategySpec)
  strategy!: AggregationStrategySpec;
}

export class BoardEntrySpec {
  @Matches(/^[a-z][a-z0-9-]{0,62}$/, { message: 'kind must be a lower-case entry kind' })
  kind!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_INPUT_TEXT)
  text!: string;
}

/** A knowledge source: when an entry of kind `on` is posted, run `skill` on it and post the result as `produces`. */
export class KnowledgeSourceSpec {
  @Matches(/^[a-z][a-z0-9-]{0,62}$/)
  name!: string;

  @Matches(SKILL_NAME_PATTERN)
  skill!: string;

  @Matches(/^[a-z][a-z0-9-]{0,62}$/)
  on!: string;

  @Matches(/^[a-z][a-z0-9-]{0,62}$/)
  produces!: string;

  /** The output field posted as the new entry's text (default: the whole output as JSON). */
  @IsOptional()
  @IsString()
  field?: string;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

export class BoardEndSpec {
  /** Done when this many entries of this kind are on the board. */
  @Matches(/^[a-z][a-z0-9-]{0,62}$/)
  kind!: string;

  @IsInt()
  @Min(1)
  count!: number;
}

/**
 * Blackboard: a board (topic `blackboard.<board>`) where agents post entries and react to
 * what is posted; the controller ends the step when `until` holds. The board is materialized in
 * Redis and can be rebuilt from its topic.
 */
export class BlackboardStepSpec extends StepSpecBase {
  declare kind: 'blackboard';

  @Matches(/^[a-z][a-z0-9-]{0,62}$/, { message: 'board must be a lower-case board name' })
  board!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => BoardEntrySpec)
  seed!: BoardEntrySpec[];

  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => KnowledgeSourceSpec)
  sources!: KnowledgeSourceSpec[];

  @IsDefined()
  @ValidateNested()
  @Type(() => BoardEndSpec)
  until!: BoardEndSpec;

  /** A safety stop: the step fails if the board grows past this without meeting `until`. */
  @IsInt()
  @Min(1)
  @Max(10_000)
  maxEntries!: number;
}

/** The longest prompt an approval step shows. */
export const MAX_APPROVAL_PROMPT = 2000;

/**
 * A human approval: the step waits, dispatching nothing, until someone decides
 * (`POST /workflows/:id/approvals/:stepPath`, the event `approval.decided`) or its deadline
 * passes. Approved, its output is `{ approved: true, comment?, by?, previous? }` — `previous`
 * is the output it was asked about (the stage before it in a chain), so the next stage reads it
 * as `inputFrom: { source: 'previous', field: 'previous.<field>' }`; rejected, it fails with
 * the comment as reason.
 */
export class ApprovalStepSpec extends StepSpecBase {
  declare kind: 'approval';

  /** What the approver is asked; shown in the API, the CLI and the console. */
  @IsOptional()
  @IsString()
  @MaxLength(MAX_APPROVAL_PROMPT)
  prompt?: string;
}

export type StepSpec =
  | TaskStepSpec
  | FanOutStepSpec
  | ChainStepSpec
  | SupervisorStepSpec
  | SagaStepSpec
  | MarketStepSpec
  | SolverRoundsStepSpec
  | BlackboardStepSpec
  | ApprovalStepSpec;

/** class-transformer picks the step class by `kind`; the list is read lazily (classes nest). */
function stepDiscriminator() {
  return {
    discriminator: {
      property: 'kind',
      get subTypes() {
        return [
          { value: TaskStepSpec, name: 'task' },
          { value: FanOutStepSpec, name: 'fan-out' },
          { value: ChainStepSpec, name: 'chain' },
          { value: SupervisorStepSpec, name: 'supervisor' },
          { value: SagaStepSpec, name: 'saga' },
          { value: MarketStepSpec, name: 'market' },
          { value: SolverRoundsStepSpec, name: 'solver-rounds' },
          { value: BlackboardStepSpec, name: 'blackboard' },
          { value: ApprovalStepSpec, name: 'approval' },
        ];
      },
    },
    keepDiscriminatorProperty: true,
  };
}

/**
 * What a workflow may spend on model calls, summed over its tasks' reported usage
 * (`task.completed`'s `usage`): past it, the step of the task that went over fails, and no
 * step sends work once it is spent.
 */
export class BudgetSpec {
  /** Prompt plus completion tokens. */
  @IsOptional()
  @IsInt()
  @Min(1)
  tokens?: number;

  @IsOptional()
  /** In dollars; at least a micro-dollar, the unit usage is summed in. */
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  costUsd?: number;
}

/** A submitted workflow: a name, its deadline, its budget and the root step. */
export class WorkflowSpec {
  @IsOptional()
  @IsString()
  @MaxLength(120)
  name?: string;

  /**
   * How long the workflow may run (default: the orchestrator's WORKFLOW_DEADLINE_MS, one hour);
   * past it, it ends `timed-out`. Steps may declare tighter deadlines of their own.
   */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_DEADLINE_MS)
  deadlineMs?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => BudgetSpec)
  budget?: BudgetSpec;

  @IsDefined()
  @ValidateNested()
  @Type(() => StepSpecBase, stepDiscriminator())
  step!: StepSpec;
}

/**
 * What a spec is validated as: `submitted` (a supervisor gives exactly one of children and
 * planner), or `planned` — the spec with its recorded plans (withPlans, supervisor-plan.ts),
 * where a planner's supervisor also holds the children it gave.
 */
export type SpecStage = 'submitted' | 'planned';

type StepCheck<K extends StepKind> = (
  step: Extract<StepSpec, { kind: K }>,
  place: StepPlace,
  stage: SpecStage,
) => FieldError[];
const error = (field: string, message: string): FieldError => ({ field, messages: [message] });
/** What a schema cannot say about each kind of step; the tree walk (step-tree.ts) visits the children. */
const STEP_CHECKS: { readonly [K in StepKind]: StepCheck<K> } = {
  task: (step, { field, hasPrevious }) => [
    ...((step.input === undefined) === (step.inputFrom === undefined)
      ? [error(`${field}.input`, 'give exactly one of input and inputFrom')]
      : []),
    ...(step.inputFrom && !hasPrevious
      ? [
          error(
            `${field}.inputFrom`,
            'inputFrom needs a previous output: use it in a chain stage after the first, or in a recovery step',
          ),
        ]
      : []),
  ],
  // the policy model's own checks (fan-out-policy.ts), so submission refuses what the aggregator would
  'fan-out': (step, { field }) => [
    ...(step.policy ? failurePolicyErrors(step.policy, step.inputs.length, `${field}.policy`) : []),
    ...(step.strategy ? aggregationStrategyErrors(step.strategy, `${field}.strategy`) : []),
    ...backoffErrors(step.policy?.backoff, step.policy?.type === 'retry-branch', 'retry-branch', `${field}.policy`),
  ],
  chain: (step, { field }) => step.stages.flatMap((stage, i) => checkStage(stage, `${field}.stages.${i}`)),
  supervisor: (step, { field, hasPrevious }, stage) => [
    ...((step.children === undefined) === (step.planner === undefined) &&
    !(stage === 'planned' && step.planner !== undefined)
      ? [error(`${field}.children`, 'give exactly one of children and planner')]
      : []),
    ...(step.planner && !step.planner.input && !hasPrevious
      ? [
          error(
            `${field}.planner.input`,
            'a planner needs an input, or a previous output (in a chain stage after the first)',
          ),
        ]
      : []),
    ...(step.children && step.maxChildren !== undefined && step.children.length > step.maxChildren
      ? [error(`${field}.children`, `at most maxChildren (${step.maxChildren}) children, got ${step.children.length}`)]
      : []),
  ],
  market: (step, { field }) => [
    ...(step.reprice && step.reprice.maxBudget < step.budget
      ? [error(`${field}.reprice.maxBudget`, 'maxBudget must be at least the starting budget')]
      : []),
    ...(step.bidWindowMs !== undefined && step.bidWindowMs >= step.expireAfterMs
      ? [error(`${field}.bidWindowMs`, `bidWindowMs must be shorter than expireAfterMs (${step.expireAfterMs} ms)`)]
      : []),
  ],
  'solver-rounds': (step, { field }) => aggregationStrategyErrors(step.strategy, `${field}.strategy`),
  blackboard: (step, { field }) => {
    const kinds = new Set([...step.seed.map((e) => e.kind), ...step.sources.map((src) => src.produces)]);
    return [
      ...(kinds.has(step.until.kind)
        ? []
        : [
            error(
              `${field}.until.kind`,
              `no seed entry or source produces "${step.until.kind}": the board could never end`,
            ),
          ]),
      ...step.sources.flatMap((src, i) =>
        kinds.has(src.on) ? [] : [error(`${field}.sources.${i}.on`, `nothing posts "${src.on}" entries`)],
      ),
    ];
  },
  approval: () => [],
  saga: (step, { field }) =>
    step.steps.flatMap((item, i) =>
      step.steps.findIndex((other) => other.name === item.name) < i
        ? [error(`${field}.steps.${i}.name`, `duplicate saga step name "${item.name}"`)]
        : [],
    ),
};

/** A chain stage's gate: checks that can be evaluated, and an onFail that can be carried out. */
function checkStage(stage: ChainStageSpec, field: string): FieldError[] {
  const errors: FieldError[] = [];
  stage.gate?.checks.forEach((check, c) => {
    const value = `${field}.gate.checks.${c}.value`;
    if ((check.op === 'min' || check.op === 'max') && typeof check.value !== 'number')
      errors.push(error(value, `${check.op} needs a number`));
    if (check.op === 'matches') {
      try {
        compileGatePattern(String(check.value));
      } catch (e) {
        errors.push(error(value, `not a regular expression RE2 can run in linear time: ${(e as Error).message}`));
      }
    }
  });
  const onFail = stage.gate?.onFail;
  if (onFail?.action === 'recover' && !onFail.recovery)
    errors.push(error(`${field}.gate.onFail.recovery`, 'recover needs a recovery step'));
  if (onFail?.action === 'retry' && onFail.maxRetries === undefined)
    errors.push(error(`${field}.gate.onFail.maxRetries`, 'retry needs maxRetries (1-10)'));
  if (onFail?.action === 'retry' && stage.step.kind !== 'task') {
    errors.push(error(`${field}.gate.onFail.action`, 'retry re-runs task stages only; use recover for other stages'));
  }
  errors.push(...backoffErrors(onFail?.backoff, onFail?.action === 'retry', 'retry', `${field}.gate.onFail`));
  return errors;
}

/** A declared backoff: only where something retries, and delays that make a policy. */
function backoffErrors(
  backoff: BackoffSpec | undefined,
  retries: boolean,
  retrying: string,
  field: string,
): FieldError[] {
  if (!backoff) return [];
  if (!retries) return [error(`${field}.backoff`, `backoff applies to ${retrying} only`)];
  const problem = retryPolicyProblem(backoffPolicy(backoff, 1));
  return problem ? [error(`${field}.backoff`, problem)] : [];
}

function checkStep<K extends StepKind>(
  step: Extract<StepSpec, { kind: K }>,
  place: StepPlace,
  stage: SpecStage,
): FieldError[] {
  return (STEP_CHECKS[step.kind] as StepCheck<K>)(step, place, stage);
}

/** The skills a step itself names (not its children's), with the field naming each, relative to the step. */
export function skillsNamedBy(step: StepSpec): { readonly skill: string; readonly field: string }[] {
  switch (step.kind) {
    case 'task':
    case 'fan-out':
    case 'market':
    case 'solver-rounds':
      return [{ skill: step.skill, field: 'skill' }];
    case 'blackboard':
      return step.sources.map((src, i) => ({ skill: src.skill, field: `sources.${i}.skill` }));
    case 'saga':
      return step.steps.flatMap((item, i) => [
        { skill: item.action.skill, field: `steps.${i}.action.skill` },
        { skill: item.compensation.skill, field: `steps.${i}.compensation.skill` },
      ]);
    case 'supervisor':
      return step.planner ? [{ skill: step.planner.skill, field: 'planner.skill' }] : [];
    case 'chain':
      return step.stages.flatMap((stage, i) =>
        stage.gate?.judge ? [{ skill: stage.gate.judge.skill, field: `stages.${i}.gate.judge.skill` }] : [],
      );
    case 'approval':
      return [];
  }
}

/**
 * Every skill named in the tree under `root` (its own included) that is not among `known`, as
 * field errors; `field` is the root's field path (`step` for a workflow's root).
 */
export function unknownSkillErrors(root: StepSpec, known: readonly string[], field = 'step'): FieldError[] {
  const errors: FieldError[] = [];
  walkSteps(root, (step, place) => {
    for (const named of skillsNamedBy(step)) {
      if (!known.includes(named.skill))
        errors.push(
          error(
            `${field}${place.field.slice('step'.length)}.${named.field}`,
            `unknown skill "${named.skill}"; known: ${known.join(', ')}`,
          ),
        );
    }
  });
  return errors;
}

/**
 * Validates a spec: the schema (class-validator), then what a schema cannot say — a task's
 * input given exactly one way, `inputFrom` only inside a chain after its first stage, a quorum
 * no larger than its fan-out, depth and size bounds. Throws ContractValidationError naming
 * each bad field by its path (e.g. `step.stages.1.step.skill`). Unknown fields are refused (the
 * HTTP API) unless `unknownFields` is 'keep' (a spec read back, or carried by an event).
 * `stage` 'planned' is for a spec with its recorded plans grafted in (withPlans).
 */
export function validateWorkflowSpec(
  plain: unknown,
  unknownFields: UnknownFields = 'reject',
  stage: SpecStage = 'submitted',
): WorkflowSpec {
  const spec = validatePlain(WorkflowSpec, plain, 'workflow spec', unknownFields);
  const errors: FieldError[] = [];
  let steps = 0;
  walkSteps(spec.step, (step, place) => {
    steps++;
    if (place.depth > MAX_STEP_DEPTH) errors.push(error(place.field, `steps nest at most ${MAX_STEP_DEPTH} deep`));
    if (!(step instanceof StepSpecBase)) {
      errors.push(error(`${place.field}.kind`, `kind must be one of ${STEP_KINDS.join(', ')}`));
      return;
    }
    errors.push(...checkStep(step, place, stage));
  });
  if (steps > MAX_STEPS) errors.push(error('step', `a workflow has at most ${MAX_STEPS} steps (got ${steps})`));
  if (errors.length > 0) throw new ContractValidationError('workflow spec', errors);
  return spec;
}
