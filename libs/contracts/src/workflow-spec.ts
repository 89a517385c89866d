import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { DocumentInput, MAX_FAN_OUT, SKILL_NAME_PATTERN } from './events/workflow';
import { ContractValidationError, validatePlain, type FieldError } from './validation';

/**
 * A workflow is a declarative tree of steps the orchestrator runs; each step kind is one
 * coordination pattern (docs/patterns.md). Specs are JSON, validated here on submission so a
 * bad spec is refused with the field named, never discovered half-way through a run.
 */

export const STEP_KINDS = ['task', 'fan-out', 'chain', 'supervisor', 'saga'] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const MAX_STEP_DEPTH = 8;
export const MAX_STEPS = 5000;

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

export const FAN_OUT_POLICIES = ['fail-fast', 'retry-branch', 'proceed-with-partial', 'quorum'] as const;
export const AGGREGATION_STRATEGIES = ['combine', 'all', 'last-writer-wins', 'majority-vote', 'ranked-fusion'] as const;

export class FanOutPolicySpec {
  @IsIn(FAN_OUT_POLICIES)
  type!: (typeof FAN_OUT_POLICIES)[number];

  /** retry-branch: re-runs of a failed branch. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxRetries?: number;

  /** quorum: branches that must complete. */
  @IsOptional()
  @IsInt()
  @Min(1)
  k?: number;
}

export class AggregationStrategySpec {
  /** `combine` (default): the skill's own combine over every output. */
  @IsIn(AGGREGATION_STRATEGIES)
  type!: (typeof AGGREGATION_STRATEGIES)[number];

  /** majority-vote: the output field voted on; ranked-fusion: the field holding the ranked list. */
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/)
  field?: string;

  /** ranked-fusion: the id field of ranked objects (lists of plain ids need none). */
  @IsOptional()
  @IsString()
  idField?: string;

  /** ranked-fusion: the RRF constant (default 60). */
  @IsOptional()
  @IsInt()
  @Min(1)
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

  @IsOptional()
  @ValidateNested()
  @Type(() => StepSpecBase, stepDiscriminator())
  recovery?: StepSpec;
}

export class GateSpec {
  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => GateCheckSpec)
  checks!: GateCheckSpec[];

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

/**
 * A supervisor decomposes its work into children (which may be supervisors themselves) and
 * rolls their results up: it holds its own children's results, never its grandchildren's.
 */
export class SupervisorStepSpec extends StepSpecBase {
  declare kind: 'supervisor';

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FAN_OUT)
  @ValidateNested({ each: true })
  @Type(() => StepSpecBase, stepDiscriminator())
  children!: StepSpec[];
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

export type StepSpec = TaskStepSpec | FanOutStepSpec | ChainStepSpec | SupervisorStepSpec | SagaStepSpec;

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
        ];
      },
    },
    keepDiscriminatorProperty: true,
  };
}

/** A submitted workflow: a name and the root step. */
export class WorkflowSpec {
  @IsOptional()
  @IsString()
  @MaxLength(120)
  name?: string;

  @IsDefined()
  @ValidateNested()
  @Type(() => StepSpecBase, stepDiscriminator())
  step!: StepSpec;
}

/**
 * Validates a spec: the schema (class-validator), then what a schema cannot say — a task's
 * input given exactly one way, `inputFrom` only inside a chain after its first stage, a quorum
 * no larger than its fan-out, depth and size bounds. Throws ContractValidationError naming
 * each bad field by its path (e.g. `step.stages.1.step.skill`).
 */
export function validateWorkflowSpec(plain: unknown): WorkflowSpec {
  const spec = validatePlain(WorkflowSpec, plain, 'workflow spec');
  const errors: FieldError[] = [];
  let steps = 0;
  const visit = (step: StepSpec, path: string, depth: number, hasPrevious: boolean): void => {
    steps++;
    if (depth > MAX_STEP_DEPTH) errors.push({ field: path, messages: [`steps nest at most ${MAX_STEP_DEPTH} deep`] });
    if (!(step instanceof StepSpecBase)) {
      errors.push({ field: `${path}.kind`, messages: [`kind must be one of ${STEP_KINDS.join(', ')}`] });
      return;
    }
    switch (step.kind) {
      case 'task':
        if ((step.input === undefined) === (step.inputFrom === undefined)) {
          errors.push({ field: `${path}.input`, messages: ['give exactly one of input and inputFrom'] });
        }
        if (step.inputFrom && !hasPrevious) {
          errors.push({
            field: `${path}.inputFrom`,
            messages: ['inputFrom needs a previous output: use it in a chain stage after the first, or in a recovery step'],
          });
        }
        break;
      case 'fan-out':
        if (step.policy?.type === 'quorum') {
          if (step.policy.k === undefined || step.policy.k > step.inputs.length) {
            errors.push({ field: `${path}.policy.k`, messages: [`quorum needs k between 1 and the ${step.inputs.length} inputs`] });
          }
        }
        if (step.policy?.type === 'retry-branch' && step.policy.maxRetries === undefined) {
          errors.push({ field: `${path}.policy.maxRetries`, messages: ['retry-branch needs maxRetries (1-10)'] });
        }
        if ((step.strategy?.type === 'majority-vote' || step.strategy?.type === 'ranked-fusion') && !step.strategy.field) {
          errors.push({ field: `${path}.strategy.field`, messages: [`${step.strategy.type} needs the output field to use`] });
        }
        break;
      case 'chain':
        step.stages.forEach((stage, i) => {
          stage.gate?.checks.forEach((check, c) => {
            const field = `${path}.stages.${i}.gate.checks.${c}.value`;
            if ((check.op === 'min' || check.op === 'max') && typeof check.value !== 'number') {
              errors.push({ field, messages: [`${check.op} needs a number`] });
            }
            if (check.op === 'matches') {
              try {
                new RegExp(String(check.value));
              } catch (error) {
                errors.push({ field, messages: [`not a regular expression: ${(error as Error).message}`] });
              }
            }
          });
          visit(stage.step, `${path}.stages.${i}.step`, depth + 1, hasPrevious || i > 0);
          const onFail = stage.gate?.onFail;
          if (onFail?.action === 'recover') {
            if (!onFail.recovery) errors.push({ field: `${path}.stages.${i}.gate.onFail.recovery`, messages: ['recover needs a recovery step'] });
            else visit(onFail.recovery, `${path}.stages.${i}.gate.onFail.recovery`, depth + 1, true); // the rejected output
          }
          if (onFail?.action === 'retry' && onFail.maxRetries === undefined) {
            errors.push({ field: `${path}.stages.${i}.gate.onFail.maxRetries`, messages: ['retry needs maxRetries (1-10)'] });
          }
          if (onFail?.action === 'retry' && stage.step.kind !== 'task') {
            errors.push({ field: `${path}.stages.${i}.gate.onFail.action`, messages: ['retry re-runs task stages only; use recover for other stages'] });
          }
        });
        break;
      case 'supervisor':
        step.children.forEach((child, i) => visit(child, `${path}.children.${i}`, depth + 1, hasPrevious));
        break;
      case 'saga': {
        const names = new Set<string>();
        step.steps.forEach((item, i) => {
          if (names.has(item.name)) errors.push({ field: `${path}.steps.${i}.name`, messages: [`duplicate saga step name "${item.name}"`] });
          names.add(item.name);
        });
        break;
      }
    }
  };
  visit(spec.step, 'step', 1, false);
  if (steps > MAX_STEPS) errors.push({ field: 'step', messages: [`a workflow has at most ${MAX_STEPS} steps (got ${steps})`] });
  if (errors.length > 0) throw new ContractValidationError('workflow spec', errors);
  return spec;
}
