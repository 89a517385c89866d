import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../registry';
import { AggregationStrategySpec, FanOutPolicySpec, STEP_KINDS, WorkflowSpec, type StepKind } from '../workflow-spec';

/** A step path as part of a larger pattern (task ids embed one); no capturing group. */
export const STEP_PATH_FRAGMENT = String.raw`root(?:\.[a-z]+|\.\d+)*`;
/** A step's place in its workflow's tree: `root`, `root.0`, `root.0.stages.1`, ... */
export const STEP_PATH_PATTERN = new RegExp(`^${STEP_PATH_FRAGMENT}$`);

/** Submit a workflow spec (validated on the HTTP edge with validateWorkflowSpec). */
export class WorkflowSubmitted {
  @IsDefined()
  @ValidateNested()
  @Type(() => WorkflowSpec)
  spec!: WorkflowSpec;
}

export class WorkflowCancelRequested {
  @IsString()
  @IsNotEmpty()
  reason!: string;
}

/** The longest comment an approval decision carries. */
export const MAX_APPROVAL_COMMENT = 2000;

/** A decision on a waiting approval step, as `POST /workflows/:id/approvals/:stepPath` takes it. */
export class ApprovalDecision {
  @IsBoolean({ message: 'approve must be true or false' })
  approve!: boolean;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_APPROVAL_COMMENT)
  comment?: string;
}

/**
 * `approval.decided`: someone decided on the approval step at `stepPath` (its `attempt`). On
 * workflow.events, so the decision is in the log: a restarted orchestrator, or a rebuild from
 * the log, ends the step as it was ended live.
 */
export class ApprovalDecided extends ApprovalDecision {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(1)
  attempt!: number;

  /** Who decided, when the API knows: its authenticated caller, `key:<12 hex of the key's SHA-256>` or `sub:<JWT subject>`. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  by?: string;
}

abstract class StepRef {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsIn(STEP_KINDS)
  kind!: StepKind;

  /** Which run of the step (a chain stage retried by its gate runs again with attempt + 1). */
  @IsInt()
  @Min(1)
  attempt!: number;
}

export class StepStarted extends StepRef {
  @IsOptional()
  @IsString()
  name?: string;
}

export class StepCompleted extends StepRef {
  @IsObject()
  output!: Record<string, unknown>;
}

export class StepFailed extends StepRef {
  @IsString()
  @IsNotEmpty()
  reason!: string;

  /** The step undid what it had done (a compensated saga): the workflow ends `compensated`. */
  @IsOptional()
  @IsBoolean()
  compensated?: boolean;
}

abstract class StageRef {
  @Matches(STEP_PATH_PATTERN)
  chainPath!: string;

  @IsInt()
  @Min(0)
  stage!: number;
}

/** A chain stage's gate passed (stage.validated) or failed (stage.failed) on its output. */
export class StageValidated extends StageRef {
  /** The judge's reason, when the gate has a judge and it gave one. */
  @IsOptional()
  @IsString()
  reason?: string;
}

export class StageFailed extends StageRef {
  @IsString()
  @IsNotEmpty()
  reason!: string;

  /** What the chain does about it: retry, recover, fail. */
  @IsIn(['retry', 'recover', 'fail'])
  action!: 'retry' | 'recover' | 'fail';
}

/** A planned supervisor's plan, validated and recorded: the children it runs (as the planner gave them). */
export class SupervisorPlanned {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  /** The planner's attempt that gave the plan. */
  @IsInt()
  @Min(1)
  attempt!: number;

  /** Step specs, validated by the engine before it records them. */
  @IsArray()
  children!: Record<string, unknown>[];
}

/** A planner's plan failed validation: the planner runs again (`retry`) or the supervisor fails. */
export class SupervisorPlanRefused {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(1)
  attempt!: number;

  @IsString()
  @IsNotEmpty()
  reason!: string;

  @IsIn(['retry', 'fail'])
  action!: 'retry' | 'fail';
}

/** Tells the aggregator how to join a fan-out; published on task.results before its tasks. */
export class FanOutStarted {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  skill!: string;

  @IsInt()
  @Min(1)
  branchCount!: number;

  @ValidateNested()
  @Type(() => FanOutPolicySpec)
  policy!: FanOutPolicySpec;

  @ValidateNested()
  @Type(() => AggregationStrategySpec)
  strategy!: AggregationStrategySpec;
}

export class FanOutCompleted {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsObject()
  output!: Record<string, unknown>;

  /** Branches whose outputs made the result. */
  @IsArray()
  @IsInt({ each: true })
  used!: number[];

  @IsArray()
  @IsInt({ each: true })
  failed!: number[];
}

export class FanOutFailed {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  @IsNotEmpty()
  reason!: string;

  @IsArray()
  @IsInt({ each: true })
  failed!: number[];
}

/** retry-branch: run these branches again (attempt is the new attempt number). */
export class FanOutRetry {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsArray()
  @IsInt({ each: true })
  branches!: number[];

  @IsInt()
  @Min(2)
  attempt!: number;
}

/** What a deadline bounds: the whole workflow, one attempt of a step, or one attempt of some branches of a fan-out. */
export const DEADLINE_SCOPES = ['workflow', 'step', 'branches'] as const;
export type DeadlineScope = (typeof DEADLINE_SCOPES)[number];

/**
 * A deadline, published with `deliverAfterMs` on `workflow.timers` when what it bounds starts,
 * and delivered once it has passed: the orchestrator then ends what it bounds if it is still
 * running (from its state: anything that ended in time makes the timer a no-op).
 */
export class WorkflowDeadline {
  @IsIn(DEADLINE_SCOPES)
  scope!: DeadlineScope;

  /** `root` for the workflow's deadline; the step, or the fan-out whose branches it bounds. */
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  /** The attempt of the step (or of the branches) it bounds; 1 for the workflow. */
  @IsInt()
  @Min(1)
  attempt!: number;

  /** The deadline as declared (or configured), for the reason a timeout gives. */
  @IsInt()
  @Min(1)
  deadlineMs!: number;

  /** scope `branches`: the fan-out's branches it bounds. */
  @IsOptional()
  @IsArray()
  @IsInt({ each: true })
  branches?: number[];
}

export const WorkflowSubmittedV1 = defineEvent('workflow.submitted', 1, 'command', WorkflowSubmitted);
export const WorkflowCancelRequestedV1 = defineEvent(
  'workflow.cancel-requested',
  1,
  'command',
  WorkflowCancelRequested,
);
export const ApprovalDecidedV1 = defineEvent('approval.decided', 1, 'event', ApprovalDecided);
export const StepStartedV1 = defineEvent('step.started', 1, 'event', StepStarted);
export const StepCompletedV1 = defineEvent('step.completed', 1, 'event', StepCompleted);
export const StepFailedV1 = defineEvent('step.failed', 1, 'event', StepFailed);
export const StageValidatedV1 = defineEvent('stage.validated', 1, 'event', StageValidated);
export const StageFailedV1 = defineEvent('stage.failed', 1, 'event', StageFailed);
export const SupervisorPlannedV1 = defineEvent('supervisor.planned', 1, 'event', SupervisorPlanned);
export const SupervisorPlanRefusedV1 = defineEvent('supervisor.plan-refused', 1, 'event', SupervisorPlanRefused);
export const FanOutStartedV1 = defineEvent('fanout.started', 1, 'command', FanOutStarted);
export const FanOutCompletedV1 = defineEvent('fanout.completed', 1, 'event', FanOutCompleted);
export const FanOutFailedV1 = defineEvent('fanout.failed', 1, 'event', FanOutFailed);
export const FanOutRetryV1 = defineEvent('fanout.retry', 1, 'command', FanOutRetry);
export const WorkflowDeadlineV1 = defineEvent('workflow.deadline', 1, 'command', WorkflowDeadline);
