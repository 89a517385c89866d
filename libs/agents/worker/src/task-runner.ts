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
} from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import { SkillInputError, WorkflowCancelledError, type Skill, type SkillRegistry } from '@agent-mesh/skills';
import { cancellableWorkflow, RunningTasks } from './cancellation';

/**
 * Redeliveries of a task that no handler settled (its worker crashed, or the retry could not be
 * published) before it is dead-lettered. A skill's own errors follow its retry policy instead.
 */
export const WORKER_MAX_REDELIVER = 3;

/** What a result says about the task it belongs to. */
export interface TaskRef {
  readonly taskId: string;
  readonly branchIndex: number;
  readonly branchCount: number;
  readonly skill: string;
  readonly stepPath?: string;
  readonly attempt?: number;
}

class TaskTimeoutError extends Error {
  constructor(ms: number) {
    super(`task did not finish within ${ms} ms (TASK_TIMEOUT_MS)`);
    this.name = 'TaskTimeoutError';
  }
}

/**
 * Runs one task for the worker — from `tasks.<skill>` or from a market fill — the same way:
 * the skill under TASK_TIMEOUT_MS with the task id as idempotency key, then `task.completed`
 * or `task.failed` on the task's reply topic (`task.results` unless the assigner named one of
 * the family, e.g. `task.results.saga`). Input the skill refuses (SkillInputError) fails at once:
 * `task.failed`, then the error is thrown on, non-retryable, so the task is dead-lettered too. Other
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
    input: DocumentInput,
    params: Record<string, unknown> | undefined,
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
      const output = await this.withTimeout(
        (signal) => skill.run({ id: input.id, text: input.text, params }, { signal, taskId: ref.taskId }),
        workflow,
      );
      await this.publisher.publish(
        replyTopic,
        TaskCompletedV1,
        { ...ref, inputId: input.id, output, durationMs: Date.now() - started, worker: this.workerId },
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
