import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { describeError } from '@agent-mesh/bus';
import { isTaskResultsTopic, TaskCompletedV1, TaskFailedV1, Topics, type DocumentInput, type EventEnvelope } from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import { SkillInputError, type SkillRegistry } from '@agent-mesh/skills';

/** Deliveries of one task before the worker reports it failed instead of retrying again. */
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
 * the family, e.g. `task.results.saga`). Input the skill refuses fails at once; other errors are
 * thrown (the message is redelivered) until the last allowed delivery, which reports failure.
 */
@Injectable()
export class TaskRunner implements OnApplicationShutdown {
  private readonly log = new Logger('Worker');
  private readonly shutdown = new AbortController();
  readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
  ) {
    this.publisher = publisher.as('worker');
  }

  /** `worker@<instance>`. */
  get workerId(): string {
    return this.publisher.source;
  }

  onApplicationShutdown(): void {
    this.shutdown.abort();
  }

  async run(
    ref: TaskRef,
    input: DocumentInput,
    params: Record<string, unknown> | undefined,
    cause: EventEnvelope,
    redeliveryCount: number,
    replyTopic: string = Topics.taskResults,
  ): Promise<void> {
    // The contract already refuses other topics; checked again because a task must never make
    // a worker publish elsewhere (thrown: redelivered, then dead-lettered with this reason).
    if (!isTaskResultsTopic(replyTopic)) throw new Error(`task ${ref.taskId}: reply topic "${replyTopic}" is not task.results or task.results.<name>`);
    const options = { correlationId: cause.correlationId, causedBy: cause };
    const started = Date.now();
    try {
      const skill = this.skills.require(ref.skill);
      const output = await this.withTimeout((signal) =>
        skill.run({ id: input.id, text: input.text, params }, { signal, taskId: ref.taskId }),
      );
      await this.publisher.publish(
        replyTopic,
        TaskCompletedV1,
        { ...ref, inputId: input.id, output, durationMs: Date.now() - started, worker: this.workerId },
        options,
      );
    } catch (error) {
      const lastDelivery = redeliveryCount >= WORKER_MAX_REDELIVER;
      if (!(error instanceof SkillInputError) && !lastDelivery) throw error;
      this.log.warn(`task ${ref.taskId} failed: ${describeError(error)}`);
      await this.publisher.publish(
        replyTopic,
        TaskFailedV1,
        { ...ref, inputId: input.id, error: describeError(error), worker: this.workerId },
        options,
      );
    }
  }

  private async withTimeout<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = this.config.taskTimeoutMs;
    const controller = new AbortController();
    const onShutdown = () => controller.abort(this.shutdown.signal.reason);
    this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(controller.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new TaskTimeoutError(timeoutMs);
            controller.abort(error);
            reject(error);
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.shutdown.signal.removeEventListener('abort', onShutdown);
    }
  }
}
