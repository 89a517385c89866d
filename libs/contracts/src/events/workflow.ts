import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
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

export const SKILL_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const MAX_FAN_OUT = 1000;
export const MAX_INPUT_TEXT = 200_000;

/** One unit of text a branch works on. */
export class DocumentInput {
  @IsString()
  @Matches(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'id must be 1-128 characters of letters, digits, . _ : -' })
  id!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_INPUT_TEXT)
  text!: string;
}

/**
 * A fan-out workflow: run one skill over every input, in parallel, and aggregate the results.
 * This is the body of `POST /workflows` and of the `workflow.requested` command.
 */
export class FanOutWorkflowRequest {
  @IsString()
  @Matches(SKILL_NAME_PATTERN, { message: 'skill must be a lower-case skill name such as "keywords"' })
  skill!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FAN_OUT)
  @ValidateNested({ each: true })
  @Type(() => DocumentInput)
  inputs!: DocumentInput[];

  /** Free-form, skill-specific options (e.g. `{ "top": 5 }`). */
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

export class WorkflowStarted {
  @IsString()
  skill!: string;

  @IsInt()
  @Min(1)
  branchCount!: number;
}

export class WorkflowCompleted {
  @IsString()
  skill!: string;

  @IsInt()
  @Min(1)
  branchCount!: number;

  @IsInt()
  @Min(0)
  succeeded!: number;

  @IsInt()
  @Min(0)
  failed!: number;

  /** The skill's combination of every branch's output. */
  @IsObject()
  result!: Record<string, unknown>;
}

export class WorkflowFailed {
  @IsString()
  @IsNotEmpty()
  reason!: string;

  @IsArray()
  @IsString({ each: true })
  failedBranches!: string[];
}

export const WorkflowRequestedV1 = defineEvent('workflow.requested', 1, 'command', FanOutWorkflowRequest);
export const WorkflowStartedV1 = defineEvent('workflow.started', 1, 'event', WorkflowStarted);
export const WorkflowCompletedV1 = defineEvent('workflow.completed', 1, 'event', WorkflowCompleted);
export const WorkflowFailedV1 = defineEvent('workflow.failed', 1, 'event', WorkflowFailed);

/** A workflow whose saga undid its steps: the terminal event of status `compensated`. */
export class WorkflowCompensated {
  @IsString()
  @IsNotEmpty()
  reason!: string;
}

/** A workflow cancelled over the API before it ended: the terminal event of status `cancelled`. */
export class WorkflowCancelled {
  @IsString()
  @IsNotEmpty()
  reason!: string;
}

/** A workflow past its deadline: the terminal event of status `timed-out`, naming the step that held it up. */
export class WorkflowTimedOut {
  @IsString()
  @IsNotEmpty()
  reason!: string;

  /** The path of the deepest step still running when the deadline passed (`root` when none). */
  @IsString()
  @IsNotEmpty()
  stepPath!: string;
}

export const WorkflowCompensatedV1 = defineEvent('workflow.compensated', 1, 'event', WorkflowCompensated);
export const WorkflowCancelledV1 = defineEvent('workflow.cancelled', 1, 'event', WorkflowCancelled);
export const WorkflowTimedOutV1 = defineEvent('workflow.timed-out', 1, 'event', WorkflowTimedOut);
