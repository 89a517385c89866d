import { topicSchema, type AvroRecord } from './avro-schema';
import {
  AgentHeartbeatV1,
  ApprovalDecidedV1,
  RegionAdoptedV1,
  BoardEntryPostedV1,
  BrokerStatsV1,
  FanOutCompletedV1,
  FanOutFailedV1,
  FanOutRetryV1,
  FanOutStartedV1,
  MarketAskExpiredV1,
  MarketAskV1,
  MarketBidV1,
  MarketExpiryCheckV1,
  MarketWindowCloseV1,
  MarketFillV1,
  SagaAbortV1,
  SagaCompensatedV1,
  SagaCompletedV1,
  SagaDeadlineV1,
  SagaFailedV1,
  SagaStartV1,
  SagaStepEventV1,
  SagaWaitExpiredV1,
  SagaCompensationRetryV1,
  SolverAnswersV1,
  SolverCompletedV1,
  SolverFailedV1,
  SolverRoundCompletedV1,
  SolverStartV1,
  StageFailedV1,
  SupervisorPlannedV1,
  SupervisorPlanRefusedV1,
  StageValidatedV1,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  TaskTokenV1,
  WorkflowCancelledV1,
  WorkflowCancelRequestedV1,
  WorkflowCompensatedV1,
  WorkflowCompletedV1,
  WorkflowDeadlineV1,
  WorkflowFailedV1,
  WorkflowRequestedV1,
  WorkflowStartedV1,
  WorkflowSubmittedV1,
  WorkflowTimedOutV1,
} from './events';
import type { EventDefinition } from './registry';
import { Topics } from './topics';

const TASK_RESULTS = [TaskCompletedV1, TaskFailedV1];

/**
 * The event types each topic carries (docs/architecture.md, "agents"): what the contracts
 * register in Pulsar's schema registry, one schema per topic. A topic family named per skill or
 * board is written with its variable (`tasks.{skill}`); it is registered for each name given.
 * A new event type, or a new version of one, goes on its topic here.
 */
export const TOPIC_EVENTS: Readonly<Record<string, readonly EventDefinition[]>> = {
  [Topics.workflowEvents]: [
    WorkflowRequestedV1,
    WorkflowSubmittedV1,
    WorkflowCancelRequestedV1,
    ApprovalDecidedV1,
    WorkflowStartedV1,
    StepStartedV1,
    StepCompletedV1,
    StepFailedV1,
    StageValidatedV1,
    StageFailedV1,
    SupervisorPlannedV1,
    SupervisorPlanRefusedV1,
    FanOutCompletedV1,
    FanOutFailedV1,
    FanOutRetryV1,
    SolverCompletedV1,
    SolverFailedV1,
    WorkflowCompletedV1,
    WorkflowFailedV1,
    WorkflowCompensatedV1,
    WorkflowCancelledV1,
    WorkflowTimedOutV1,
  ],
  [Topics.taskResults]: [FanOutStartedV1, ...TASK_RESULTS],
  [Topics.sagaTaskResults]: TASK_RESULTS,
  [Topics.solverTaskResults]: TASK_RESULTS,
  [Topics.tasks('{skill}')]: [TaskAssignedV1],
  [Topics.marketAsks]: [MarketAskV1],
  [Topics.marketBids]: [MarketBidV1, MarketWindowCloseV1],
  [Topics.marketFills]: [MarketFillV1, MarketAskExpiredV1],
  [Topics.marketRounds]: [SolverStartV1, SolverRoundCompletedV1, SolverAnswersV1],
  [Topics.sagaCommands]: [SagaStartV1, SagaAbortV1],
  [Topics.sagaEvents]: [SagaStepEventV1, SagaCompletedV1, SagaCompensatedV1, SagaFailedV1],
  [Topics.timers]: [
    SagaDeadlineV1,
    SagaWaitExpiredV1,
    SagaCompensationRetryV1,
    MarketExpiryCheckV1,
    MarketWindowCloseV1,
  ],
  [Topics.workflowTimers]: [WorkflowDeadlineV1],
  [Topics.blackboard('{board}')]: [BoardEntryPostedV1],
  [Topics.workflowStream('{workflow}')]: [TaskTokenV1],
  [Topics.agents]: [AgentHeartbeatV1],
  [Topics.stats]: [BrokerStatsV1],
  [Topics.regions]: [RegionAdoptedV1],
};

/** The schema of every topic of TOPIC_EVENTS, by topic (families with their variable). */
export function meshTopicSchemas(): Record<string, AvroRecord> {
  const out: Record<string, AvroRecord> = {};
  for (const [topic, definitions] of Object.entries(TOPIC_EVENTS)) {
    out[topic] = topicSchema(
      definitions,
      `events on ${topic}: ${definitions.map((d) => `${d.type}@${d.version}`).join(', ')}`,
    );
  }
  return out;
}

/** A topic's schema as Pulsar's registry takes it (a JSON schema is an Avro-style record). */
export interface SchemaRegistration {
  /** Short topic name, e.g. `task.results`, `tasks.keywords`. */
  readonly topic: string;
  readonly schema: { readonly type: 'JSON'; readonly schema: AvroRecord };
}

/**
 * The schemas to register: each fixed topic's, and each family's (`tasks.{skill}`) once per name
 * in `names` (e.g. `{ skill: ['keywords', 'summarize'] }`); a family with no names is left out.
 */
export function schemaRegistrations(
  names: Readonly<Record<string, readonly string[]>> = {},
  schemas: Readonly<Record<string, AvroRecord>> = meshTopicSchemas(),
): SchemaRegistration[] {
  const out: SchemaRegistration[] = [];
  for (const [topic, schema] of Object.entries(schemas)) {
    const variable = /\{(\w+)\}/.exec(topic)?.[1];
    const topics = variable ? (names[variable] ?? []).map((name) => topic.replace(`{${variable}}`, name)) : [topic];
    for (const t of topics) out.push({ topic: t, schema: { type: 'JSON', schema } });
  }
  return out;
}
