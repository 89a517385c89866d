import { Controller, Inject, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { describeError } from '@agent-mesh/bus';
import {
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  type EventEnvelope,
  type TaskAssigned,
} from '@agent-mesh/contracts';
import { MeshContext, MeshPublisher, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import { SkillInputError, type SkillRegistry } from '@agent-mesh/skills';

/** Deliveries of one task before the worker reports it failed instead of retrying again. */
export const WORKER_MAX_REDELIVER = 3;

class TaskTimeoutError extends Error {
  constructor(ms: number) {
    super(`task did not finish within ${ms} ms (TASK_TIMEOUT_MS)`);
    this.name = 'TaskTimeoutError';
  }
}

/**
 * The worker role: a Shared subscription on `tasks.<skill>` for each skill it has, so adding
 * a worker process adds capacity. A crash before the ack means another worker gets the task.
 */
/* A controller: Nest routes mesh events, like HTTP requests, to controllers. */
@Controller()
export class WorkerController implements OnApplicationShutdown {
  private readonly log = new Logger('Worker');
  private readonly shutdown = new AbortController();

  private readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
  ) {
    this.publisher = publisher.as('worker');
  }

  onApplicationShutdown(): void {
    this.shutdown.abort();
  }

  @OnMeshEvent(TaskAssignedV1, {
    topic: 'tasks.{capability}',
    subscription: 'workers',
    type: 'Shared',
    maxRedeliverCount: WORKER_MAX_REDELIVER,
    concurrency: 4,
  })
  async onTask(@Payload() event: EventEnvelope<TaskAssigned>, @Ctx() context: MeshContext): Promise<void> {
    const task = event.data;
    const worker = this.publisher.source;
    const ref = {
      taskId: task.taskId,
      branchIndex: task.branchIndex,
      branchCount: task.branchCount,
      skill: task.skill,
      stepPath: task.stepPath,
      attempt: task.attempt,
    };
    const started = Date.now();
    try {
      const skill = this.skills.require(task.skill);
      const output = await this.withTimeout((signal) =>
        skill.run({ id: task.input.id, text: task.input.text, params: task.params }, { signal, taskId: task.taskId }),
      );
      await this.publisher.publish(
        Topics.taskResults,
        TaskCompletedV1,
        { ...ref, inputId: task.input.id, output, durationMs: Date.now() - started, worker },
        { correlationId: event.correlationId, causedBy: event },
      );
    } catch (error) {
      // Bad input never succeeds; any other error is retried until the last delivery.
      const lastDelivery = context.getRedeliveryCount() >= WORKER_MAX_REDELIVER;
      if (!(error instanceof SkillInputError) && !lastDelivery) throw error;
      this.log.warn(`task ${task.taskId} failed: ${describeError(error)}`);
      await this.publisher.publish(
        Topics.taskResults,
        TaskFailedV1,
        { ...ref, inputId: task.input.id, error: describeError(error), worker },
        { correlationId: event.correlationId, causedBy: event },
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
