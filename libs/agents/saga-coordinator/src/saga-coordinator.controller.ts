import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  backoffDelayMs,
  mayRetry,
  SagaAbortV1,
  SagaCompensatedV1,
  SagaCompensationRetryV1,
  SagaCompletedV1,
  SagaDeadlineV1,
  SagaFailedV1,
  SagaStartV1,
  SagaStepEventV1,
  SagaWaitExpiredV1,
  sagaTaskId,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  STEP_PATH_FRAGMENT,
  Topics,
  type EventEnvelope,
  type SagaAbort,
  type SagaActionSpec,
  type SagaCompensationRetry,
  type SagaDeadline,
  type SagaStart,
  type SagaWaitExpired,
  type TaskCompleted,
  type TaskFailed,
  type TaskUsage,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent, type MeshSubscriptionOptions } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import { expireOps, type StateOp, type StateStore } from '@agent-mesh/state';
import { announcementId, leftToUndo, logKey, parseLog, undoNext, type SagaLog } from './saga-log';
import { sagaSettings, type SagaSettings } from './saga-settings';

const SUBSCRIPTION = 'saga-coordinator';
/**
 * The results of the saga's own tasks, and only those: every task it assigns names this topic
 * as its reply topic, so fan-out and other results never reach (or cost) the coordinator.
 */
const RESULTS: MeshSubscriptionOptions = {
  topic: Topics.sagaTaskResults,
  subscription: SUBSCRIPTION,
  type: 'Key_Shared',
};
const TIMERS: MeshSubscriptionOptions = { topic: Topics.timers, subscription: SUBSCRIPTION, type: 'Shared' };
const COMMANDS: MeshSubscriptionOptions = {
  topic: Topics.sagaCommands,
  subscription: SUBSCRIPTION,
  type: 'Key_Shared',
};
const TASK_ID = new RegExp(String.raw`^(.+):(${STEP_PATH_FRAGMENT}):saga:(\d+):(action|compensation)$`);

/** A saga task's result, from task.completed or task.failed. */
interface TaskResult {
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  /** What its model calls used: passed on with the step's event, for the workflow's budget. */
  readonly usage?: TaskUsage;
  /** The attempt the result is for (compensations are retried; actions run once). */
  readonly attempt: number;
}

/** Which saga step a result is for. */
interface ResultOf {
  readonly event: EventEnvelope;
  readonly taskId: string;
  readonly workflowId: string;
  readonly stepPath: string;
  readonly index: number;
  readonly name: string;
}

type StepEventPhase = 'started' | 'completed' | 'failed' | 'compensating' | 'compensated';

/**
 * The saga-coordinator role. A saga's log (Redis, keyed by workflow and step) says which steps
 * ran, failed or were undone; every change to it is made once per event, so a coordinator that
 * restarts picks up where the last one stopped from the events still unacknowledged. Each step
 * runs as a task with a deadline delivered late on `timers`. On a failure, a missed deadline or
 * an abort, every step whose action took effect is compensated, one at a time in reverse order
 * — including an action that completes after its deadline or the abort: the undoing waits for
 * its result (at most SAGA_RESULT_WAIT_MS past the deadline; an action silent that long is
 * compensated anyway). A failed compensation is retried with backoff (a delayed message on
 * `timers`); one that keeps failing ends the saga `failed`, naming the steps left to undo.
 * Steps and compensations reply on `task.results.saga`, which only the coordinator consumes.
 */
@Controller()
export class SagaCoordinatorController {
  private readonly log = new Logger('SagaCoordinator');
  private readonly publisher: MeshPublisher;
  private readonly settings: SagaSettings;
  private readonly retentionMs: number;

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_CONFIG) config: MeshConfig,
  ) {
    this.publisher = publisher.as('saga-coordinator');
    this.settings = sagaSettings(process.env, config.taskTimeoutMs);
    this.retentionMs = config.workflowRetentionMs;
  }

  @OnMeshEvent(SagaStartV1, COMMANDS)
  async onStart(@Payload() event: EventEnvelope<SagaStart>): Promise<void> {
    const { stepPath, steps } = event.data;
    const key = logKey(event.correlationId, stepPath);
    await this.state.applyOnce(`saga:init:${event.correlationId}:${stepPath}`, [
      { op: 'hset', key, field: 'status', value: 'running' },
      { op: 'hset', key, field: 'steps', value: JSON.stringify(steps) },
      ...steps.map((_, i) => ({ op: 'hset' as const, key, field: `phase:${i}`, value: 'pending' })),
    ]);
    await this.runStep(event, stepPath, 0);
  }

  /** A cancelled (or timed-out) workflow: a running saga undoes what took effect; an ended one stays as it is. */
  @OnMeshEvent(SagaAbortV1, COMMANDS)
  async onAbort(@Payload() event: EventEnvelope<SagaAbort>): Promise<void> {
    const { stepPath } = event.data;
    const saga = await this.read(event.correlationId, stepPath);
    if (saga?.status !== 'running' && saga?.status !== 'compensating') return;
    // The action out now is given up on as at its deadline: its result is awaited for
    // SAGA_RESULT_WAIT_MS, not until its own deadline, before it is undone as unknown.
    const running = saga.phases.findIndex((phase) => phase === 'running');
    if (running >= 0) await this.giveUpOn(event, stepPath, running);
    await this.compensate(event, stepPath, `aborted: ${event.data.reason}`);
  }

  /** A step whose action is out is timed out: its late result is awaited for SAGA_RESULT_WAIT_MS (saga.wait-expired). */
  private async giveUpOn(cause: EventEnvelope, stepPath: string, index: number): Promise<boolean> {
    const workflowId = cause.correlationId;
    const { applied } = await this.state.applyOnce(`saga:deadline:${workflowId}:${stepPath}:${index}`, [
      { op: 'hset', key: logKey(workflowId, stepPath), field: `phase:${index}`, value: 'timed-out' },
    ]);
    await this.publisher.publish(
      Topics.timers,
      SagaWaitExpiredV1,
      { stepPath, index, waitedMs: this.settings.resultWaitMs },
      { correlationId: workflowId, causedBy: cause, deliverAfterMs: this.settings.resultWaitMs },
    );
    return applied;
  }

  /** A step's deadline: a step still out is timed out — its late result is awaited while the others are undone. */
  @OnMeshEvent(SagaDeadlineV1, TIMERS)
  async onDeadline(@Payload() event: EventEnvelope<SagaDeadline>): Promise<void> {
    const { stepPath, index, deadlineMs } = event.data;
    const workflowId = event.correlationId;
    const saga = await this.read(workflowId, stepPath);
    // Finished in time — or timed out by this event already, and redelivered: carry on.
    if (!saga || (saga.phases[index] !== 'running' && saga.phases[index] !== 'timed-out')) return;
    const applied = await this.giveUpOn(event, stepPath, index);
    const reason = `step ${saga.steps[index].name} missed its deadline of ${deadlineMs} ms`;
    if (applied) this.log.warn(`saga ${workflowId} ${stepPath}: ${reason}`);
    await this.stepEvent(event, stepPath, index, saga.steps[index].name, 'failed', reason, 'deadline');
    await this.compensate(event, stepPath, reason);
  }

  /** No result within the wait after the deadline: the outcome is unknown, so the step is undone anyway. */
  @OnMeshEvent(SagaWaitExpiredV1, TIMERS)
  async onWaitExpired(@Payload() event: EventEnvelope<SagaWaitExpired>): Promise<void> {
    const { stepPath, index, waitedMs } = event.data;
    const workflowId = event.correlationId;
    const saga = await this.read(workflowId, stepPath);
    // Its result came — or this event marked it unknown already, and is redelivered: carry on.
    if (saga?.phases[index] !== 'timed-out' && saga?.phases[index] !== 'unknown') return;
    const { applied } = await this.state.applyOnce(`saga:unknown:${workflowId}:${stepPath}:${index}`, [
      { op: 'hset', key: logKey(workflowId, stepPath), field: `phase:${index}`, value: 'unknown' },
    ]);
    if (applied)
      this.log.warn(
        `saga ${workflowId} ${stepPath}: step ${saga.steps[index].name} did not report within ${waitedMs} ms ` +
          'after its deadline; compensating it anyway',
      );
    await this.compensateNext(event, stepPath);
  }

  /** A failed compensation's backoff is over: run it again (unless a result settled it meanwhile). */
  @OnMeshEvent(SagaCompensationRetryV1, TIMERS)
  async onCompensationRetry(@Payload() event: EventEnvelope<SagaCompensationRetry>): Promise<void> {
    const { stepPath, index, attempt } = event.data;
    const saga = await this.read(event.correlationId, stepPath);
    if (saga?.status !== 'compensating' || saga.phases[index] !== 'compensating') return;
    if (saga.compensationAttempts[index] !== attempt) return;
    await this.assign(event, stepPath, index, saga.steps[index].compensation, 'compensation', attempt);
  }

  @OnMeshEvent(TaskCompletedV1, RESULTS)
  async onTaskCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    const { taskId, output, attempt, usage } = event.data;
    await this.onResult(event, taskId, { output, attempt: attempt ?? 1, usage });
  }

  @OnMeshEvent(TaskFailedV1, RESULTS)
  async onTaskFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    await this.onResult(event, event.data.taskId, { error: event.data.error, attempt: event.data.attempt ?? 1 });
  }

  private async onResult(event: EventEnvelope, taskId: string, result: TaskResult): Promise<void> {
    const match = TASK_ID.exec(taskId);
    if (!match) return; // not a saga's task (a defence: only saga tasks name this reply topic)
    const [, workflowId, stepPath, indexText, role] = match;
    const index = Number(indexText);
    const saga = await this.read(workflowId, stepPath);
    if (!saga || index >= saga.steps.length) return;
    const step: ResultOf = { event, taskId, workflowId, stepPath, index, name: saga.steps[index].name };
    if (role === 'compensation') return this.onCompensationResult(step, saga, result);
    if (result.error !== undefined) return this.onActionFailed(step, saga, result.error);
    return this.onActionCompleted(step, saga, result.output ?? {}, result.usage);
  }

  /** An action failed (no effect to undo): the saga is undone — or, being undone already, goes on. */
  private async onActionFailed(
    { event, taskId, stepPath, index, name }: ResultOf,
    saga: SagaLog,
    error: string,
  ): Promise<void> {
    const phase = saga.phases[index];
    if (phase !== 'running' && phase !== 'timed-out' && phase !== 'failed') return; // given up on: nothing to undo
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, [
      { op: 'hset', key: logKey(event.correlationId, stepPath), field: `phase:${index}`, value: 'failed' },
    ]);
    if (applied) this.log.warn(`saga ${event.correlationId} ${stepPath}: step ${name} failed: ${error}`);
    await this.stepEvent(event, stepPath, index, name, 'failed', error, 'result');
    if (saga.status === 'running') await this.compensate(event, stepPath, `step ${name} failed: ${error}`);
    else await this.compensateNext(event, stepPath);
  }

  /**
   * An action took effect: the next step runs, or the saga completes. Late — after its deadline
   * or while the saga is being undone — it is undone too, in its turn.
   */
  private async onActionCompleted(
    { event, taskId, stepPath, index, name }: ResultOf,
    saga: SagaLog,
    output: Record<string, unknown>,
    usage: TaskUsage | undefined,
  ): Promise<void> {
    const phase = saga.phases[index];
    if (phase !== 'running' && phase !== 'timed-out' && phase !== 'completed')
      return this.completedAfterGivenUp(
        { event, taskId, workflowId: event.correlationId, stepPath, index, name },
        phase,
        usage,
      );
    const key = logKey(event.correlationId, stepPath);
    const late = phase === 'timed-out' || saga.status !== 'running';
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, [
      { op: 'hset', key, field: `phase:${index}`, value: 'completed' },
      { op: 'hset', key, field: `output:${index}`, value: JSON.stringify(output) },
    ]);
    const detail = late
      ? `done late (${phase === 'timed-out' ? 'after its deadline' : 'after the abort'}): to undo`
      : 'done';
    if (applied && late) this.log.warn(`saga ${event.correlationId} ${stepPath}: step ${name} ${detail}`);
    await this.stepEvent(event, stepPath, index, name, 'completed', detail, '', usage);
    const now = await this.read(event.correlationId, stepPath);
    if (now?.status === 'running' && phase === 'timed-out')
      await this.compensate(event, stepPath, `step ${name} missed its deadline of ${now.steps[index].deadlineMs} ms`);
    else if (now?.status === 'running' && index + 1 < now.steps.length) await this.runStep(event, stepPath, index + 1);
    else if (now?.status === 'running') await this.finishCompleted(event, stepPath, now);
    else if (now?.status === 'compensating') await this.compensateNext(event, stepPath);
    else if (now?.status === 'completed') await this.finishCompleted(event, stepPath, now); // a redelivery
  }

  /**
   * An action that completed after its outcome was given up as unknown (and compensated
   * anyway): its compensation may have run before its effect. Not undone again — recorded in the
   * timeline and logged as an error, once, for an operator to check.
   */
  private async completedAfterGivenUp(
    { event, taskId, stepPath, index, name }: ResultOf,
    phase: string,
    usage: TaskUsage | undefined,
  ) {
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, []);
    if (!applied) return; // a duplicate of a result already recorded
    const detail = `done after it was given up as unknown (now ${phase}): its compensation may have run first — check`;
    this.log.error(`saga ${event.correlationId} ${stepPath}: step ${name} ${detail}`);
    await this.stepEvent(event, stepPath, index, name, 'completed', detail, 'after-given-up', usage);
  }

  /** A compensation's result: a success undoes the next step; a failure is retried, then fails the saga. */
  private async onCompensationResult(step: ResultOf, saga: SagaLog, result: TaskResult): Promise<void> {
    const { event, taskId, stepPath, index, name } = step;
    const phase = saga.phases[index];
    if (result.error !== undefined) {
      if (phase === 'compensating') await this.onCompensationFailed(step, saga, result.error, result.attempt);
      return;
    }
    if (phase !== 'compensating' && phase !== 'compensated') return; // 'compensated': a redelivery
    const key = logKey(event.correlationId, stepPath);
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, [
      { op: 'hset', key, field: `phase:${index}`, value: 'compensated' },
      { op: 'rpush', key: `${key}:compensated`, value: name },
    ]);
    if (applied) this.log.log(`saga ${event.correlationId} ${stepPath}: step ${name} compensated`);
    await this.stepEvent(event, stepPath, index, name, 'compensated', 'undone', '', result.usage);
    await this.compensateNext(event, stepPath);
  }

  /** Retried after a backoff (a delayed message on `timers`) while attempts remain; then the saga fails. */
  private async onCompensationFailed(
    { event, taskId, stepPath, index, name }: ResultOf,
    saga: SagaLog,
    error: string,
    attempt: number,
  ): Promise<void> {
    if (attempt !== saga.compensationAttempts[index] && attempt + 1 !== saga.compensationAttempts[index]) return;
    const policy = this.settings.compensationRetry;
    if (!mayRetry(policy, attempt)) return this.failSaga(event, stepPath, name, attempt, error);
    const delayMs = backoffDelayMs(policy, attempt);
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}:${attempt}`, [
      {
        op: 'hset',
        key: logKey(event.correlationId, stepPath),
        field: `compensation-attempt:${index}`,
        value: `${attempt + 1}`,
      },
    ]);
    const detail = `attempt ${attempt} of ${policy.attempts} failed (${error}); retry in ${delayMs} ms`;
    if (applied) this.log.warn(`saga ${event.correlationId} ${stepPath}: compensation of ${name} ${detail}`);
    await this.stepEvent(event, stepPath, index, name, 'compensating', detail, `${attempt + 1}`);
    await this.publisher.publish(
      Topics.timers,
      SagaCompensationRetryV1,
      { stepPath, index, attempt: attempt + 1 },
      { correlationId: event.correlationId, causedBy: event, deliverAfterMs: delayMs },
    );
  }

  /** A compensation failed its last attempt: the saga stops undoing and names what is left, for an operator. */
  private async failSaga(
    cause: EventEnvelope,
    stepPath: string,
    name: string,
    attempts: number,
    error: string,
  ): Promise<void> {
    const workflowId = cause.correlationId;
    const saga = await this.read(workflowId, stepPath);
    if (!saga) return;
    const left = leftToUndo(saga);
    const reason =
      `compensation of ${name} failed ${attempts} time(s), last: ${error}; ` +
      `left to undo: ${left.join(', ')} — an operator must undo them`;
    const key = logKey(workflowId, stepPath);
    const ended = await this.end(cause, stepPath, 'failed', [
      { op: 'hset', key, field: 'failure', value: reason },
      { op: 'hset', key, field: 'left-to-undo', value: JSON.stringify(left) },
    ]);
    if (!ended) return;
    this.log.error(`saga ${workflowId} ${stepPath}: ${reason}`);
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaFailedV1,
      { stepPath, reason, leftToUndo: left },
      this.announced(cause, stepPath, 'end'),
    );
  }

  private async runStep(cause: EventEnvelope, stepPath: string, index: number): Promise<void> {
    const workflowId = cause.correlationId;
    const saga = await this.read(workflowId, stepPath);
    if (!saga || saga.status !== 'running') return;
    const step = saga.steps[index];
    const { applied } = await this.state.applyOnce(`saga:run:${workflowId}:${stepPath}:${index}`, [
      { op: 'hset', key: logKey(workflowId, stepPath), field: `phase:${index}`, value: 'running' },
    ]);
    // Re-published on a redelivery while the step has no result yet; the task id is stable.
    if (!applied && (await this.read(workflowId, stepPath))?.phases[index] !== 'running') return;
    await this.assign(cause, stepPath, index, step.action, 'action', 1);
    await this.publisher.publish(
      Topics.timers,
      SagaDeadlineV1,
      { stepPath, index, deadlineMs: step.deadlineMs },
      { correlationId: workflowId, causedBy: cause, deliverAfterMs: step.deadlineMs },
    );
    await this.stepEvent(
      cause,
      stepPath,
      index,
      step.name,
      'started',
      `${step.action.skill}, deadline ${step.deadlineMs} ms`,
    );
  }

  private async compensate(cause: EventEnvelope, stepPath: string, reason: string): Promise<void> {
    const workflowId = cause.correlationId;
    const key = logKey(workflowId, stepPath);
    const { applied } = await this.state.applyOnce(`saga:compensate:${workflowId}:${stepPath}`, [
      { op: 'hset', key, field: 'status', value: 'compensating' },
      { op: 'hset', key, field: 'reason', value: reason },
    ]);
    if (applied) this.log.warn(`saga ${workflowId} ${stepPath}: compensating (${reason})`);
    await this.compensateNext(cause, stepPath);
  }

  /**
   * Undoes the latest step that took effect and is not undone yet — one at a time, in reverse
   * order; an action still out holds the walk until it reports (or its wait expires).
   */
  private async compensateNext(cause: EventEnvelope, stepPath: string): Promise<void> {
    const workflowId = cause.correlationId;
    const saga = await this.read(workflowId, stepPath);
    if (saga?.status === 'compensated') return this.finishCompensated(cause, stepPath, saga); // a redelivery
    if (saga?.status !== 'compensating') return;
    const next = undoNext(saga);
    if (next.kind === 'done') return this.finishCompensated(cause, stepPath, saga);
    if (next.kind === 'wait') return;
    const { index } = next;
    const compensation = saga.steps[index].compensation;
    if (next.kind === 'in-flight') {
      // Re-published after a crash or on a redelivery; the task id is stable, its effect happens once.
      return this.assign(cause, stepPath, index, compensation, 'compensation', saga.compensationAttempts[index] || 1);
    }
    const { applied } = await this.state.applyOnce(`saga:undo:${workflowId}:${stepPath}:${index}`, [
      { op: 'hset', key: logKey(workflowId, stepPath), field: `phase:${index}`, value: 'compensating' },
      { op: 'hset', key: logKey(workflowId, stepPath), field: `compensation-attempt:${index}`, value: '1' },
    ]);
    const unknown = saga.phases[index] === 'unknown' ? ' (its action never reported: undone anyway)' : '';
    if (applied) this.log.warn(`saga ${workflowId} ${stepPath}: undoing ${saga.steps[index].name}${unknown}`);
    const name = saga.steps[index].name;
    await this.stepEvent(cause, stepPath, index, name, 'compensating', `${compensation.skill}${unknown}`, '1');
    await this.assign(cause, stepPath, index, compensation, 'compensation', 1);
  }

  private async finishCompleted(cause: EventEnvelope, stepPath: string, saga: SagaLog): Promise<void> {
    const workflowId = cause.correlationId;
    if (!(await this.end(cause, stepPath, 'completed'))) return;
    const raw = await this.state.hgetall(logKey(workflowId, stepPath));
    const outputs = Object.fromEntries(
      saga.steps.map((s, i) => [s.name, JSON.parse(raw[`output:${i}`] ?? '{}') as unknown]),
    );
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaCompletedV1,
      { stepPath, outputs },
      this.announced(cause, stepPath, 'end'),
    );
  }

  private async finishCompensated(cause: EventEnvelope, stepPath: string, saga: SagaLog): Promise<void> {
    const workflowId = cause.correlationId;
    if (!(await this.end(cause, stepPath, 'compensated'))) return;
    const compensated = await this.state.lrange(`${logKey(workflowId, stepPath)}:compensated`, 0, -1);
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaCompensatedV1,
      { stepPath, reason: saga.reason ?? 'compensated', compensated },
      this.announced(cause, stepPath, 'end'),
    );
  }

  /**
   * Ends the saga once, recording which event ended it: true if `cause` did — now, or before
   * (a redelivery after a crash between the write and the announcement, which then goes out again).
   */
  private async end(
    cause: EventEnvelope,
    stepPath: string,
    status: 'completed' | 'compensated' | 'failed',
    also: readonly StateOp[] = [],
  ): Promise<boolean> {
    const key = logKey(cause.correlationId, stepPath);
    const { applied } = await this.state.applyOnce(`saga:end:${cause.correlationId}:${stepPath}`, [
      { op: 'hset', key, field: 'status', value: status },
      { op: 'hset', key, field: 'ended-by', value: cause.id },
      ...also,
      // Ended: its log lives on for the retention period only.
      ...expireOps([key, `${key}:compensated`], this.retentionMs),
    ]);
    return applied || (await this.state.hget(key, 'ended-by')) === cause.id;
  }

  /**
   * Publish options of an announcement: its id is derived from what it announces, so one
   * re-published (a redelivery, a crash before the ack) is the same event, recorded once.
   */
  private announced(cause: EventEnvelope, stepPath: string, what: string) {
    return {
      correlationId: cause.correlationId,
      causedBy: cause,
      id: announcementId(cause.correlationId, stepPath, what),
    };
  }

  /** A step's action or compensation as a task; its id is stable (`…:saga:<index>:<role>`), the skill's idempotency key. */
  private async assign(
    cause: EventEnvelope,
    stepPath: string,
    index: number,
    action: SagaActionSpec,
    role: 'action' | 'compensation',
    attempt: number,
  ): Promise<void> {
    const workflowId = cause.correlationId;
    await this.publisher.publish(
      Topics.tasks(action.skill),
      TaskAssignedV1,
      {
        taskId: sagaTaskId(workflowId, stepPath, index, role),
        branchIndex: index,
        branchCount: 1,
        skill: action.skill,
        input: action.input,
        params: action.params,
        stepPath,
        attempt,
        replyTopic: Topics.sagaTaskResults,
      },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  /**
   * A step's change for the timeline; `tag` tells apart announcements of one phase (a deadline's
   * failure, a result's). `usage`: what the result that made the change used, for the budget.
   */
  private async stepEvent(
    cause: EventEnvelope,
    stepPath: string,
    index: number,
    name: string,
    phase: StepEventPhase,
    detail: string,
    tag = '',
    usage?: TaskUsage,
  ): Promise<void> {
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaStepEventV1,
      { stepPath, index, name, phase, detail, usage },
      this.announced(cause, stepPath, `${index}:${phase}:${tag}`),
    );
  }

  private async read(workflowId: string, stepPath: string): Promise<SagaLog | undefined> {
    return parseLog(await this.state.hgetall(logKey(workflowId, stepPath)));
  }
}
