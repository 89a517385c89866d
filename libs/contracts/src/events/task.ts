import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Min, ValidateNested } from 'class-validator';
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
   * Where the worker publishes the result: a short name of the task-results family
   * (`task.results.<name>`, `Topics.taskResultsFor`), so a coordinator alone receives the
   * results of its own tasks. Absent: `task.results` (assigners that predate reply topics).
   */
  @IsOptional()
  @IsString()
  @Matches(TASK_RESULTS_TOPIC_PATTERN, { message: 'replyTopic must be task.results or task.results.<name>' })
  replyTopic?: string;
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

export const TaskAssignedV1 = defineEvent('task.assigned', 1, 'command', TaskAssigned);
export const TaskCompletedV1 = defineEvent('task.completed', 1, 'event', TaskCompleted);
export const TaskFailedV1 = defineEvent('task.failed', 1, 'event', TaskFailed);

/**
 * The task id of a fan-out branch's attempt, `<workflow>:<step>:<branch>:<attempt>`: the orchestrator
 * assigns it, and the aggregator tells a branch's result from any other task's by it.
 */
export function branchTaskId(workflowId: string, stepPath: string, branchIndex: number, attempt: number): string {
  return `${workflowId}:${stepPath}:${branchIndex}:${attempt}`;
}

export function taskIdOf(workflowId: string, branchIndex: number): string {
  return `${workflowId}:${branchIndex}`;
}
