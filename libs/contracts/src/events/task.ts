import { Type } from 'class-transformer';
import {
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../registry';
import { TASK_RESULTS_TOPIC_PATTERN } from '../topics';
import { DocumentInput, SKILL_NAME_PATTERN } from './workflow';
import { STEP_PATH_PATTERN } from './steps';

/** Fields every task message carries so any agent can place it without extra lookups. */
abstract class TaskRef {
  /** `<workflowId>:<branchIndex>` — stable across redeliveries, the idempotency key of a branch. */
  @IsString()
  @IsNotEmpty()
  taskId!: string;

  @IsInt()
  @Min(0)
  branchIndex!: number;

  @IsInt()
  @Min(1)
  branchCount!: number;

  @IsString()
  @Matches(SKILL_NAME_PATTERN)
  skill!: string;

  /** The workflow step this task belongs to (workflow specs); absent for plain fan-outs. */
  @IsOptional()
  @IsString()
  @Matches(STEP_PATH_PATTERN)
  stepPath?: string;

  /** 1 for the first run of a branch, 2 for its first retry, ... */
  @IsOptional()
  @IsInt()
  @Min(1)
  attempt?: number;
}

export class TaskAssigned extends TaskRef {
  @ValidateNested()
  @Type(() => DocumentInput)
  input!: DocumentInput;

  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;

  /**
   * The same for every attempt of this work, where `taskId` names one attempt: a retry after a
   * failure or a deadline, a gate's re-run, a re-issue in another region. A skill passes it as the
   * idempotency key of an effect that must happen once whatever the attempts (SkillContext.workKey).
   * Absent: the task id (its assigner has one attempt per id, e.g. a saga step).
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  workKey?: string;

  /**
   * Where the worker publishes the result: a short name of the task-results family
   * (`task.results.<name>`, `Topics.taskResultsFor`), so a coordinator alone receives the
   * results of its own tasks. Absent: `task.results` (assigners that predate reply topics).
   */
  @IsOptional()
  @IsString()
  @Matches(TASK_RESULTS_TOPIC_PATTERN, { message: 'replyTopic must be task.results or task.results.<name>' })
  replyTopic?: string;
}

/** What a task's model calls used (summed over its calls), and what they cost when priced. */
export class TaskUsage {
  @IsInt()
  @Min(0)
  promptTokens!: number;

  @IsInt()
  @Min(0)
  completionTokens!: number;

  /** Absent when no call's model has a price (LLM_PRICES). */
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  costUsd?: number;

  /** Model calls made by the task (journaled answers count: they were paid once). */
  @IsInt()
  @Min(1)
  calls!: number;
}

export class TaskCompleted extends TaskRef {
  @IsString()
  inputId!: string;

  @IsObject()
  output!: Record<string, unknown>;

  @IsInt()
  @Min(0)
  durationMs!: number;

  @IsString()
  worker!: string;

  /** Present when the skill called a model (the LLM skill). */
  @IsOptional()
  @ValidateNested()
  @Type(() => TaskUsage)
  usage?: TaskUsage;
}

export class TaskFailed extends TaskRef {
  @IsString()
  inputId!: string;

  @IsString()
  @IsNotEmpty()
  error!: string;

  @IsString()
  worker!: string;
}

/** A piece of a running task's partial output (an LLM's tokens), on the workflow's stream topic. */
export class TaskToken {
  @IsString()
  @IsNotEmpty()
  taskId!: string;

  @IsOptional()
  @IsString()
  @Matches(STEP_PATH_PATTERN)
  stepPath?: string;

  /** 0, 1, 2, … per task: a client orders and de-duplicates pieces by it. */
  @IsInt()
  @Min(0)
  seq!: number;

  @IsString()
  text!: string;
}

export const TaskAssignedV1 = defineEvent('task.assigned', 1, 'command', TaskAssigned);
export const TaskCompletedV1 = defineEvent('task.completed', 1, 'event', TaskCompleted);
export const TaskFailedV1 = defineEvent('task.failed', 1, 'event', TaskFailed);
export const TaskTokenV1 = defineEvent('task.token', 1, 'event', TaskToken);

/**
 * The task id of a fan-out branch's attempt, `<workflow>:<step>:<branch>:<attempt>`: the orchestrator
 * assigns it, and the aggregator tells a branch's result from any other task's by it.
 */
export function branchTaskId(workflowId: string, stepPath: string, branchIndex: number, attempt: number): string {
  return `${workflowId}:${stepPath}:${branchIndex}:${attempt}`;
}

/**
 * The work key of a step, `<workflow>:<step>`: the same for all its attempts (TaskAssigned.workKey)
 * — a task step's retries and gate re-runs, and every round and attempt of a market step's asks
 * (the worker that wins a fill runs the step's work).
 */
export function stepWorkKey(workflowId: string, stepPath: string): string {
  return `${workflowId}:${stepPath}`;
}

/** The work key of a fan-out branch, `<workflow>:<step>:<branch>`: the same for all its attempts (TaskAssigned.workKey). */
export function branchWorkKey(workflowId: string, stepPath: string, branchIndex: number): string {
  return `${workflowId}:${stepPath}:${branchIndex}`;
}

export function taskIdOf(workflowId: string, branchIndex: number): string {
  return `${workflowId}:${branchIndex}`;
}
