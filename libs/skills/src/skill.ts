import { NonRetryableError, type RetryPolicy } from '@agent-mesh/contracts';

/**
 * What a worker can do. A skill is a named capability: workers subscribe to `tasks.<name>`
 * for each skill they have. Built-in skills are deterministic work on text; the LLM skill
 * calls an OpenAI-compatible endpoint.
 */

export interface SkillInput {
  /** Identifies the input within its workflow (a document id). */
  readonly id: string;
  readonly text: string;
  /** Skill-specific options from the workflow request; each skill validates its own. */
  readonly params?: Readonly<Record<string, unknown>>;
}

/** JSON-serializable output of one run. */
export type SkillOutput = Record<string, unknown>;

export interface SkillContext {
  /**
   * Aborted when the worker shuts down, the task times out, or its workflow is cancelled or times
   * out (reason: WorkflowCancelledError); long skills should honour it.
   */
  readonly signal: AbortSignal;
  /**
   * The task's id: the same on every redelivery and re-publication of the task, new for each
   * attempt of a step or branch (a retry, a gate's re-run). Keys what belongs to this run, e.g.
   * the LLM gateway's journal of model calls (a retry must ask the model again).
   */
  readonly taskId?: string;
  /**
   * The same for every attempt of this work (a retry after a failure or a deadline, a gate's
   * re-run, a re-issue by another region after a fail-over); the task id where the work has one
   * attempt per id (a saga step, a market fill). A skill with an effect outside the mesh (a
   * payment, an email) passes it on as the idempotency key, so the effect happens once however
   * many attempts ran — even an attempt the engine gave up on that finished late.
   */
  readonly workKey?: string;
  /**
   * Streams a piece of partial output (an LLM's tokens) to the workflow's stream topic while the
   * task runs (`GET /workflows/:id/stream`); absent when nobody streams this task.
   */
  readonly emit?: (text: string) => void;
  /** Records what one model call used; the worker sums the calls onto `task.completed`'s `usage`. */
  readonly recordUsage?: (usage: SkillUsage) => void;
}

/** What one model call used, and what it cost when the model has a price (LLM_PRICES). */
export interface SkillUsage {
  readonly model: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly costUsd?: number;
}

export interface Skill {
  /** Lower-case name, also the capability and the topic suffix: `tasks.<name>`. */
  readonly name: string;
  readonly description: string;
  /**
   * How the worker retries a run that throws (anything but SkillInputError): each field
   * defaults to DEFAULT_RETRY_POLICY's. Retries wait out their backoff on the retry topic;
   * once spent, the task is dead-lettered (for `mesh dlq replay`) without a task.failed.
   */
  readonly retry?: Partial<RetryPolicy>;
  /** Does the work for one input. Throws SkillInputError for input it cannot handle. */
  run(input: SkillInput, context: SkillContext): Promise<SkillOutput>;
  /**
   * Combines every branch's output into the workflow result (the aggregator calls it with
   * the outputs in branch order). Must be deterministic for the same outputs.
   */
  combine(outputs: readonly { readonly inputId: string; readonly output: SkillOutput }[]): SkillOutput;
}

/** Input the skill cannot work on: not retried, reported as a failed branch (and dead-lettered as non-retryable). */
export class SkillInputError extends NonRetryableError {
  constructor(skill: string, message: string) {
    super(`${skill}: ${message}`);
    this.name = 'SkillInputError';
  }
}
