import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  type EventEnvelope,
  type TaskCompleted,
  type TaskFailed,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { SKILL_REGISTRY, STATE_STORE } from '@agent-mesh/runtime';
import type { SkillOutput, SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';

const SUBSCRIPTION = 'aggregator';

interface BranchRecord {
  readonly inputId: string;
  readonly output?: SkillOutput;
  readonly error?: string;
}

const joinKey = (workflowId: string) => `aggregator:join:${workflowId}`;
const branchesKey = (workflowId: string) => `aggregator:join:${workflowId}:branches`;

/**
 * The aggregator role: joins every branch of a fan-out and publishes the workflow's result.
 * Each branch is counted once however often its result is delivered (the marker is the task
 * id, not the event id, so a task re-run after a worker crash is not counted twice).
 */
/* A controller: Nest routes mesh events, like HTTP requests, to controllers. */
@Controller()
export class AggregatorController {
  private readonly log = new Logger('Aggregator');

  private readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
  ) {
    this.publisher = publisher.as('aggregator');
  }

  @OnMeshEvent(TaskCompletedV1, { topic: Topics.taskResults, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  async onCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    await this.join(event, { inputId: event.data.inputId, output: event.data.output });
  }

  @OnMeshEvent(TaskFailedV1, { topic: Topics.taskResults, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  async onFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    await this.join(event, { inputId: event.data.inputId, error: event.data.error });
  }

  private async join(event: EventEnvelope<TaskCompleted | TaskFailed>, record: BranchRecord): Promise<void> {
    const workflowId = event.correlationId;
    const { taskId, branchIndex, branchCount, skill } = event.data;
    await this.state.applyOnce(`aggregator:branch:${taskId}`, [
      { op: 'hset', key: branchesKey(workflowId), field: String(branchIndex), value: JSON.stringify(record) },
      { op: 'hincrby', key: joinKey(workflowId), field: 'done', by: 1 },
      { op: 'hincrby', key: joinKey(workflowId), field: 'failed', by: record.error ? 1 : 0 },
    ]);
    // Checked on every delivery (not only when the count changed) so a crash between the
    // count and the publish is finished by the redelivery.
    const join = await this.state.hgetall(joinKey(workflowId));
    if (Number(join.done) < branchCount || join.published === '1') return;
    await this.publishOutcome(event, skill, branchCount);
    await this.state.apply([{ op: 'hset', key: joinKey(workflowId), field: 'published', value: '1' }]);
  }

  private async publishOutcome(event: EventEnvelope<TaskCompleted | TaskFailed>, skill: string, branchCount: number): Promise<void> {
    const workflowId = event.correlationId;
    const raw = await this.state.hgetall(branchesKey(workflowId));
    const branches = Array.from({ length: branchCount }, (_, i) => JSON.parse(raw[String(i)]) as BranchRecord);
    const failed = branches.flatMap((b, i) => (b.error ? [`${i}:${b.inputId}`] : []));
    const options = { correlationId: workflowId, causedBy: event };
    if (failed.length > 0) {
      const reasons = branches.filter((b) => b.error).map((b) => `${b.inputId}: ${b.error}`);
      await this.publisher.publish(
        Topics.workflowEvents,
        WorkflowFailedV1,
        { reason: `${failed.length} of ${branchCount} branch(es) failed: ${reasons.join('; ')}`, failedBranches: failed },
        options,
      );
      this.log.warn(`workflow ${workflowId} failed: ${failed.length}/${branchCount} branches failed`);
      return;
    }
    const result = this.skills
      .require(skill)
      .combine(branches.map((b) => ({ inputId: b.inputId, output: b.output ?? {} })));
    await this.publisher.publish(
      Topics.workflowEvents,
      WorkflowCompletedV1,
      { skill, branchCount, succeeded: branchCount, failed: 0, result },
      options,
    );
    this.log.log(`workflow ${workflowId} completed: ${branchCount} branch(es) joined`);
  }
}
