import { Logger } from '@nestjs/common';
import {
  lineage,
  parentOf,
  ROOT,
  stepAt,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  Topics,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowCompensatedV1,
  WorkflowCancelledV1,
  type EventEnvelope,
  type StepKind,
  type StepOf,
  type StepSpec,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateOp } from '@agent-mesh/state';
import { entriesOf, WorkflowEvents, type Cause, type EventPublisher, type Outgoing } from './outgoing';
import { Plan } from './plan';
import type { StartAt, StepFlow, StepUnit, StepUnits } from './step-unit';
import { branchTask, createStepUnits, marketAsk } from './steps';
import type { BeginOrigin, StepRecord, WorkflowSnapshot, WorkflowState, WorkflowStatus } from './workflow-state';

export type { Cause } from './outgoing';
/** What starts a workflow: workflow.submitted (or .requested), or its id, time and trace fixed before it is published. */
export type BeginCause = Pick<EventEnvelope, 'id' | 'traceparent' | 'occurredAt'>;

/** What a finishing step's state says about an event that would finish it. */
type Transition = 'apply' | 'replay' | 'ignore';

type WorkflowOutcome =
  | { readonly result: Record<string, unknown> }
  | { readonly reason: string; readonly status: 'failed' | 'compensated' | 'cancelled' };

const isLive = (status: WorkflowStatus | undefined): boolean => status === 'running' || status === 'accepted';

/**
 * Runs workflow specs as a chain of events. Starting a step publishes the work for it (each
 * kind's unit in steps/ says what). When a step ends — its task's result, the aggregator's
 * join, the saga's end — the handler of that event records the end and advances the parent at
 * once: the parent's unit decides (a chain starts its next stage, a supervisor rolls up when
 * its children are done), the root's end finishes the workflow, and a failure fails each
 * parent up to the workflow. `step.started`, `step.completed` and `step.failed` are published
 * for observers, off that path; their timeline entries are written with the state they announce.
 *
 * Each handler decides first, into a Plan, and then commits it: one atomic write of every
 * transition it makes (the next recorded only if the one before is), then the publishes.
 * Transitions are recorded once per (step, attempt), and each records the event that made it
 * (`startedBy`, `endedBy`): a redelivered event (its handler crashed half-way) recognises its
 * own transitions and carries them on, re-publishing at most duplicates; any other late or
 * duplicate event finds the step ended and changes nothing.
 */
export class WorkflowEngine implements StepFlow {
  private readonly log = new Logger('WorkflowEngine');
  private readonly units: StepUnits;

  constructor(
    private readonly workflows: WorkflowState,
    private readonly publisher: EventPublisher,
    skills: SkillRegistry,
  ) {
    this.units = createStepUnits({ workflows, skills, flow: this, outputSkill: (step) => this.outputSkill(step) });
  }

  /**
   * Starts a workflow: its root step and the work under it. `origin` 'submit' is the process
   * that accepted it over HTTP, starting it before `workflow.submitted` comes back (with that
   * event's id as the cause, so either begin sees the other's transitions as its own); once
   * everything it published is out it says so (markAnnounced). A begin by the event's handler
   * after that does nothing — it would re-publish the tasks. Resolves 'submitter-pending' when
   * the submitting process began it less than `waitForSubmitterMs` ago and has not finished:
   * the handler leaves the event for later rather than duplicate the work. Past that, the
   * submitter is taken for dead and this begin carries its start on, as a redelivery would
   * (its transitions are recorded; re-publishing at most duplicates).
   */
  async begin(
    workflowId: string,
    spec: WorkflowSpec,
    cause: BeginCause,
    options: { readonly origin?: BeginOrigin; readonly waitForSubmitterMs?: number } = {},
  ): Promise<'begun' | 'submitter-pending'> {
    const origin = options.origin ?? 'event';
    const state = await this.workflows.begin(workflowId, spec, cause.occurredAt, origin);
    if (!state.runnable) return 'begun';
    // workflow.submitted reached another orchestrator before this process began it: that begin
    // owns the start (a redelivery carries it on); starting here too would publish its work twice.
    if (origin === 'submit' && state.firstBegun === 'event') return 'begun';
    if (origin === 'event' && state.submitter) {
      if (state.submitter.announced) return 'begun';
      if (Date.now() - state.submitter.at < (options.waitForSubmitterMs ?? 0)) return 'submitter-pending';
      this.log.warn(
        `workflow ${workflowId}: the process that accepted it did not finish starting it; starting it from workflow.submitted`,
      );
    }
    const plan = this.plan(workflowId, spec, cause, { status: 'accepted', steps: new Map() });
    await this.start({ plan, path: ROOT, attempt: 1 }, [], this.workflows.runningOps(workflowId));
    await this.commit(plan);
    if (origin === 'submit') await this.workflows.markAnnounced(workflowId);
    return 'begun';
  }

  /**
   * A step's attempt ended well: record it and advance its parent. `snapshot` is what the
   * caller read of the step and its ancestors; read here when not given.
   */
  async completeStep(
    workflowId: string,
    path: string,
    attempt: number,
    output: Record<string, unknown>,
    cause: Cause,
    snapshot?: WorkflowSnapshot,
  ): Promise<void> {
    const plan = await this.planFor(workflowId, path, cause, snapshot);
    if (!plan) return;
    await this.complete(plan, path, attempt, output);
    await this.commit(plan);
  }

  /** A step's attempt failed: record it and fail its parent, up to the workflow. */
  async failStep(
    workflowId: string,
    path: string,
    attempt: number,
    reason: string,
    cause: Cause,
    options: { readonly compensated?: boolean; readonly snapshot?: WorkflowSnapshot } = {},
  ): Promise<void> {
    const plan = await this.planFor(workflowId, path, cause, options.snapshot);
    if (!plan) return;
    await this.fail(plan, path, attempt, reason, [], options.compensated === true);
    await this.commit(plan);
  }

  /**
   * Ends a live workflow as cancelled, with its terminal event, unless it ended first (then
   * nothing). The caller aborts a running saga first (`saga.abort`): its compensation goes on
   * after the end, and its `saga.compensated` adds no second terminal event.
   */
  async cancel(workflowId: string, reason: string, cause: Cause): Promise<void> {
    const spec = await this.workflows.spec(workflowId);
    if (!spec) return;
    const plan = this.plan(workflowId, spec, cause, { status: 'running', steps: new Map() });
    await this.finishWorkflow(plan, { reason, status: 'cancelled' });
    await this.commit(plan);
  }

  /** Whether `cause` may end this attempt of the step: it is running, or `cause` ended it before (a redelivery). */
  mayEnd(state: StepRecord | undefined, cause: Cause): boolean {
    return state !== undefined && transitionOf(state, state.attempt, cause) !== 'ignore';
  }

  /** Puts the task up for bids again; `round` counts re-pricings (the ask id says which). */
  async publishAsk(
    workflowId: string,
    path: string,
    step: StepOf<'market'>,
    round: number,
    budget: number,
    cause: Cause,
  ): Promise<void> {
    const ask = marketAsk(new WorkflowEvents(workflowId, cause, this.publisher), path, step, round, budget);
    await Promise.all([this.workflows.recordAll(workflowId, entriesOf([ask])), ask.publish()]);
  }

  /** Re-runs branches of a fan-out (the aggregator's `fanout.retry`). */
  async assignBranches(
    workflowId: string,
    step: StepOf<'fan-out'>,
    path: string,
    branches: readonly number[],
    attempt: number,
    cause: Cause,
  ): Promise<void> {
    const events = new WorkflowEvents(workflowId, cause, this.publisher);
    const tasks = branches.map((branch) => branchTask(events, step, path, branch, attempt));
    await Promise.all([this.workflows.recordAll(workflowId, entriesOf(tasks)), ...tasks.map((task) => task.publish())]);
  }

  /**
   * Decides one attempt of the step at `at.path`: its state, `step.started` and the work its
   * unit gives, written in one transition (with `also`, events announcing why it starts, such
   * as `stage.validated`, and `ops`), then the children that start with it.
   */
  async start(at: StartAt, also: readonly Outgoing[] = [], ops: readonly StateOp[] = []): Promise<void> {
    const { plan, path, attempt, previous } = at;
    const step = stepAt(plan.spec, path);
    const begun = await this.unitOf(step).start(step, at);
    const started = plan.events.event(
      Topics.workflowEvents,
      StepStartedV1,
      { stepPath: path, kind: step.kind, attempt, name: step.name },
      { stepPath: path, detail: step.kind },
    );
    const record: StepRecord = {
      path,
      kind: step.kind,
      name: step.name,
      status: 'running',
      attempt,
      previousPath: previous?.path,
      // the time of the step.started announcing it (in a rebuild, the log's)
      startedAt: started.entries?.[0]?.at ?? new Date().toISOString(),
      startedBy: plan.cause.id,
    };
    const work = begun.work ?? [];
    const announce = [...also, started];
    const write = this.workflows.startWrite(plan.workflowId, record, entriesOf([...announce, ...work]), [
      ...ops,
      ...(begun.ops ?? []),
    ]);
    // Made before: by this event (a redelivery), as a start's marker is its (step, attempt).
    plan.add({ write, work, announce, ifMadeBefore: 'replayed', record });
    if (begun.failure !== undefined) return this.fail(plan, path, attempt, begun.failure);
    for (const child of begun.children ?? [])
      await this.start({ plan, path: child.path, attempt: 1, previous: child.previous });
  }

  /** Decides a step's good end (with `also`, the events that go with it) and advances its parent. */
  async complete(
    plan: Plan,
    path: string,
    attempt: number,
    output: Record<string, unknown>,
    also: readonly Outgoing[] = [],
  ): Promise<void> {
    const state = await plan.stateOf(path);
    const transition = state ? transitionOf(state, attempt, plan.cause) : 'ignore';
    if (!state || transition === 'ignore') return; // a late result of a replaced attempt, or a duplicate
    const completed = plan.events.event(
      Topics.workflowEvents,
      StepCompletedV1,
      { stepPath: path, kind: state.kind, attempt, output },
      { stepPath: path, detail: state.kind },
    );
    this.end(plan, transition, { ...state, status: 'completed', output }, [...also, completed]);
    if (!(await this.mayAdvance(plan, transition))) return;
    const parent = parentOf(path);
    if (!parent) return this.finishWorkflow(plan, { result: output });
    const parentState = await plan.stateOf(parent.path);
    if (!parentState || transitionOf(parentState, parentState.attempt, plan.cause) === 'ignore') return;
    const parentStep = stepAt(plan.spec, parent.path);
    await this.unitOf(parentStep).childCompleted?.(parentStep, {
      plan,
      parent,
      parentState,
      childPath: path,
      attempt,
      output,
    });
  }

  /** Decides a step's failure (with `also`) and fails its parent (chains and supervisors), up to the workflow. */
  async fail(
    plan: Plan,
    path: string,
    attempt: number,
    reason: string,
    also: readonly Outgoing[] = [],
    compensated = false,
  ): Promise<void> {
    const state = await plan.stateOf(path);
    const transition = state ? transitionOf(state, attempt, plan.cause) : 'ignore';
    if (!state || transition === 'ignore') return;
    const failed = plan.events.event(
      Topics.workflowEvents,
      StepFailedV1,
      { stepPath: path, kind: state.kind, attempt, reason, compensated: compensated || undefined },
      { stepPath: path, detail: reason },
    );
    this.end(plan, transition, { ...state, status: 'failed', error: reason }, [...also, failed]);
    if (!(await this.mayAdvance(plan, transition))) return;
    const parent = parentOf(path);
    if (!parent) return this.finishWorkflow(plan, { reason, status: compensated ? 'compensated' : 'failed' });
    const parentState = await plan.stateOf(parent.path);
    if (parentState)
      await this.fail(plan, parent.path, parentState.attempt, `${path} failed: ${reason}`, [], compensated);
  }

  /** A step's end: written with what follows it and announced once written; a replayed end is announced again. */
  private end(plan: Plan, transition: Transition, ended: StepRecord, announce: readonly Outgoing[]): void {
    if (transition === 'replay') return plan.send(...announce);
    // the time of the step.completed / .failed announcing it, the last of `announce` (in a rebuild, the log's)
    const finishedAt = entriesOf(announce).at(-1)?.at ?? new Date().toISOString();
    const record: StepRecord = { ...ended, finishedAt, endedBy: plan.cause.id };
    plan.add({
      write: this.workflows.finishWrite(plan.workflowId, record, entriesOf(announce)),
      announce,
      ifMadeBefore: 'superseded',
      record,
    });
  }

  /**
   * A step's end goes up to its parent while the workflow runs — or, on a redelivery, when
   * this event is what ended the workflow (its handler stopped before announcing the end).
   */
  private async mayAdvance(plan: Plan, transition: Transition): Promise<boolean> {
    if (isLive(plan.status)) return true;
    return transition === 'replay' && (await this.workflows.finishedBy(plan.workflowId)) === plan.cause.id;
  }

  /** Ends the workflow once; a redelivery of the event that ended it announces the end again. */
  private async finishWorkflow(plan: Plan, outcome: WorkflowOutcome): Promise<void> {
    const { workflowId, cause } = plan;
    const end = await this.terminalEvent(plan, outcome);
    const at = end.entries?.[0]?.at ?? new Date().toISOString();
    plan.add({
      write: this.workflows.finishWorkflowWrite(workflowId, plan.spec, cause.id, at, outcome, entriesOf([end])),
      // The end goes out first: it is what the workflow's client waits for.
      work: [end],
      // Made before: by this event (a redelivery), or otherwise (another end won).
      ifMadeBefore: async () =>
        (await this.workflows.finishedBy(workflowId)) === cause.id ? 'replayed' : 'superseded',
      done: () =>
        'result' in outcome
          ? this.log.log(`workflow ${workflowId} completed`)
          : this.log.warn(`workflow ${workflowId} ${outcome.status}: ${outcome.reason}`),
    });
  }

  /** The one terminal event of a workflow, its type matching the status it ends with. */
  private async terminalEvent(plan: Plan, outcome: WorkflowOutcome): Promise<Outgoing> {
    const at = { stepPath: ROOT };
    if ('result' in outcome) {
      const body = await this.completedBody(plan.workflowId, plan.spec, outcome.result);
      return plan.events.event(Topics.workflowEvents, WorkflowCompletedV1, body, at);
    }
    const { reason } = outcome;
    switch (outcome.status) {
      case 'failed':
        return plan.events.event(Topics.workflowEvents, WorkflowFailedV1, { reason, failedBranches: [] }, at);
      case 'compensated':
        return plan.events.event(Topics.workflowEvents, WorkflowCompensatedV1, { reason }, at);
      case 'cancelled':
        return plan.events.event(Topics.workflowEvents, WorkflowCancelledV1, { reason }, at);
    }
  }

  private async completedBody(workflowId: string, spec: WorkflowSpec, result: Record<string, unknown>) {
    const root = spec.step;
    if (root.kind !== 'fan-out')
      return { skill: this.outputSkill(root) ?? root.kind, branchCount: 1, succeeded: 1, failed: 0, result };
    // The counts kept with the branch projection: no branch read or parsed.
    const counts = await this.workflows.branchCounts(workflowId, ROOT);
    return {
      skill: root.skill,
      branchCount: root.inputs.length,
      succeeded: counts.completed,
      failed: counts.failed,
      result,
    };
  }

  /** The skill whose shape a step's output has, if any. */
  private outputSkill(step: StepSpec): string | undefined {
    return this.unitOf(step).outputSkill?.(step);
  }

  /** The unit of a step's kind, typed for that step (the map pairs each kind with its unit). */
  private unitOf<K extends StepKind>(step: StepOf<K>): StepUnit<K> {
    return this.units[step.kind as K] as StepUnit<K>;
  }

  private plan(workflowId: string, spec: WorkflowSpec, cause: Cause, snapshot: WorkflowSnapshot): Plan {
    return new Plan(spec, new WorkflowEvents(workflowId, cause, this.publisher), this.workflows, snapshot);
  }

  /** A plan for an event about the step at `path`: the spec and what was read of the step and its ancestors. */
  private async planFor(
    workflowId: string,
    path: string,
    cause: Cause,
    snapshot?: WorkflowSnapshot,
  ): Promise<Plan | undefined> {
    const [spec, known] = await Promise.all([
      this.workflows.spec(workflowId),
      snapshot ?? this.workflows.snapshot(workflowId, lineage(path)),
    ]);
    return spec ? this.plan(workflowId, spec, cause, known) : undefined;
  }

  private async commit(plan: Plan): Promise<void> {
    await plan.commit();
    await plan.settled();
  }
}

/**
 * What an event ending `attempt` of a step may do: `apply` while the attempt runs; `replay`
 * when this event already ended it, or restarted the step as a later attempt (a gate retry) —
 * its handler stopped half-way and the event came back; otherwise `ignore` (a late result of
 * a replaced attempt, a duplicate result, a step another event ended).
 */
function transitionOf(state: StepRecord, attempt: number, cause: Cause): Transition {
  if (state.attempt === attempt) {
    if (state.status === 'running') return 'apply';
    return state.endedBy === cause.id ? 'replay' : 'ignore';
  }
  return state.attempt > attempt && state.startedBy === cause.id ? 'replay' : 'ignore';
}
