import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  SagaAbortV1,
  SagaCompensatedV1,
  SagaCompletedV1,
  SagaDeadlineV1,
  SagaFailedV1,
  SagaStartV1,
  SagaStepEventV1,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  STEP_PATH_FRAGMENT,
  Topics,
  type EventEnvelope,
  type SagaAbort,
  type SagaActionSpec,
  type SagaDeadline,
  type SagaStart,
  type SagaStepItemSpec,
  type TaskCompleted,
  type TaskFailed,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent, type MeshSubscriptionOptions } from '@agent-mesh/nest-pulsar';
import { STATE_STORE } from '@agent-mesh/runtime';
import type { StateStore } from '@agent-mesh/state';

type StepPhase = 'pending' | 'running' | 'completed' | 'failed' | 'timed-out' | 'compensating' | 'compensated';
type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';

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
const logKey = (workflowId: string, path: string) => `saga:${workflowId}:${path}`;
const TASK_ID = new RegExp(String.raw`^(.+):(${STEP_PATH_FRAGMENT}):saga:(\d+):(action|compensation)$`);

/** A saga task's result, from task.completed or task.failed. */
interface TaskResult {
  readonly output?: Record<string, unknown>;
  readonly error?: string;
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

interface SagaLog {
  readonly status: SagaStatus;
  readonly steps: SagaStepItemSpec[];
  readonly phases: StepPhase[];
  readonly reason?: string;
}

/**
 * The saga-coordinator role. A saga's log (Redis, keyed by workflow and step) says which steps
 * ran, failed or were undone; every change to it is made once per event, so a coordinator that
 * restarts picks up where the last one stopped from the events still unacknowledged. Each step
 * runs as a task with a deadline delivered late on `timers`; on a failure, a missed deadline or
 * an abort, the completed steps are compensated one at a time in reverse order. Steps and
 * compensations reply on `task.results.saga`, which only the coordinator consumes.
 */
@Controller()
export class SagaCoordinatorController {
  private readonly log = new Logger('SagaCoordinator');
  private readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) private readonly state: StateStore,
  ) {
    this.publisher = publisher.as('saga-coordinator');
  }

  @OnMeshEvent(SagaStartV1, { topic: Topics.sagaCommands, subscription: SUBSCRIPTION, type: 'Key_Shared' })
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

  @OnMeshEvent(SagaAbortV1, { topic: Topics.sagaCommands, subscription: SUBSCRIPTION, type: 'Key_Shared' })
  async onAbort(@Payload() event: EventEnvelope<SagaAbort>): Promise<void> {
    const saga = await this.read(event.correlationId, event.data.stepPath);
    if (saga?.status === 'running') await this.compensate(event, event.data.stepPath, `aborted: ${event.data.reason}`);
  }

  @OnMeshEvent(SagaDeadlineV1, { topic: Topics.timers, subscription: SUBSCRIPTION, type: 'Shared' })
  async onDeadline(@Payload() event: EventEnvelope<SagaDeadline>): Promise<void> {
    const { stepPath, index, deadlineMs } = event.data;
    const saga = await this.read(event.correlationId, stepPath);
    if (!saga) return;
    const reason = `step ${saga.steps[index].name} missed its deadline of ${deadlineMs} ms`;
    if (saga.status === 'running' && saga.phases[index] === 'running') {
      const { applied } = await this.state.applyOnce(`saga:deadline:${event.correlationId}:${stepPath}:${index}`, [
        { op: 'hset', key: logKey(event.correlationId, stepPath), field: `phase:${index}`, value: 'timed-out' },
      ]);
      if (applied) await this.stepEvent(event, stepPath, index, saga.steps[index].name, 'failed', reason);
    } else if (saga.phases[index] !== 'timed-out') {
      return; // finished in time
    }
    // Timed out, now or by an earlier delivery whose handler failed before the compensation was under way.
    if (saga.status === 'running' || saga.status === 'compensating') await this.compensate(event, stepPath, reason);
  }

  @OnMeshEvent(TaskCompletedV1, RESULTS)
  async onTaskCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    await this.onResult(event, event.data.taskId, { output: event.data.output });
  }

  @OnMeshEvent(TaskFailedV1, RESULTS)
  async onTaskFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    await this.onResult(event, event.data.taskId, { error: event.data.error });
  }

  private async onResult(event: EventEnvelope, taskId: string, result: TaskResult): Promise<void> {
    const match = TASK_ID.exec(taskId);
    if (!match) return; // not a saga's task (a defence: only saga tasks name this reply topic)
    const [, workflowId, stepPath, indexText, role] = match;
    const index = Number(indexText);
    const saga = await this.read(workflowId, stepPath);
    if (!saga) return;
    const step: ResultOf = { event, taskId, workflowId, stepPath, index, name: saga.steps[index].name };
    if (role === 'action') await this.onActionResult(step, saga, result);
    else await this.onCompensationResult(step, result);
  }

  /** An action's result: a failure undoes the saga; a success runs the next step, or finishes it. */
  private async onActionResult(
    { event, taskId, workflowId, stepPath, index, name }: ResultOf,
    saga: SagaLog,
    result: TaskResult,
  ): Promise<void> {
    const key = logKey(workflowId, stepPath);
    if (result.error !== undefined) {
      const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, [
        { op: 'hset', key, field: `phase:${index}`, value: 'failed' },
      ]);
      if (applied) await this.stepEvent(event, stepPath, index, name, 'failed', result.error);
      // Compensating already: this event's handler (or another's) set it off; carrying it on is safe.
      if (saga.status === 'running' || saga.status === 'compensating')
        await this.compensate(event, stepPath, `step ${name} failed: ${result.error}`);
      return;
    }
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, [
      { op: 'hset', key, field: `phase:${index}`, value: 'completed' },
      { op: 'hset', key, field: `output:${index}`, value: JSON.stringify(result.output ?? {}) },
    ]);
    if (applied) await this.stepEvent(event, stepPath, index, name, 'completed', 'done');
    const now = await this.read(workflowId, stepPath);
    if (now?.status === 'running' || (now?.status === 'completed' && index + 1 === now.steps.length)) {
      if (index + 1 < now.steps.length) await this.runStep(event, stepPath, index + 1);
      else await this.finishCompleted(event, stepPath, now); // completed: announced again by a redelivery
    } else if (now?.status === 'compensating') {
      // Finished after its deadline, while the saga is being undone: undo it too.
      await this.compensateNext(event, stepPath);
    }
  }

  /** A compensation's result: a failure fails the saga (it cannot undo itself); a success undoes the next step. */
  private async onCompensationResult(
    { event, taskId, workflowId, stepPath, index, name }: ResultOf,
    result: TaskResult,
  ): Promise<void> {
    const key = logKey(workflowId, stepPath);
    if (result.error !== undefined) {
      if (await this.end(event, workflowId, stepPath, `saga:result:${taskId}`, 'failed')) {
        const reason = `compensation of ${name} failed: ${result.error}; the saga cannot undo itself`;
        this.log.error(`saga ${workflowId} ${stepPath}: ${reason}`);
        await this.publisher.publish(
          Topics.sagaEvents,
          SagaFailedV1,
          { stepPath, reason },
          { correlationId: workflowId, causedBy: event },
        );
      }
      return;
    }
    const { applied } = await this.state.applyOnce(`saga:result:${taskId}`, [
      { op: 'hset', key, field: `phase:${index}`, value: 'compensated' },
      { op: 'rpush', key: `${key}:compensated`, value: name },
    ]);
    if (applied) await this.stepEvent(event, stepPath, index, name, 'compensated', 'undone');
    await this.compensateNext(event, stepPath);
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
    await this.assign(cause, stepPath, index, step.action, 'action');
    await this.publisher.publish(
      Topics.timers,
      SagaDeadlineV1,
      { stepPath, index, deadlineMs: step.deadlineMs },
      { correlationId: workflowId, causedBy: cause, deliverAfterMs: step.deadlineMs },
    );
    if (applied)
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

  /** Undoes the latest completed step not yet undone — one at a time, in reverse order. */
  private async compensateNext(cause: EventEnvelope, stepPath: string): Promise<void> {
    const workflowId = cause.correlationId;
    const saga = await this.read(workflowId, stepPath);
    // Undone already: announced again only by the event that ended it (a redelivery).
    if (saga?.status === 'compensated') return this.finishCompensated(cause, stepPath, saga);
    if (!saga || saga.status !== 'compensating') return;
    if (saga.phases.includes('compensating')) {
      // One compensation in flight: re-publish it (redelivery after a crash), never start another.
      const index = saga.phases.lastIndexOf('compensating');
      await this.assign(cause, stepPath, index, saga.steps[index].compensation, 'compensation');
      return;
    }
    const index = saga.phases.lastIndexOf('completed');
    if (index < 0) return this.finishCompensated(cause, stepPath, saga);
    const { applied } = await this.state.applyOnce(`saga:undo:${workflowId}:${stepPath}:${index}`, [
      { op: 'hset', key: logKey(workflowId, stepPath), field: `phase:${index}`, value: 'compensating' },
    ]);
    if (applied)
      await this.stepEvent(
        cause,
        stepPath,
        index,
        saga.steps[index].name,
        'compensating',
        saga.steps[index].compensation.skill,
      );
    await this.assign(cause, stepPath, index, saga.steps[index].compensation, 'compensation');
  }

  private async finishCompleted(cause: EventEnvelope, stepPath: string, saga: SagaLog): Promise<void> {
    const workflowId = cause.correlationId;
    if (!(await this.end(cause, workflowId, stepPath, `saga:done:${workflowId}:${stepPath}`, 'completed'))) return;
    const raw = await this.state.hgetall(logKey(workflowId, stepPath));
    const outputs = Object.fromEntries(
      saga.steps.map((s, i) => [s.name, JSON.parse(raw[`output:${i}`] ?? '{}') as unknown]),
    );
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaCompletedV1,
      { stepPath, outputs },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  private async finishCompensated(cause: EventEnvelope, stepPath: string, saga: SagaLog): Promise<void> {
    const workflowId = cause.correlationId;
    if (!(await this.end(cause, workflowId, stepPath, `saga:undone:${workflowId}:${stepPath}`, 'compensated'))) return;
    const compensated = await this.state.lrange(`${logKey(workflowId, stepPath)}:compensated`, 0, -1);
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaCompensatedV1,
      { stepPath, reason: saga.reason ?? 'compensated', compensated },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  /**
   * Ends the saga with `status`, once (`marker`), recording the event that ended it. True when
   * the end is this event's to announce: it made it now, or made it before and is back because
   * its handler failed before the announcement went out (written first, then published: a
   * redelivery publishes again). An end another event made is not announced twice.
   */
  private async end(
    cause: EventEnvelope,
    workflowId: string,
    stepPath: string,
    marker: string,
    status: SagaStatus,
  ): Promise<boolean> {
    const key = logKey(workflowId, stepPath);
    const { applied } = await this.state.applyOnce(marker, [
      { op: 'hset', key, field: 'status', value: status },
      { op: 'hset', key, field: 'endedBy', value: cause.id },
    ]);
    return applied || (await this.state.hget(key, 'endedBy')) === cause.id;
  }

  private async assign(
    cause: EventEnvelope,
    stepPath: string,
    index: number,
    action: SagaActionSpec,
    role: 'action' | 'compensation',
  ): Promise<void> {
    const workflowId = cause.correlationId;
    await this.publisher.publish(
      Topics.tasks(action.skill),
      TaskAssignedV1,
      {
        taskId: `${workflowId}:${stepPath}:saga:${index}:${role}`,
        branchIndex: index,
        branchCount: 1,
        skill: action.skill,
        input: action.input,
        params: action.params,
        stepPath,
        attempt: 1,
        replyTopic: Topics.sagaTaskResults,
      },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  private async stepEvent(
    cause: EventEnvelope,
    stepPath: string,
    index: number,
    name: string,
    phase: 'started' | 'completed' | 'failed' | 'compensating' | 'compensated',
    detail: string,
  ): Promise<void> {
    await this.publisher.publish(
      Topics.sagaEvents,
      SagaStepEventV1,
      { stepPath, index, name, phase, detail },
      { correlationId: cause.correlationId, causedBy: cause },
    );
  }

  private async read(workflowId: string, stepPath: string): Promise<SagaLog | undefined> {
    const raw = await this.state.hgetall(logKey(workflowId, stepPath));
    if (!raw.steps) return undefined;
    const steps = JSON.parse(raw.steps) as SagaStepItemSpec[];
    return {
      status: raw.status as SagaStatus,
      steps,
      phases: steps.map((_, i) => (raw[`phase:${i}`] ?? 'pending') as StepPhase),
      reason: raw.reason,
    };
  }
}
