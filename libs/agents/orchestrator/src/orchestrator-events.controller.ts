import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowRequestedV1,
  type EventEnvelope,
  type FanOutWorkflowRequest,
  type TaskCompleted,
  type TaskFailed,
  type WorkflowCompleted,
  type WorkflowFailed,
} from '@agent-mesh/contracts';
import { OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { OrchestratorService } from './orchestrator.service';

const SUBSCRIPTION = 'orchestrator';

/** The orchestrator's event handlers; Key_Shared by workflow id, so one workflow's events stay in order. */
@Controller()
export class OrchestratorEventsController {
  constructor(private readonly orchestrator: OrchestratorService) {}

  @OnMeshEvent(WorkflowRequestedV1, { topic: Topics.workflowEvents, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  onRequested(@Payload() event: EventEnvelope<FanOutWorkflowRequest>): Promise<void> {
    return this.orchestrator.onRequested(event);
  }

  @OnMeshEvent(TaskCompletedV1, { topic: Topics.taskResults, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  onTaskCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    return this.orchestrator.onTaskCompleted(event);
  }

  @OnMeshEvent(TaskFailedV1, { topic: Topics.taskResults, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  onTaskFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    return this.orchestrator.onTaskFailed(event);
  }

  @OnMeshEvent(WorkflowCompletedV1, { topic: Topics.workflowEvents, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  onCompleted(@Payload() event: EventEnvelope<WorkflowCompleted>): Promise<void> {
    return this.orchestrator.onCompleted(event);
  }

  @OnMeshEvent(WorkflowFailedV1, { topic: Topics.workflowEvents, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  onFailed(@Payload() event: EventEnvelope<WorkflowFailed>): Promise<void> {
    return this.orchestrator.onFailed(event);
  }
}
