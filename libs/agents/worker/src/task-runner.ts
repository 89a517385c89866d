import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  describeError,
  isTaskResultsTopic,
  NonRetryableError,
  RetryableError,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  type DocumentInput,
  type EventEnvelope,
  type TaskUsage,
} from '@agent-mesh/contracts';
import { MeshMetrics } from '@agent-mesh/metrics';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import { inSpan } from '@agent-mesh/telemetry';
import {
  SkillInputError,
  WorkflowCancelledError,
  type Skill,
  type SkillInput,
  type SkillOutput,
  type SkillRegistry,
} from '@agent-mesh/skills';
import { cancellableWorkflow, RunningTasks } from './cancellation';
import { TokenStream } from './token-stream';
import { UsageTally } from './usage-tally';

/**
 * Redeliveries of a task that no handler settled (its worker crashed, or the retry could not be
 * published) before it is dead-lettered. A skill's own errors follow its retry policy instead.
 */
export const WORKER_MAX_REDELIVER = 3;

/** What a result says about the task it belongs to. */
/** The work a task asks for: its input, the step's params, and its work key (TaskAssigned.workKey). */
export interface TaskWork {
  readonly input: DocumentInput;
  readonly params?: Record<string, unknown>;
  readonly workKey?: string;
}

export interface TaskRef {
  readonly taskId: string;
  readonly branchIndex: number;
  readonly branchCount: number;
  readonly skill: string;
  readonly stepPath?: string;
  readonly attempt?: number;
}

/** What the span of a skill run says: which skill, for which task of which workflow. */
function skillSpanAttributes(skill: Skill, ref: TaskRef, cause: EventEnvelope): Record<string, string | number> {
  return {
    'mesh.skill.name': skill.name,
    'mesh.task.id': ref.taskId,
    'mesh.correlation_id': cause.correlationId,
    'mesh.branch.index': ref.branchIndex,
  };
}

class TaskTimeoutError extends Error {
  constructor(ms: number) {
    super(`task did not finish within ${ms} ms (TASK_TIMEOUT_MS)`);
    this.name = 'TaskTimeoutError';
  }
}

/**
 * Runs one task for the worker — from `tasks.<skill>` or from a market fill — the same way:
 * the skill under TASK_TIMEOUT_MS with its task id and work key (its effects' idempotency key),
 * then `task.completed` or `task.failed` on the task's reply topic (`task.results` unless the
 * assigner named one of the family, e.g. `task.results.saga`). Input the skill refuses
 * (SkillInputError) fails at once: `task.failed`, then the error is thrown on, non-retryable, so
 * the task is dead-lettered too. Other
 * errors are thrown with the skill's retry policy (RetryableError): the transport retries the task
 * with backoff and, once the attempts are spent, dead-letters it without a `task.failed` — parked
 * for `mesh dlq replay`; the step's deadline bounds the workflow's wait.
 */
@Injectable()
export class TaskRunner implements OnApplicationShutdown {
  private readonly log = new Logger('Worker');
  private readonly shutdown = new AbortController();
  /** Controllers of the tasks running now, aborted with the shutdown's reason. */
  private readonly running = new Set<AbortController>();
  readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
    private readonly tasks: RunningTasks,
    private readonly metrics: MeshMetrics,
  ) {
    this.publisher = publisher.as('worker');
  }

  /** `worker@<instance>`. */
  get workerId(): string {
    return this.publisher.source;
  }

  onApplicationShutdown(): void {
    this.shutdown.abort();
    for (const controller of this.running) controller.abort(this.shutdown.signal.reason);
    this.running.clear();
  }

  async run(
    ref: TaskRef,
    { input, params, workKey }: TaskWork,
    cause: EventEnvelope,
    replyTopic: string = Topics.taskResults,
  ): Promise<void> {
    // The contract already refuses other topics; checked again because a task must never make
    // a worker publish elsewhere (thrown, non-retryable: dead-lettered with this reason).
    if (!isTaskResultsTopic(replyTopic))
      throw new NonRetryableError(
        `task ${ref.taskId}: reply topic "${replyTopic}" is not task.results or task.results.<name>`,
      );
    const options = { correlationId: cause.correlationId, causedBy: cause };
    // A task of a workflow that ended early (cancelled, timed out) is skipped, or aborted when it runs: acked, no result.
    const workflow = cancellableWorkflow(cause.correlationId, replyTopic);
    if (workflow !== undefined && this.tasks.hasEnded(workflow)) {
      this.log.log(`task ${ref.taskId} skipped: its workflow ${workflow} has ended`);
      return;
    }
    const started = Date.now();
    let retry: Skill['retry'];
    try {
      const skill = this.skills.require(ref.skill);
      retry = skill.retry;
      const { output, usage } = await this.runSkill(
        skill,
        ref,
        { id: input.id, text: input.text, params },
        workKey ?? ref.taskId,
        cause,
        workflow,
      );
      await this.publisher.publish(
        replyTopic,
        TaskCompletedV1,
        {
          ...ref,
          inputId: input.id,
          output,
          durationMs: Date.now() - started,
          worker: this.workerId,
          ...(usage === undefined ? {} : { usage }),
        },
        options,
      );
    } catch (error) {
      if (error instanceof WorkflowCancelledError) {
        this.log.log(`task ${ref.taskId} aborted: ${error.message}`);
        return;
      }
      if (!(error instanceof SkillInputError)) throw new RetryableError(error, retry);
      this.log.warn(`task ${ref.taskId} failed: ${describeError(error)}`);
      await this.publisher.publish(
        replyTopic,
        TaskFailedV1,
        { ...ref, inputId: input.id, error: describeError(error), worker: this.workerId },
        options,
      );
      throw error;
    }
  }

  /**
   * Runs the skill under the task's timeout: what it emits goes to its workflow's stream topic
   * (every piece sent before this returns, so before the result), what its model calls use is
   * summed into `usage`.
   */
  private async runSkill(
    skill: Skill,
    ref: TaskRef,
    input: SkillInput,
    workKey: string,
    cause: EventEnvelope,
    workflow: string | undefined,
  ): Promise<{ output: SkillOutput; usage?: TaskUsage }> {
    const tokens = new TokenStream(this.publisher, {
      workflowId: cause.correlationId,
      taskId: ref.taskId,
      stepPath: ref.stepPath,
      cause,
    });
    const usage = new UsageTally();
    const context = { taskId: ref.taskId, workKey, emit: tokens.emit, recordUsage: usage.record };
    try {
      const output = await this.measured(
        ref.skill,
        this.withTimeout(
          (signal) =>
            inSpan(`skill ${skill.name}`, skillSpanAttributes(skill, ref, cause), () =>
              skill.run(input, { signal, ...context }),
            ),
          workflow,
        ),
      );
      return { output, usage: usage.total() };
    } finally {
      await tokens.close();
    }
  }

  /** The skill's run, its time and outcome recorded (`mesh_skill_duration_seconds`). */
  private async measured<T>(skill: string, run: Promise<T>): Promise<T> {
    const started = performance.now();
    let outcome: 'ok' | 'error' | 'timeout' | 'cancelled' = 'error';
    try {
      const output = await run;
      outcome = 'ok';
      return output;
    } catch (error) {
      if (error instanceof TaskTimeoutError) outcome = 'timeout';
      if (error instanceof WorkflowCancelledError) outcome = 'cancelled';
      throw error;
    } finally {
      this.metrics.skillRan(skill, outcome, (performance.now() - started) / 1000);
    }
  }

  /**
   * Runs `work` under TASK_TIMEOUT_MS with a signal that aborts on timeout or shutdown, and — for
   * a task of `workflow` — when the workflow ends early (rejecting at once, as a timeout does). One
   * promise and one timer per task: no Promise.race (a second promise and a race's reactions)
   * and no listener on the shutdown signal (an EventTarget add/remove per task costs more than
   * the skill); shutdown aborts the controllers in `running` instead.
   */
  private withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, workflow?: string): Promise<T> {
    const timeoutMs = this.config.taskTimeoutMs;
    const controller = new AbortController();
    // A task started after shutdown is not aborted by it (as with a listener added to an aborted signal).
    if (!this.shutdown.signal.aborted) this.running.add(controller);
    return new Promise<T>((resolve, reject) => {
      const stop = (error: Error) => {
        settle();
        controller.abort(error);
        reject(error);
      };
      const timer = setTimeout(() => stop(new TaskTimeoutError(timeoutMs)), timeoutMs);
      const untrack = workflow === undefined ? undefined : this.tasks.track(workflow, stop);
      const settle = () => {
        clearTimeout(timer);
        this.running.delete(controller);
        untrack?.();
      };
      try {
        work(controller.signal).then(
          (value) => {
            settle();
            resolve(value);
          },
          (error: unknown) => {
            settle();
            reject(error);
          },
        );
      } catch (error) {
        settle();
        reject(error);
      }
    });
  }
}
