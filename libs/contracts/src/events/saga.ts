import { Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../registry';
import { SagaStepItemSpec } from '../workflow-spec';
import { STEP_PATH_PATTERN } from './steps';
import { TaskUsage } from './task';

/** Run a saga (orchestrator → saga coordinator, on saga.commands). */
export class SagaStart {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SagaStepItemSpec)
  steps!: SagaStepItemSpec[];
}

/** Stop a running saga and compensate what it did (a cancelled workflow). */
export class SagaAbort {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  @IsNotEmpty()
  reason!: string;
}

/** A step's deadline, delivered late on `timers` (delayed delivery). */
export class SagaDeadline {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(0)
  index!: number;

  @IsInt()
  @Min(1)
  deadlineMs!: number;
}

/**
 * The wait for a late result is over (on `timers`, `waitedMs` after a step missed its deadline):
 * an action that never reported is compensated anyway (compensations are idempotent).
 */
export class SagaWaitExpired {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(0)
  index!: number;

  @IsInt()
  @Min(0)
  waitedMs!: number;
}

/** Run a failed compensation again (on `timers`, delivered after its backoff). */
export class SagaCompensationRetry {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(0)
  index!: number;

  /** The attempt to run: 2 for the first retry. */
  @IsInt()
  @Min(2)
  attempt!: number;
}

/** One step of a saga changed state (for the timeline and observers). */
export class SagaStepEvent {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsInt()
  @Min(0)
  index!: number;

  @IsString()
  name!: string;

  @IsIn(['started', 'completed', 'failed', 'compensating', 'compensated'])
  phase!: 'started' | 'completed' | 'failed' | 'compensating' | 'compensated';

  @IsString()
  detail!: string;

  /**
   * What the step's task used of model calls, on the phase its result ended (`completed` for an
   * action, `compensated` for a compensation): the orchestrator charges it to the workflow's usage
   * and budget, as it does a task.completed's.
   */
  @IsOptional()
  @ValidateNested()
  @Type(() => TaskUsage)
  usage?: TaskUsage;
}

export class SagaCompleted {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  /** Each step's output, by step name. */
  @IsObject()
  outputs!: Record<string, unknown>;
}

/** A step failed (or timed out, or the saga was aborted) and every completed step was undone. */
export class SagaCompensated {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  @IsNotEmpty()
  reason!: string;

  /** The steps compensated, in the order they were undone. */
  @IsArray()
  @IsString({ each: true })
  compensated!: string[];
}

/** A compensation kept failing: the saga cannot undo itself and needs an operator. */
export class SagaFailed {
  @Matches(STEP_PATH_PATTERN)
  stepPath!: string;

  @IsString()
  @IsNotEmpty()
  reason!: string;

  /** The steps whose effect is still applied, the one whose compensation failed first (reverse order). */
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  leftToUndo?: string[];
}

export const SagaStartV1 = defineEvent('saga.start', 1, 'command', SagaStart);
export const SagaAbortV1 = defineEvent('saga.abort', 1, 'command', SagaAbort);
export const SagaDeadlineV1 = defineEvent('saga.deadline', 1, 'event', SagaDeadline);
export const SagaWaitExpiredV1 = defineEvent('saga.wait-expired', 1, 'event', SagaWaitExpired);
export const SagaCompensationRetryV1 = defineEvent('saga.compensation-retry', 1, 'event', SagaCompensationRetry);
export const SagaStepEventV1 = defineEvent('saga.step', 1, 'event', SagaStepEvent);
export const SagaCompletedV1 = defineEvent('saga.completed', 1, 'event', SagaCompleted);
export const SagaCompensatedV1 = defineEvent('saga.compensated', 1, 'event', SagaCompensated);
export const SagaFailedV1 = defineEvent('saga.failed', 1, 'event', SagaFailed);

/**
 * The task id of a saga step's action or compensation (`<workflow>:<step path>:saga:<index>:<role>`):
 * stable across redeliveries and retries, the skill's idempotency key.
 */
export function sagaTaskId(
  workflowId: string,
  stepPath: string,
  index: number,
  role: 'action' | 'compensation',
): string {
  return `${workflowId}:${stepPath}:saga:${index}:${role}`;
}

/**
 * Whether a task undoes a saga step. A compensation must run even when its workflow was
 * cancelled or timed out: it is how the cancel undoes the work (never skip or abort one).
 */
export function isSagaCompensationTask(taskId: string): boolean {
  return /:saga:\d+:compensation$/.test(taskId);
}
