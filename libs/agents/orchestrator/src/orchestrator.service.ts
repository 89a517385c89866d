import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  TaskAssignedV1,
  taskIdOf,
  Topics,
  uuidv7,
  WorkflowRequestedV1,
  WorkflowStartedV1,
  type EventEnvelope,
  type FanOutWorkflowRequest,
  type TaskCompleted,
  type TaskFailed,
  type WorkflowCompleted,
  type WorkflowFailed,
} from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { STATE_STORE } from '@agent-mesh/runtime';
import type { StateStore } from '@agent-mesh/state';
import { WorkflowStore, type WorkflowView } from './workflow-store';

/**
 * Accepts workflows, fans their tasks out keyed by workflow id, and keeps a projection of
 * each workflow's progress for the HTTP API.
 */
@Injectable()
export class OrchestratorService {
  private readonly log = new Logger('Orchestrator');
  private readonly workflows: WorkflowStore;

  private readonly publisher: MeshPublisher;

  constructor(publisher: MeshPublisher, @Inject(STATE_STORE) state: StateStore) {
    this.publisher = publisher.as('orchestrator');
    this.workflows = new WorkflowStore(state);
  }

  /** Records the workflow and publishes the request; the fan-out happens when it is consumed. */
  async submit(request: FanOutWorkflowRequest): Promise<string> {
    const workflowId = uuidv7();
    await this.workflows.accept(workflowId, request, new Date());
    await this.publisher.publish(Topics.workflowEvents, WorkflowRequestedV1, request, { correlationId: workflowId });
    return workflowId;
  }

  get(workflowId: string): Promise<WorkflowView | undefined> {
    return this.workflows.get(workflowId);
  }

  async onRequested(event: EventEnvelope<FanOutWorkflowRequest>): Promise<void> {
    const workflowId = event.correlationId;
    const request = event.data;
    if (!(await this.workflows.start(event.id, workflowId, request, event.occurredAt))) return;
    const branchCount = request.inputs.length;
    // Redelivery before markDispatched re-publishes tasks; task ids are stable, so the
    // aggregator still counts each branch once.
    await Promise.all(
      request.inputs.map((input, branchIndex) =>
        this.publisher.publish(
          Topics.tasks(request.skill),
          TaskAssignedV1,
          { taskId: taskIdOf(workflowId, branchIndex), branchIndex, branchCount, skill: request.skill, input, params: request.params },
          { correlationId: workflowId, causedBy: event },
        ),
      ),
    );
    await this.publisher.publish(
      Topics.workflowEvents,
      WorkflowStartedV1,
      { skill: request.skill, branchCount },
      { correlationId: workflowId, causedBy: event },
    );
    await this.workflows.markDispatched(workflowId);
    this.log.log(`workflow ${workflowId}: ${branchCount} task(s) on ${Topics.tasks(request.skill)}`);
  }

  async onTaskCompleted(event: EventEnvelope<TaskCompleted>): Promise<void> {
    const { branchIndex, inputId, worker, durationMs, output } = event.data;
    await this.workflows.recordBranch(event.id, event.correlationId, {
      index: branchIndex,
      inputId,
      status: 'completed',
      worker,
      durationMs,
      output,
    });
  }

  async onTaskFailed(event: EventEnvelope<TaskFailed>): Promise<void> {
    const { branchIndex, inputId, worker, error } = event.data;
    await this.workflows.recordBranch(event.id, event.correlationId, {
      index: branchIndex,
      inputId,
      status: 'failed',
      worker,
      error,
    });
  }

  async onCompleted(event: EventEnvelope<WorkflowCompleted>): Promise<void> {
    await this.workflows.finish(event.id, event.correlationId, event.occurredAt, { completed: event.data });
  }

  async onFailed(event: EventEnvelope<WorkflowFailed>): Promise<void> {
    await this.workflows.finish(event.id, event.correlationId, event.occurredAt, { failed: event.data });
  }
}
