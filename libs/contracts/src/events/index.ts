import { EventRegistry } from '../registry';
import {
  ApprovalDecidedV1,
  FanOutCompletedV1,
  FanOutFailedV1,
  FanOutRetryV1,
  FanOutStartedV1,
  StageFailedV1,
  StageValidatedV1,
  SupervisorPlannedV1,
  SupervisorPlanRefusedV1,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  WorkflowCancelRequestedV1,
  WorkflowDeadlineV1,
  WorkflowSubmittedV1,
} from './steps';
import { BoardEntryPostedV1 } from './blackboard';
import {
  MarketAskExpiredV1,
  MarketAskV1,
  MarketBidV1,
  MarketExpiryCheckV1,
  MarketWindowCloseV1,
  MarketFillV1,
  SolverAnswersV1,
  SolverCompletedV1,
  SolverFailedV1,
  SolverRoundCompletedV1,
  SolverStartV1,
} from './market';
import {
  SagaAbortV1,
  SagaCompensatedV1,
  SagaCompensationRetryV1,
  SagaCompletedV1,
  SagaDeadlineV1,
  SagaFailedV1,
  SagaStartV1,
  SagaStepEventV1,
  SagaWaitExpiredV1,
} from './saga';
import { AgentHeartbeatV1, BrokerStatsV1 } from './observability';
import { RegionAdoptedV1 } from './geo';
import { TaskAssignedV1, TaskCompletedV1, TaskFailedV1, TaskTokenV1 } from './task';
import {
  WorkflowCancelledV1,
  WorkflowCompensatedV1,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowRequestedV1,
  WorkflowStartedV1,
  WorkflowTimedOutV1,
} from './workflow';

export * from './blackboard';
export * from './market';
export * from './observability';
export * from './geo';
export * from './saga';
export * from './steps';
export * from './task';
export * from './workflow';

/** Every event type of the mesh, current versions. */
export const MESH_EVENT_DEFINITIONS = [
  WorkflowRequestedV1,
  WorkflowStartedV1,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowCompensatedV1,
  WorkflowCancelledV1,
  WorkflowTimedOutV1,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  TaskTokenV1,
  WorkflowSubmittedV1,
  WorkflowCancelRequestedV1,
  ApprovalDecidedV1,
  StepStartedV1,
  StepCompletedV1,
  StepFailedV1,
  StageValidatedV1,
  StageFailedV1,
  SupervisorPlannedV1,
  SupervisorPlanRefusedV1,
  FanOutStartedV1,
  FanOutCompletedV1,
  FanOutFailedV1,
  FanOutRetryV1,
  WorkflowDeadlineV1,
  SagaStartV1,
  SagaAbortV1,
  SagaDeadlineV1,
  SagaWaitExpiredV1,
  SagaCompensationRetryV1,
  SagaStepEventV1,
  SagaCompletedV1,
  SagaCompensatedV1,
  SagaFailedV1,
  MarketAskV1,
  MarketBidV1,
  MarketFillV1,
  MarketAskExpiredV1,
  MarketExpiryCheckV1,
  MarketWindowCloseV1,
  SolverStartV1,
  SolverRoundCompletedV1,
  SolverAnswersV1,
  SolverCompletedV1,
  SolverFailedV1,
  BoardEntryPostedV1,
  AgentHeartbeatV1,
  BrokerStatsV1,
  RegionAdoptedV1,
] as const;

export function createMeshEventRegistry(): EventRegistry {
  return new EventRegistry(MESH_EVENT_DEFINITIONS);
}
