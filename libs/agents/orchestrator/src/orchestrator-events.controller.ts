import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  ApprovalDecidedV1,
  FanOutCompletedV1,
  FanOutFailedV1,
  FanOutRetryV1,
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
  RetryableError,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  WorkflowCancelRequestedV1,
  WorkflowDeadlineV1,
  WorkflowRequestedV1,
  WorkflowSubmittedV1,
  lineage,
  stepAt,
  type ApprovalDecided,
  type EventEnvelope,
  type FanOutCompleted,
  type FanOutFailed,
  type FanOutRetry,
  type MarketAskExpired,
  type MarketFill,
  type RetryPolicy,
  type SolverCompleted,
  type SolverFailed,
  type SolverRoundCompleted,
  type SagaCompensated,
  type SagaCompleted,
  type SagaFailed,
  type SagaStepEvent,
  type StepKind,
  type StepSpec,
  type FanOutWorkflowRequest,
  type TaskCompleted,
  type TaskFailed,
  type TaskUsage,
  type WorkflowCancelRequested,
  type WorkflowDeadline,
  type WorkflowSubmitted,
} from '@agent-mesh/contracts';
import {
  MESH_TRANSPORT_OPTIONS,
  MeshContext,
  OnMeshEvent,
  regionOfHome,
  type Homing,
  type MeshSubscriptionOptions,
  type MeshTransportOptions,
} from '@agent-mesh/nest-pulsar';
import { BlackboardService } from './blackboard';
import { BranchProjectionWaiter } from './branch-projection-waiter';

import { approvedOutput, rejectedReason } from './engine/steps';
import { summedUsage } from './engine/usage';
import type { BranchView, WorkflowSnapshot } from './engine/workflow-state';
import { askRoundOf } from './engine/steps';
import { fanOutSpec, OrchestratorService } from './orchestrator.service';

/** Redeliveries of fanout.completed spent waiting for branch results to be projected (after the in-handler wait). */
const PROJECTION_WAITS = 3;

class ProjectionBehindError extends Error {
  override readonly name = 'ProjectionBehindError';
}

/**
 * How long a workflow.submitted waits for the process that accepted the workflow to finish
 * starting it (a start takes milliseconds; past this, that process is taken for dead), and for
 * at most how many redeliveries (each a second apart; well under the subscription's 5).
 */
const SUBMITTER_GRACE_MS = 2_000;
const SUBMITTER_WAITS = 3;

class SubmitterPendingError extends Error {
  override readonly name = 'SubmitterPendingError';
}

/**
 * How long an event of an adopted workflow not known here yet is held back
 * (holdBackUnlessKnown): retries over about 2 minutes, far past the replication lag measured
 * over a throttled link (p99 7.5 s, docs/geo.md), so a workflow that arrives whole on fail-back
 * is begun first; then it is dead-lettered with the reason (`mesh dlq` shows and replays it).
 */
const NOT_REPLICATED_YET: RetryPolicy = {
  attempts: 10,
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.2,
};

const EVENTS: MeshSubscriptionOptions = {
  topic: Topics.workflowEvents,
  subscription: 'orchestrator',
  type: 'Key_Shared',
};
const SAGAS: MeshSubscriptionOptions = { topic: Topics.sagaEvents, subscription: 'orchestrator', type: 'Key_Shared' };
const FILLS: MeshSubscriptionOptions = { topic: Topics.marketFills, subscription: 'orchestrator', type: 'Key_Shared' };
const ROUNDS: MeshSubscriptionOptions = {
  topic: Topics.marketRounds,
  subscription: 'orchestrator',
  type: 'Key_Shared',
};
const RESULTS: MeshSubscriptionOptions = {
  topic: Topics.taskResults,
  subscription: 'orchestrator',
  type: 'Key_Shared',
};
/** Deadlines: delayed delivery needs a Shared (or Key_Shared) subscription. */
const TIMERS: MeshSubscriptionOptions = { topic: Topics.workflowTimers, subscription: 'orchestrator', type: 'Shared' };

/**
 * The orchestrator's event handlers, Key_Shared by workflow id so one workflow's events are
 * handled in order. Each consumed event also lands on the workflow's timeline. The events the
 * orchestrator publishes itself (`workflow.submitted`, `step.*`, `stage.*`, `fanout.started`,
 * `workflow.completed` / `.failed`) are on the timeline already — written with the state they
 * announce — and come back here only to be acknowledged: a step's end advances its parent in
 * the handler of the event that ended it (WorkflowEngine), not through `step.completed`.
 */
@Controller()
export class OrchestratorEventsController {
  /** This process's homing in a geo set (docs/geo.md); undefined outside one. */
  private readonly homing?: Homing;

  constructor(
    private readonly orchestrator: OrchestratorService,
    private readonly blackboard: BlackboardService,
    private readonly projections: BranchProjectionWaiter,
    @Inject(MESH_TRANSPORT_OPTIONS) transport: MeshTransportOptions,
  ) {
    this.homing = transport.homing;
  }

  private get engine() {
    return this.orchestrator.engine;
  }

  private get workflows() {
    return this.orchestrator.workflows;
  }

  private track(event: EventEnvelope, stepPath?: string, detail?: string, late?: boolean): Promise<void> {
    return this.workflows.record(event.correlationId, event.id, {
      at: event.occurredAt,
      type: event.type,
      source: event.source,
      stepPath,
      detail,
      late: late || undefined,
    });
  }

  /**
   * In a geo set every topic replicates on its own, so an event of a workflow adopted from
   * another region — replicated, or made here from replicated events — can arrive before the
   * workflow's `workflow.submitted` does. Handled then, it would change nothing and the workflow
   * would wait for it for ever (docs/geo.md); it is retried with backoff until the workflow is
   * known here, and dead-lettered with this reason if it never is. A workflow homed in this
   * region is known before any of its events exists, so only adopted homes cost the read.
   */
  private async holdBackUnlessKnown(event: EventEnvelope): Promise<void> {
    const home = event.home ?? event.region;
    if (!this.homing || home === undefined || regionOfHome(home) === this.homing.region) return;
    if ((await this.workflows.status(event.correlationId)) !== undefined) return;
    throw new RetryableError(
      new Error(
        `workflow ${event.correlationId} (home ${home}) is not known here: its workflow.submitted has not arrived`,
      ),
      NOT_REPLICATED_YET,
    );
  }

  /**
   * For an event that would end the step at `stepPath` (its `attempt`, else the step's current
   * one): reads the step with its ancestors and the workflow's status, then records the event
   * on the timeline — flagged late when the step, this attempt or the workflow ended before
   * it — while `end` decides on what was read (the timeline write and the engine's share a
   * round trip).
   */
  private async trackEnd(
    event: EventEnvelope,
    stepPath: string,
    detail: string | undefined,
    end: (snapshot: WorkflowSnapshot) => Promise<void>,
    attempt?: number,
  ): Promise<void> {
    const snapshot = await this.workflows.snapshot(event.correlationId, lineage(stepPath));
    const late = this.engine.isLate(snapshot, stepPath, attempt, event);
    await Promise.all([this.track(event, stepPath, detail, late), end(snapshot)]);
  }

  /** Fails the step an event is about (its current attempt) with `reason`, unless the event comes late. */
  private failOnEvent(event: EventEnvelope, stepPath: string, reason: string, detail = reason): Promise<void> {
    return this.trackEnd(event, stepPath, detail, async (snapshot) => {
      const state = snapshot.steps.get(stepPath);
      if (state) await this.engine.failStep(event.correlationId, stepPath, state.attempt, reason, event, { snapshot });
    });
  }

  /** Completes the step an event is about (its current attempt) with `output`, unless the event comes late. */
  private completeOnEvent(
    event: EventEnvelope,
    stepPath: string,
    output: Record<string, unknown>,
    detail?: string,
  ): Promise<void> {
    return this.trackEnd(event, stepPath, detail, async (snapshot) => {
      const state = snapshot.steps.get(stepPath);
      if (state) await this.engine.completeStep(event.correlationId, stepPath, state.attempt, output, event, snapshot);
    });
  }

  /**
   * The kind of the step a result is about, from the workflow's spec (kept in memory by the
   * process that began it): a fan-out branch's result needs nothing else read.
   */
  /**
   * A result's usage, added once to its step's and the workflow's (and to the token metric);
   * the reason its step must fail when the workflow is now over its budget.
   */
  private async charge(event: EventEnvelope, stepPath: string, usage: TaskUsage, skill: string) {
    const { counted, overBudget } = await this.engine.charge(event.correlationId, stepPath, usage, event);
    if (counted) this.orchestrator.metrics.llmTokensUsed(skill, usage);
    return overBudget;
  }

  private async kindOf(workflowId: string, stepPath: string): Promise<StepKind | undefined> {
    return (await this.stepSpecAt(workflowId, stepPath))?.kind;
  }

  private async stepSpecAt(workflowId: string, stepPath: string): Promise<StepSpec | undefined> {
    const spec = await this.workflows.spec(workflowId, stepPath);
    if (!spec) return undefined;
    try {
      return stepAt(spec, stepPath);
    } catch {
      return undefined; // no such step: the result changes nothing but the timeline
    }
  }

  /** A fan-out branch's result: projected with its timeline entry in one atomic write. */
  private async recordBranch(
    event: EventEnvelope<TaskCompleted | TaskFailed>,
    branch: BranchView,
    detail: string,
  ): Promise<void> {
    const entry = { at: event.occurredAt, type: event.type, source: event.source, stepPath: branch.stepPath, detail };
    await this.workflows.recordBranch(
      event.correlationId,
      { taskId: event.data.taskId, eventId: event.id },
      branch,
      entry,
    );
    this.projections.branchRecorded(event.correlationId, branch.stepPath);
  }

  /**
   * Submitted over HTTP: its timeline entry was written when it was accepted, and the process
   * that accepted it started it then (OrchestratorService.submit). This is the recovery path:
   * it starts the workflow if that process did not — it failed, or died half-way. A begin in
   * this process is awaited; another process's is trusted once it says it is done, and waited
   * for (the event redelivered a second later) while it may still be going.
   */
  @OnMeshEvent(WorkflowSubmittedV1, EVENTS)
  async onSubmitted(@Payload() event: EventEnvelope<WorkflowSubmitted>, @Ctx() context: MeshContext): Promise<void> {
    const local = this.orchestrator.localBegin(event.correlationId);
    if (local && (await local)) return;
    // The acceptance as the accepting process wrote it (same marker: nothing new when it did),
    // for a submitter that died before writing it, and for a rebuild from the log.
    await this.workflows.accept(event.correlationId, event.data.spec, event.occurredAt, [
      { at: event.occurredAt, type: event.type, source: event.source, stepPath: 'root', detail: event.data.spec.name },
    ]);
    const waitForSubmitterMs = local || context.getRedeliveryCount() >= SUBMITTER_WAITS ? 0 : SUBMITTER_GRACE_MS;
    const outcome = await this.engine.begin(event.correlationId, event.data.spec, event, { waitForSubmitterMs });
    if (outcome === 'submitter-pending')
      throw new SubmitterPendingError(
        `workflow ${event.correlationId} is being started by the process that accepted it`,
      );
  }

  /** The plain fan-out command, run as a one-step workflow. */
  @OnMeshEvent(WorkflowRequestedV1, EVENTS)
  async onRequested(@Payload() event: EventEnvelope<FanOutWorkflowRequest>): Promise<void> {
    await Promise.all([
      this.track(event, 'root'),
      this.engine.begin(event.correlationId, fanOutSpec(event.data), event),
    ]);
  }

  @OnMeshEvent(WorkflowCancelRequestedV1, EVENTS)
  async onCancel(@Payload() event: EventEnvelope<WorkflowCancelRequested>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.track(event, 'root', event.data.reason);
    const status = await this.workflows.status(event.correlationId);
    if (status !== 'running' && status !== 'accepted') return;
    const sagas = (await this.workflows.steps(event.correlationId)).filter(
      (s) => s.kind === 'saga' && s.status === 'running',
    );
    // A running saga is undone, not abandoned: its coordinator compensates what took effect. The
    // workflow ends cancelled now, with its one terminal event; the saga's end that follows is
    // recorded in the timeline and changes nothing else.
    for (const saga of sagas) {
      await this.orchestrator.publisher.publish(
        Topics.sagaCommands,
        SagaAbortV1,
        { stepPath: saga.path, reason: event.data.reason },
        { correlationId: event.correlationId, causedBy: event },
      );
    }
    await this.engine.cancel(event.correlationId, `cancelled: ${event.data.reason}`, event);
  }

  /**
   * A decision on an approval step (POST /workflows/:id/approvals/:stepPath): approved, it
   * completes with the decision and the output it was asked about; rejected, it fails.
   */
  @OnMeshEvent(ApprovalDecidedV1, EVENTS)
  async onApprovalDecided(@Payload() event: EventEnvelope<ApprovalDecided>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, attempt, approve } = event.data;
    const id = event.correlationId;
    const detail = rejectedReason(event.data).replace(/^rejected/, approve ? 'approved' : 'rejected');
    const decide = async (snapshot: WorkflowSnapshot): Promise<void> => {
      const state = snapshot.steps.get(stepPath);
      if (state?.kind !== 'approval') return;
      if (!approve) return this.engine.failStep(id, stepPath, attempt, rejectedReason(event.data), event, { snapshot });
      const previous = state.previousPath ? await this.workflows.step(id, state.previousPath) : undefined;
      const output = approvedOutput(event.data, previous?.output);
      await this.engine.completeStep(id, stepPath, attempt, output, event, snapshot);
    };
    await Promise.all([
      this.trackEnd(event, stepPath, detail, decide, attempt),
      this.workflows.decisionMade(id, stepPath, attempt),
    ]);
  }

  @OnMeshEvent(FanOutCompletedV1, EVENTS)
  async onFanOutCompleted(
    @Payload() event: EventEnvelope<FanOutCompleted>,
    @Ctx() context: MeshContext,
  ): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, used } = event.data;
    const id = event.correlationId;
    // Which used branches are projected as completed (a retried one's failed first attempt is
    // not its result): one hmget of their `<attempt>:<status>`, no branch parsed.
    const unprojected = async (): Promise<number[]> => {
      const projected = await this.workflows.completedBranches(id, stepPath, used);
      return used.filter((_, i) => !projected[i]);
    };
    const [snapshot, initiallyMissing] = await Promise.all([
      this.workflows.snapshot(id, lineage(stepPath)),
      unprojected(),
    ]);
    const state = snapshot.steps.get(stepPath);
    if (!this.engine.mayEnd(state, event)) return this.track(event, stepPath, `used branches ${used.join(',')}`, true);
    // The branch results reach this projection on task.results, which can trail this event:
    // wait for them in the handler, then (a redelivery, a second apart) a few more times, so
    // the step never shows completed with branches still pending. After that it completes
    // anyway: the projection catches up.
    let missing = initiallyMissing;
    if (state?.status === 'running' && missing.length > 0) {
      const projected = await this.projections.waitUntil(id, stepPath, async () => {
        missing = await unprojected();
        return missing.length === 0;
      });
      if (!projected && context.getRedeliveryCount() < PROJECTION_WAITS) {
        throw new ProjectionBehindError(`branch results ${missing.join(',')} of ${stepPath} not projected yet`);
      }
    }
    const late = this.engine.isLate(snapshot, stepPath, undefined, event);
    const tracked = this.track(event, stepPath, `used branches ${used.join(',')}`, late);
    await Promise.all([
      tracked,
      this.engine.completeStep(id, stepPath, state?.attempt ?? 1, event.data.output, event, snapshot),
    ]);
  }

  @OnMeshEvent(FanOutFailedV1, EVENTS)
  async onFanOutFailed(@Payload() event: EventEnvelope<FanOutFailed>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.failOnEvent(event, event.data.stepPath, event.data.reason);
  }

  /** retry-branch: re-runs the branches (after their backoff) while the fan-out and its workflow run. */
  @OnMeshEvent(FanOutRetryV1, EVENTS)
  async onFanOutRetry(@Payload() event: EventEnvelope<FanOutRetry>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, branches, attempt } = event.data;
    await Promise.all([
      this.track(event, stepPath, `branches ${branches.join(',')} attempt ${attempt}`),
      this.engine.assignBranches(event.correlationId, stepPath, branches, attempt, event),
    ]);
  }

  /** A deadline delivered: the engine ends what it bounds if that still runs. */
  @OnMeshEvent(WorkflowDeadlineV1, TIMERS)
  async onDeadline(@Payload() event: EventEnvelope<WorkflowDeadline>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.engine.expire(event.correlationId, event.data, event);
  }

  /**
   * A saga step changed state (timeline). One whose task used model calls is charged like a
   * task's result; over budget, the saga is aborted, so its coordinator undoes what took effect
   * and the step then fails as compensated, with the budget in its reason.
   */
  @OnMeshEvent(SagaStepEventV1, SAGAS)
  async onSagaStep(@Payload() event: EventEnvelope<SagaStepEvent>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, index, name, phase, detail, usage } = event.data;
    await this.track(event, stepPath, `${name} ${phase}: ${detail}`);
    if (!usage) return;
    const overBudget = await this.charge(event, stepPath, usage, await this.sagaTaskSkill(event, stepPath, index));
    if (overBudget)
      await this.orchestrator.publisher.publish(
        Topics.sagaCommands,
        SagaAbortV1,
        { stepPath, reason: overBudget },
        { correlationId: event.correlationId, causedBy: event },
      );
  }

  /** The skill of a saga step's task that reported a phase: its compensation's when it was undone, else its action's. */
  private async sagaTaskSkill(event: EventEnvelope<SagaStepEvent>, stepPath: string, index: number): Promise<string> {
    const saga = await this.stepSpecAt(event.correlationId, stepPath);
    const step = saga?.kind === 'saga' ? saga.steps[index] : undefined;
    return (event.data.phase === 'compensated' ? step?.compensation : step?.action)?.skill ?? 'unknown';
  }

  @OnMeshEvent(SagaCompletedV1, SAGAS)
  async onSagaCompleted(@Payload() event: EventEnvelope<SagaCompleted>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.completeOnEvent(event, event.data.stepPath, { outputs: event.data.outputs });
  }

  @OnMeshEvent(SagaCompensatedV1, SAGAS)
  async onSagaCompensated(@Payload() event: EventEnvelope<SagaCompensated>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, compensated, reason } = event.data;
    const undone = compensated.length > 0 ? `; compensated ${compensated.join(' then ')}` : '; nothing to compensate';
    await this.trackEnd(event, stepPath, `undone: ${compensated.join(', ') || 'nothing'}`, async (snapshot) => {
      const state = snapshot.steps.get(stepPath);
      if (state)
        await this.engine.failStep(event.correlationId, stepPath, state.attempt, `${reason}${undone}`, event, {
          compensated: true,
          snapshot,
        });
    });
  }

  @OnMeshEvent(SagaFailedV1, SAGAS)
  async onSagaFailed(@Payload() event: EventEnvelope<SagaFailed>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.failOnEvent(event, event.data.stepPath, event.data.reason);
  }

  @OnMeshEvent(MarketFillV1, FILLS)
  async onFill(@Payload() event: EventEnvelope<MarketFill>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.track(event, event.data.stepPath, `${event.data.workerId} at ${event.data.price}`);
  }

  /** An ask nobody filled in time: re-price it if the spec allows, else the step fails. */
  @OnMeshEvent(MarketAskExpiredV1, FILLS)
  async onAskExpired(@Payload() event: EventEnvelope<MarketAskExpired>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, askId, budget } = event.data;
    const spec = await this.workflows.spec(event.correlationId, stepPath);
    if (!spec) return;
    await this.trackEnd(event, stepPath, `${askId} at budget ${budget}`, async (snapshot) => {
      const state = snapshot.steps.get(stepPath);
      if (!state || this.engine.isLate(snapshot, stepPath, undefined, event)) return;
      const step = stepAt(spec, stepPath, 'market');
      const { attempt, round } = askRoundOf(askId);
      if (attempt !== state.attempt) return; // an ask of a replaced attempt (the step was re-opened)
      const reprice = step.reprice;
      if (state.status === 'running' && reprice && round <= reprice.times && budget < reprice.maxBudget) {
        const next = Math.min(reprice.maxBudget, Math.round(budget * reprice.factor * 100) / 100);
        await this.engine.publishAsk(event.correlationId, stepPath, step, round + 1, next, attempt, event);
        return;
      }
      const reason = `no bid within budget ${budget} before the ask expired (${round} ask${round > 1 ? 's' : ''})`;
      await this.engine.failStep(event.correlationId, stepPath, state.attempt, reason, event, { snapshot });
    });
  }

  /**
   * A solver round is over. Its solvers' usage is charged like a task's result; over budget, the
   * step fails (the market maker is not stopped: the rounds it still runs change nothing).
   */
  @OnMeshEvent(SolverRoundCompletedV1, ROUNDS)
  async onRound(@Payload() event: EventEnvelope<SolverRoundCompleted>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, round, answers } = event.data;
    const detail = `round ${round}: ${answers.length} answers`;
    const usage = summedUsage(answers.map((answer) => answer.usage));
    if (usage) {
      const step = await this.stepSpecAt(event.correlationId, stepPath);
      const overBudget = await this.charge(
        event,
        stepPath,
        usage,
        step?.kind === 'solver-rounds' ? step.skill : 'unknown',
      );
      if (overBudget) return this.failOnEvent(event, stepPath, overBudget, `${detail}: ${overBudget}`);
    }
    await this.track(event, stepPath, detail);
  }

  @OnMeshEvent(SolverCompletedV1, EVENTS)
  async onSolverCompleted(@Payload() event: EventEnvelope<SolverCompleted>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.completeOnEvent(event, event.data.stepPath, event.data.output);
  }

  @OnMeshEvent(SolverFailedV1, EVENTS)
  async onSolverFailed(@Payload() event: EventEnvelope<SolverFailed>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    await this.failOnEvent(event, event.data.stepPath, event.data.reason);
  }

  /** A task's result: a fan-out branch for the projection, or the end of a task or market step, which advances its parent here. */
  @OnMeshEvent(TaskCompletedV1, RESULTS)
  async onTaskCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, branchIndex, inputId, worker, durationMs, output } = event.data;
    const detail = `${inputId} by ${worker}`;
    if (!stepPath) return this.track(event, stepPath, detail);
    // Usage is counted whatever the step's kind; a result that took the workflow over its budget fails its step.
    if (event.data.usage) {
      const overBudget = await this.charge(event, stepPath, event.data.usage, event.data.skill);
      if (overBudget) return this.failOnEvent(event, stepPath, overBudget, `${detail}: ${overBudget}`);
    }
    const attempt = event.data.attempt ?? 1;
    if ((await this.kindOf(event.correlationId, stepPath)) === 'fan-out') {
      const branch: BranchView = {
        stepPath,
        index: branchIndex,
        inputId,
        status: 'completed',
        attempt,
        worker,
        durationMs,
        output,
      };
      return this.recordBranch(event, branch, detail);
    }
    await this.trackEnd(
      event,
      stepPath,
      detail,
      async (snapshot) => {
        const state = snapshot.steps.get(stepPath);
        if (state?.kind === 'task' || state?.kind === 'market') {
          await this.engine.completeStep(event.correlationId, stepPath, attempt, output, event, snapshot);
        } else if (state?.kind === 'blackboard') {
          await this.blackboard.onSourceCompleted(event.correlationId, state, event.data, event);
        }
      },
      attempt,
    );
  }

  @OnMeshEvent(TaskFailedV1, RESULTS)
  async onTaskFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    await this.holdBackUnlessKnown(event);
    const { stepPath, branchIndex, inputId, worker, error } = event.data;
    const detail = `${inputId}: ${error}`;
    if (!stepPath) return this.track(event, stepPath, detail);
    const attempt = event.data.attempt ?? 1;
    if ((await this.kindOf(event.correlationId, stepPath)) === 'fan-out') {
      return this.recordBranch(
        event,
        { stepPath, index: branchIndex, inputId, status: 'failed', attempt, worker, error },
        detail,
      );
    }
    await this.trackEnd(
      event,
      stepPath,
      detail,
      async (snapshot) => {
        const state = snapshot.steps.get(stepPath);
        if (state?.kind === 'task' || state?.kind === 'market') {
          await this.engine.failStep(event.correlationId, stepPath, attempt, `${inputId}: ${error}`, event, {
            snapshot,
          });
        } else if (state?.kind === 'blackboard') {
          await this.blackboard.onSourceFailed(event.correlationId, state, event.data, event);
        }
      },
      attempt,
    );
  }
}
