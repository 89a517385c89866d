import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  FanOutCompletedV1,
  FanOutFailedV1,
  FanOutRetryV1,
  FanOutStartedV1,
  MarketAskExpiredV1,
  MarketFillV1,
  SolverCompletedV1,
  SolverFailedV1,
  SolverRoundCompletedV1,
  SagaAbortV1,
  SagaCompensatedV1,
  SagaCompletedV1,
  SagaFailedV1,
  SagaStepEventV1,
  StageFailedV1,
  StageValidatedV1,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  WorkflowCancelRequestedV1,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowRequestedV1,
  WorkflowSubmittedV1,
  type EventEnvelope,
  type FanOutCompleted,
  type FanOutFailed,
  type FanOutRetry,
  type FanOutStarted,
  type FanOutStepSpec,
  type MarketAskExpired,
  type MarketFill,
  type MarketStepSpec,
  type SolverCompleted,
  type SolverFailed,
  type SolverRoundCompleted,
  type SagaCompensated,
  type SagaCompleted,
  type SagaFailed,
  type SagaStepEvent,
  type FanOutWorkflowRequest,
  type StageFailed,
  type StageValidated,
  type StepCompleted,
  type StepFailed,
  type StepStarted,
  type TaskCompleted,
  type TaskFailed,
  type WorkflowCancelRequested,
  type WorkflowSubmitted,
} from '@agent-mesh/contracts';
import { MeshContext, OnMeshEvent, type MeshSubscriptionOptions } from '@agent-mesh/nest-pulsar';
import { BlackboardService } from './blackboard';
import { stepAt } from './engine/step-tree';
import { fanOutSpec, OrchestratorService } from './orchestrator.service';

/** Redeliveries of fanout.completed spent waiting for branch results to be projected. */
const PROJECTION_WAITS = 3;

class ProjectionBehindError extends Error {
  override readonly name = 'ProjectionBehindError';
}

const EVENTS: MeshSubscriptionOptions = { topic: Topics.workflowEvents, subscription: 'orchestrator', type: 'Key_Shared' };
const SAGAS: MeshSubscriptionOptions = { topic: Topics.sagaEvents, subscription: 'orchestrator', type: 'Key_Shared' };
const FILLS: MeshSubscriptionOptions = { topic: Topics.marketFills, subscription: 'orchestrator', type: 'Key_Shared' };
const ROUNDS: MeshSubscriptionOptions = { topic: Topics.marketRounds, subscription: 'orchestrator', type: 'Key_Shared' };
const RESULTS: MeshSubscriptionOptions = { topic: Topics.taskResults, subscription: 'orchestrator', type: 'Key_Shared' };

/**
 * The orchestrator's event handlers, Key_Shared by workflow id so one workflow's events are
 * handled in order. Each consumed event also lands on the workflow's timeline.
 */
@Controller()
export class OrchestratorEventsController {
  constructor(
    private readonly orchestrator: OrchestratorService,
    private readonly blackboard: BlackboardService,
  ) {}

  private get engine() {
    return this.orchestrator.engine;
  }

  private get workflows() {
    return this.orchestrator.workflows;
  }

  private track(event: EventEnvelope, stepPath?: string, detail?: string): Promise<void> {
    return this.workflows.record(event.correlationId, event.id, {
      at: event.occurredAt,
      type: event.type,
      source: event.source,
      stepPath,
      detail,
    });
  }

  @OnMeshEvent(WorkflowSubmittedV1, EVENTS)
  async onSubmitted(@Payload() event: EventEnvelope<WorkflowSubmitted>): Promise<void> {
    await this.track(event, 'root', event.data.spec.name);
    await this.engine.begin(event.correlationId, event.data.spec, event);
  }

  /** The plain fan-out command, run as a one-step workflow. */
  @OnMeshEvent(WorkflowRequestedV1, EVENTS)
  async onRequested(@Payload() event: EventEnvelope<FanOutWorkflowRequest>): Promise<void> {
    await this.track(event, 'root');
    await this.engine.begin(event.correlationId, fanOutSpec(event.data), event);
  }

  @OnMeshEvent(WorkflowCancelRequestedV1, EVENTS)
  async onCancel(@Payload() event: EventEnvelope<WorkflowCancelRequested>): Promise<void> {
    await this.track(event, 'root', event.data.reason);
    const status = await this.workflows.status(event.correlationId);
    if (status !== 'running' && status !== 'accepted') return;
    const sagas = (await this.workflows.steps(event.correlationId)).filter((s) => s.kind === 'saga' && s.status === 'running');
    if (sagas.length > 0) {
      // A running saga is undone, not abandoned: the workflow ends when its compensation does.
      for (const saga of sagas) {
        await this.orchestrator.publisher.publish(
          Topics.sagaCommands,
          SagaAbortV1,
          { stepPath: saga.path, reason: event.data.reason },
          { correlationId: event.correlationId, causedBy: event },
        );
      }
      return;
    }
    await this.workflows.finish(event.correlationId, 'cancelled', event.occurredAt, { reason: `cancelled: ${event.data.reason}`, status: 'cancelled' });
  }

  @OnMeshEvent(StepStartedV1, EVENTS)
  async onStepStarted(@Payload() event: EventEnvelope<StepStarted>): Promise<void> {
    await this.track(event, event.data.stepPath, event.data.kind);
  }

  @OnMeshEvent(StepCompletedV1, EVENTS)
  async onStepCompleted(@Payload() event: EventEnvelope<StepCompleted>): Promise<void> {
    await this.track(event, event.data.stepPath, event.data.kind);
    await this.engine.onStepCompleted(event.correlationId, event.data.stepPath, event.data.attempt, event.data.output, event);
  }

  @OnMeshEvent(StepFailedV1, EVENTS)
  async onStepFailed(@Payload() event: EventEnvelope<StepFailed>): Promise<void> {
    await this.track(event, event.data.stepPath, event.data.reason);
    await this.engine.onStepFailed(event.correlationId, event.data.stepPath, event.data.reason, event, event.data.compensated === true);
  }

  @OnMeshEvent(StageValidatedV1, EVENTS)
  async onStageValidated(@Payload() event: EventEnvelope<StageValidated>): Promise<void> {
    await this.track(event, `${event.data.chainPath}.stages.${event.data.stage}`);
  }

  @OnMeshEvent(StageFailedV1, EVENTS)
  async onStageFailed(@Payload() event: EventEnvelope<StageFailed>): Promise<void> {
    await this.track(event, `${event.data.chainPath}.stages.${event.data.stage}`, `${event.data.action}: ${event.data.reason}`);
  }

  @OnMeshEvent(FanOutCompletedV1, EVENTS)
  async onFanOutCompleted(@Payload() event: EventEnvelope<FanOutCompleted>, @Ctx() context: MeshContext): Promise<void> {
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (state?.status !== 'running') return;
    // The branch results reach this projection on task.results, which can trail this event:
    // wait (a redelivery, a second apart) so the step never shows completed with branches
    // still pending. After a few tries it completes anyway: the projection catches up.
    const branches = await this.workflows.branches(event.correlationId, event.data.stepPath);
    const recorded = new Set(branches.filter((b) => b.status !== 'pending').map((b) => b.index));
    const missing = event.data.used.filter((i) => !recorded.has(i));
    if (missing.length > 0 && context.getRedeliveryCount() < PROJECTION_WAITS) {
      throw new ProjectionBehindError(`branch results ${missing.join(',')} of ${event.data.stepPath} not projected yet`);
    }
    await this.track(event, event.data.stepPath, `used branches ${event.data.used.join(',')}`);
    await this.engine.completeStep(event.correlationId, state.path, state.attempt, event.data.output, event);
  }

  @OnMeshEvent(FanOutFailedV1, EVENTS)
  async onFanOutFailed(@Payload() event: EventEnvelope<FanOutFailed>): Promise<void> {
    await this.track(event, event.data.stepPath, event.data.reason);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (state?.status === 'running') await this.engine.failStep(event.correlationId, state, event.data.reason, event);
  }

  @OnMeshEvent(FanOutRetryV1, EVENTS)
  async onFanOutRetry(@Payload() event: EventEnvelope<FanOutRetry>): Promise<void> {
    await this.track(event, event.data.stepPath, `branches ${event.data.branches.join(',')} attempt ${event.data.attempt}`);
    const spec = await this.workflows.spec(event.correlationId);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (!spec || state?.status !== 'running') return;
    const step = stepAt(spec, event.data.stepPath) as FanOutStepSpec;
    for (const branch of event.data.branches) {
      await this.engine.assignBranch(event.correlationId, step, event.data.stepPath, branch, event.data.attempt, event);
    }
  }

  @OnMeshEvent(WorkflowCompletedV1, EVENTS)
  async onCompleted(@Payload() event: EventEnvelope): Promise<void> {
    await this.track(event, 'root');
  }

  @OnMeshEvent(WorkflowFailedV1, EVENTS)
  async onFailed(@Payload() event: EventEnvelope): Promise<void> {
    await this.track(event, 'root');
  }

  @OnMeshEvent(SagaStepEventV1, SAGAS)
  async onSagaStep(@Payload() event: EventEnvelope<SagaStepEvent>): Promise<void> {
    await this.track(event, event.data.stepPath, `${event.data.name} ${event.data.phase}: ${event.data.detail}`);
  }

  @OnMeshEvent(SagaCompletedV1, SAGAS)
  async onSagaCompleted(@Payload() event: EventEnvelope<SagaCompleted>): Promise<void> {
    await this.track(event, event.data.stepPath);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (state?.status === 'running') await this.engine.completeStep(event.correlationId, state.path, state.attempt, { outputs: event.data.outputs }, event);
  }

  @OnMeshEvent(SagaCompensatedV1, SAGAS)
  async onSagaCompensated(@Payload() event: EventEnvelope<SagaCompensated>): Promise<void> {
    await this.track(event, event.data.stepPath, `undone: ${event.data.compensated.join(', ') || 'nothing'}`);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    const undone = event.data.compensated.length > 0 ? `; compensated ${event.data.compensated.join(' then ')}` : '; nothing to compensate';
    if (state?.status === 'running') await this.engine.failStep(event.correlationId, state, `${event.data.reason}${undone}`, event, true);
  }

  @OnMeshEvent(SagaFailedV1, SAGAS)
  async onSagaFailed(@Payload() event: EventEnvelope<SagaFailed>): Promise<void> {
    await this.track(event, event.data.stepPath, event.data.reason);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (state?.status === 'running') await this.engine.failStep(event.correlationId, state, event.data.reason, event);
  }

  @OnMeshEvent(MarketFillV1, FILLS)
  async onFill(@Payload() event: EventEnvelope<MarketFill>): Promise<void> {
    await this.track(event, event.data.stepPath, `${event.data.workerId} at ${event.data.price}`);
  }

  /** An ask nobody filled in time: re-price it if the spec allows, else the step fails. */
  @OnMeshEvent(MarketAskExpiredV1, FILLS)
  async onAskExpired(@Payload() event: EventEnvelope<MarketAskExpired>): Promise<void> {
    const { stepPath, askId, budget } = event.data;
    await this.track(event, stepPath, `${askId} at budget ${budget}`);
    const spec = await this.workflows.spec(event.correlationId);
    const state = await this.workflows.step(event.correlationId, stepPath);
    if (!spec || state?.status !== 'running') return;
    const step = stepAt(spec, stepPath) as MarketStepSpec;
    const round = Number(/ask-(\d+)$/.exec(askId)?.[1] ?? '1');
    const reprice = step.reprice;
    if (reprice && round <= reprice.times && budget < reprice.maxBudget) {
      const next = Math.min(reprice.maxBudget, Math.round(budget * reprice.factor * 100) / 100);
      await this.engine.publishAsk(event.correlationId, stepPath, step, round + 1, next, event);
      return;
    }
    await this.engine.failStep(event.correlationId, state, `no bid within budget ${budget} before the ask expired (${round} ask${round > 1 ? 's' : ''})`, event);
  }

  @OnMeshEvent(SolverRoundCompletedV1, ROUNDS)
  async onRound(@Payload() event: EventEnvelope<SolverRoundCompleted>): Promise<void> {
    await this.track(event, event.data.stepPath, `round ${event.data.round}: ${event.data.answers.length} answers`);
  }

  @OnMeshEvent(SolverCompletedV1, EVENTS)
  async onSolverCompleted(@Payload() event: EventEnvelope<SolverCompleted>): Promise<void> {
    await this.track(event, event.data.stepPath);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (state?.status === 'running') await this.engine.completeStep(event.correlationId, state.path, state.attempt, event.data.output, event);
  }

  @OnMeshEvent(SolverFailedV1, EVENTS)
  async onSolverFailed(@Payload() event: EventEnvelope<SolverFailed>): Promise<void> {
    await this.track(event, event.data.stepPath, event.data.reason);
    const state = await this.workflows.step(event.correlationId, event.data.stepPath);
    if (state?.status === 'running') await this.engine.failStep(event.correlationId, state, event.data.reason, event);
  }

  @OnMeshEvent(FanOutStartedV1, RESULTS)
  async onFanOutStarted(@Payload() event: EventEnvelope<FanOutStarted>): Promise<void> {
    await this.track(event, event.data.stepPath, `${event.data.branchCount} branches, ${event.data.policy.type}, ${event.data.strategy.type}`);
  }

  @OnMeshEvent(TaskCompletedV1, RESULTS)
  async onTaskCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    const { stepPath, branchIndex, inputId, worker, durationMs, output } = event.data;
    await this.track(event, stepPath, `${inputId} by ${worker}`);
    if (!stepPath) return;
    const attempt = event.data.attempt ?? 1;
    const state = await this.workflows.step(event.correlationId, stepPath);
    if (state?.kind === 'fan-out') {
      await this.workflows.recordBranch(event.correlationId, event.id, { stepPath, index: branchIndex, inputId, status: 'completed', attempt, worker, durationMs, output });
    } else if ((state?.kind === 'task' || state?.kind === 'market') && state.status === 'running') {
      await this.engine.completeStep(event.correlationId, stepPath, attempt, output, event);
    } else if (state?.kind === 'blackboard') {
      await this.blackboard.onSourceCompleted(event.correlationId, state, event.data, event);
    }
  }

  @OnMeshEvent(TaskFailedV1, RESULTS)
  async onTaskFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    const { stepPath, branchIndex, inputId, worker, error } = event.data;
    await this.track(event, stepPath, `${inputId}: ${error}`);
    if (!stepPath) return;
    const attempt = event.data.attempt ?? 1;
    const state = await this.workflows.step(event.correlationId, stepPath);
    if (state?.kind === 'fan-out') {
      await this.workflows.recordBranch(event.correlationId, event.id, { stepPath, index: branchIndex, inputId, status: 'failed', attempt, worker, error });
    } else if ((state?.kind === 'task' || state?.kind === 'market') && state.status === 'running' && state.attempt === attempt) {
      await this.engine.failStep(event.correlationId, state, `${inputId}: ${error}`, event);
    } else if (state?.kind === 'blackboard') {
      await this.blackboard.onSourceFailed(event.correlationId, state, event.data, event);
    }
  }
}
