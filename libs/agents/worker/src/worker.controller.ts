import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { TaskAssignedV1, type EventEnvelope, type TaskAssigned } from '@agent-mesh/contracts';
import { OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { TaskRunner, WORKER_MAX_REDELIVER } from './task-runner';

export { WORKER_MAX_REDELIVER } from './task-runner';

/** The workers' Shared subscription on every `tasks.<skill>` topic (what an autoscaler watches the backlog of). */
export const WORKER_SUBSCRIPTION = 'workers';

/**
 * The worker role: a Shared subscription on `tasks.<skill>` for each skill it has, so adding
 * a worker process adds capacity. A crash before the ack means another worker gets the task.
 * The result goes to the task's `replyTopic` when the assigner named one, else `task.results`.
 */
@Controller()
export class WorkerController {
  constructor(private readonly runner: TaskRunner) {}

  @OnMeshEvent(TaskAssignedV1, {
    topic: 'tasks.{capability}',
    subscription: WORKER_SUBSCRIPTION,
    type: 'Shared',
    maxRedeliverCount: WORKER_MAX_REDELIVER,
    concurrency: 4,
  })
  async onTask(@Payload() event: EventEnvelope<TaskAssigned>): Promise<void> {
    const { taskId, branchIndex, branchCount, skill, stepPath, attempt, input, params, workKey, replyTopic } =
      event.data;
    await this.runner.run(
      { taskId, branchIndex, branchCount, skill, stepPath, attempt },
      { input, params, workKey },
      event,
      replyTopic,
    );
  }
}
