import { Logger } from '@nestjs/common';
import {
  lineage,
  parentOf,
  ROOT,
  SagaAbortV1,
  stepAt,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  Topics,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  WorkflowCompensatedV1,
  WorkflowCancelledV1,
  WorkflowTimedOutV1,
  type EventEnvelope,
  type WorkflowDeadline,
  type StepKind,
  type StepOf,
  type StepSpec,
  type TaskUsage,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateOp } from '@agent-mesh/state';
import { deadlineAtOf, deadlineExceeded, deadlineTimer, tighterOf } from './deadlines';
import { entriesOf, WorkflowEvents, type Cause, type EventPublisher, type Outgoing } from './outgoing';
import { Plan } from './plan';
import type { StartAt, StepFlow, StepUnit, StepUnits } from './step-unit';
import { branchesTimedOut, branchesTimer, branchRetryDelayMs, branchTask, createStepUnits, marketAsk } from './steps';
import { budgetProblem } from './usage';
import type { BeginOrigin, StepRecord, WorkflowSnapshot, WorkflowState, WorkflowStatus } from './workflow-state';

export type { Cause } from './outgoing';
/** What starts a workflow: workflow.submitted (or .requested), or its id, time and trace fixed before it is published. */
export type BeginCause = Pick<EventEnvelope, 'id' | 'traceparent' | 'occurredAt'>;

/** What a finishing step's state says about an event that would finish it. */
type Transition = 'apply' | 'replay' | 'ignore';

type WorkflowOutcome =
  | { readonly result: Record<string, unknown> }
  | { readonly reason: string; readonly status: 'failed' | 'compensated' | 'cancelled' }
  | { readonly reason: string; readonly status: 'timed-out'; readonly stepPath: string };

const isLive = (status: WorkflowStatus | undefined): boolean => status === 'running' || status === 'accepted';

/** What the engine is configured with. */
export interface WorkflowEngineOptions {
  /** The deadline of a workflow whose spec declares none (WORKFLOW_DEADLINE_MS). */
  readonly workflowDeadlineMs: number;
  /**
   * The time deadlines count from: the wall clock live; in a rebuild from the log, the time the
   * replayed event was handled (MESH_CLOCK), so a rebuilt step has the deadline it had.
   */
  readonly now?: () => number;
}

/** One hour: the default of WORKFLOW_DEADLINE_MS. */
export const DEFAULT_ENGINE_OPTIONS: WorkflowEngineOptions = { workflowDeadlineMs: 3_600_000 };

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
    private readonly options: WorkflowEngineOptions = DEFAULT_ENGINE_OPTIONS,
  ) {
    this.units = createStepUnits({
      workflows,
      skills,
      flow: this,
      outputSkill: (step) => this.outputSkill(step),
      now: () => this.now(),
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
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
    const spec = await this.workflows.currentSpec(workflowId);
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
    attempt: number,
    cause: Cause,
  ): Promise<void> {
    const ask = marketAsk(new WorkflowEvents(workflowId, cause, this.publisher), path, step, round, budget, attempt);
    await Promise.all([this.workflows.recordAll(workflowId, entriesOf([ask])), ask.publish()]);
  }

  /**
   * Re-runs branches of a fan-out (the aggregator's `fanout.retry`) while it runs: each after
   * its retry-branch backoff (delayed delivery), with a timer when the branches' deadline is
   * tighter than the fan-out's.
   */
  async assignBranches(
    workflowId: string,
    path: string,
    branches: readonly number[],
    attempt: number,
    cause: Cause,
  ): Promise<void> {
    const [spec, snapshot] = await Promise.all([
      this.workflows.spec(workflowId, path),
      this.workflows.snapshot(workflowId, [path]),
    ]);
    const state = snapshot.steps.get(path);
    if (!spec || !isLive(snapshot.status) || state?.status !== 'running') return;
    const spent = await this.budgetSpent(workflowId, spec);
    if (spent !== undefined) return this.failStep(workflowId, path, state.attempt, spent, cause, { snapshot });
    const step = stepAt(spec, path, 'fan-out');
    const delayMs = branchRetryDelayMs(step, attempt);
    const events = new WorkflowEvents(workflowId, cause, this.publisher);
    const tasks = branches.map((branch) => branchTask(events, step, path, branch, attempt, delayMs));
    const timers = branchesTimer(events, step, path, branches, attempt, deadlineAtOf(state), this.now(), delayMs);
    await Promise.all([
      this.workflows.recordAll(workflowId, entriesOf(tasks)),
      ...[...tasks, ...timers].map((out) => out.publish()),
    ]);
  }

  /**
   * Decides one attempt of the step at `at.path`: its state, `step.started` and the work its
   * unit gives, written in one transition (with `also`, events announcing why it starts, such
   * as `stage.validated`, and `ops`), then the children that start with it.
   */
  async start(at: StartAt, also: readonly Outgoing[] = [], ops: readonly StateOp[] = []): Promise<void> {
    const { plan, path, attempt, previous } = at;
    const step = stepAt(plan.spec, path);
    const started = plan.events.event(
      Topics.workflowEvents,
      StepStartedV1,
      { stepPath: path, kind: step.kind, attempt, name: step.name },
      { stepPath: path, detail: step.kind },
    );
    // the time of the step.started announcing it (in a rebuild, the log's): its deadline counts from it
    const startedAt = started.entries?.[0]?.at ?? new Date(this.now()).toISOString();
    const deadline = await this.deadlineOf(at, step, Date.parse(startedAt));
    const begun = await this.unitOf(step).start(step, { ...at, deadlineAt: deadline.at });
    // A step that would send work once the budget is spent fails instead, sending nothing.
    const failure =
      begun.failure ?? (begun.work?.length ? await this.budgetSpent(plan.workflowId, plan.spec) : undefined);
    const record: StepRecord = {
      path,
      kind: step.kind,
      name: step.name,
      status: 'running',
      attempt,
      previousPath: previous?.path,
      startedAt,
      deadlineAt: deadline.at === undefined ? undefined : new Date(deadline.at).toISOString(),
      startedBy: plan.cause.id,
      awaiting: begun.awaiting,
    };
    const work = failure === undefined ? (begun.work ?? []) : [];
    const announce = [...also, started, ...deadline.timers];
    const write = this.workflows.startWrite(plan.workflowId, record, entriesOf([...announce, ...work]), [
      ...ops,
      ...(begun.ops ?? []),
    ]);
    // Made before: by this event (a redelivery), as a start's marker is its (step, attempt).
    plan.add({ write, work, announce, ifMadeBefore: 'replayed', record });
    if (failure !== undefined) return this.fail(plan, path, attempt, failure);
    for (const child of begun.children ?? [])
      await this.start({ plan, path: child.path, attempt: 1, previous: child.previous });
  }

  /** Why no more work may go out on the workflow's budget (it is all used), if it has one. */
  private async budgetSpent(workflowId: string, spec: WorkflowSpec): Promise<string | undefined> {
    if (!spec.budget) return undefined;
    return budgetProblem(spec.budget, await this.workflows.workflowUsage(workflowId), true);
  }

  /**
   * A task's result reported usage: it is added (once per result event) to its step's and the
   * workflow's. Says whether this event's usage was counted now (not before), and the reason
   * the step must fail when the workflow is now over its budget.
   */
  async charge(
    workflowId: string,
    stepPath: string,
    usage: TaskUsage,
    cause: Cause,
  ): Promise<{ readonly counted: boolean; readonly overBudget?: string }> {
    const [spec, counted] = await Promise.all([
      this.workflows.spec(workflowId),
      this.workflows.addUsage(workflowId, stepPath, usage, cause.id),
    ]);
    if (!spec?.budget) return { counted };
    return { counted, overBudget: budgetProblem(spec.budget, await this.workflows.workflowUsage(workflowId)) };
  }

  /**
   * The deadline that applies to a starting step — the workflow's for the root, else its
   * parent's, or the step's own when tighter — and the timers that go with it: the workflow's
   * with its root, the step's own only when it is tighter (no message per step otherwise).
   */
  private async deadlineOf(
    { plan, path, attempt, delayMs = 0 }: StartAt,
    step: StepSpec,
    now: number,
  ): Promise<{ readonly at: number | undefined; readonly timers: Outgoing[] }> {
    const timers: Outgoing[] = [];
    const parent = parentOf(path);
    let bound: number | undefined;
    if (parent) bound = deadlineAtOf(await plan.stateOf(parent.path));
    // A later attempt of the root (a market step re-opened): the workflow's timer went out with the first.
    else if (attempt === 1) {
      const deadlineMs = plan.spec.deadlineMs ?? this.options.workflowDeadlineMs;
      bound = now + deadlineMs;
      timers.push(
        deadlineTimer(plan.events, { scope: 'workflow', stepPath: ROOT, attempt: 1, deadlineMs }, deadlineMs),
      );
    }
    const applies = tighterOf(bound, now + delayMs, step.deadlineMs);
    if (applies.own && step.deadlineMs !== undefined) {
      const deadline = { scope: 'step' as const, stepPath: path, attempt, deadlineMs: step.deadlineMs };
      timers.push(deadlineTimer(plan.events, deadline, delayMs + step.deadlineMs));
    }
    return { at: applies.at, timers };
  }

  /**
   * A deadline delivered (`workflow.deadline`): if what it bounds still runs, the workflow
   * ends `timed-out`, the step fails (or its unit's `expire` runs its own failure path), or
   * the branches still without a result fail. Anything that ended in time makes it a no-op.
   */
  async expire(workflowId: string, deadline: WorkflowDeadline, cause: Cause): Promise<void> {
    if (deadline.scope === 'workflow') return this.timeOut(workflowId, deadline.deadlineMs, cause);
    const plan = await this.planFor(workflowId, deadline.stepPath, cause);
    if (!plan) return;
    if (deadline.scope === 'branches') return this.expireBranches(plan, deadline);
    const { stepPath: path, attempt } = deadline;
    const state = await plan.stateOf(path);
    const reason = deadlineExceeded(deadline.deadlineMs);
    const step = stepAt(plan.spec, path);
    if (state?.status === 'running' && state.attempt === attempt && isLive(plan.status)) {
      const instead = await this.unitOf(step).expire?.(step, { plan, path, attempt, reason });
      if (instead) {
        plan.send(...instead);
        return this.commit(plan);
      }
    }
    await this.fail(plan, path, attempt, reason);
    await this.commit(plan);
  }

  /**
   * Branches of a running fan-out past their deadline: each still without a result of this
   * attempt gets a `task.failed` (reason: deadline exceeded) under its task's own id, on
   * `task.results` — the aggregator counts it as it counts any failed branch (its policy
   * decides), and the real result, should it come, is the task's second and counts nothing.
   */
  private async expireBranches(plan: Plan, deadline: WorkflowDeadline): Promise<void> {
    const { stepPath: path, attempt, branches = [] } = deadline;
    const state = await plan.stateOf(path);
    if (state?.status !== 'running' || !isLive(plan.status)) return;
    const projected = await this.workflows.projectedAttempts(plan.workflowId, path, branches);
    const due = branches.filter((_, i) => (projected[i] ?? 0) < attempt);
    const step = stepAt(plan.spec, path, 'fan-out');
    plan.send(...branchesTimedOut(plan.events, step, path, due, attempt, deadlineExceeded(deadline.deadlineMs)));
    await plan.settled();
  }

  /**
   * The workflow's deadline: a live workflow ends `timed-out`, naming the deepest step still
   * running, with its terminal event; running sagas are aborted (they compensate). Results
   * still out come late and change nothing.
   */
  private async timeOut(workflowId: string, deadlineMs: number, cause: Cause): Promise<void> {
    const [spec, status] = await Promise.all([
      this.workflows.currentSpec(workflowId),
      this.workflows.status(workflowId),
    ]);
    if (!spec) return;
    // Ended in time — unless by this timer (a redelivery: its end is announced again).
    if (!isLive(status) && (await this.workflows.finishedBy(workflowId)) !== cause.id) return;
    const plan = this.plan(workflowId, spec, cause, { status: 'running', steps: new Map() });
    const outcome = await this.timedOut(workflowId, deadlineMs);
    const aborts = outcome.sagas.map((path) =>
      plan.events.command(Topics.sagaCommands, SagaAbortV1, { stepPath: path, reason: outcome.reason }),
    );
    await this.finishWorkflow(plan, outcome, aborts);
    await this.commit(plan);
  }

  /** Why a workflow timed out: the deepest step still running (the one that held it up), and its running sagas. */
  private async timedOut(workflowId: string, deadlineMs: number) {
    const running = (await this.workflows.steps(workflowId)).filter((s) => s.status === 'running');
    const depth = (path: string) => path.split('.').length;
    const held = running.reduce<(typeof running)[number] | undefined>(
      (deepest, s) => (!deepest || depth(s.path) > depth(deepest.path) ? s : deepest),
      undefined,
    );
    const what = held ? `: ${held.path} (${held.name ?? held.kind}) was still running` : '';
    return {
      status: 'timed-out' as const,
      reason: `workflow ${deadlineExceeded(deadlineMs)}${what}`,
      stepPath: held?.path ?? ROOT,
      sagas: running.filter((s) => s.kind === 'saga').map((s) => s.path),
    };
  }

  /**
   * Whether an event ending (this attempt of) the step at `path` comes late: the step, this
   * attempt, or the workflow ended before it. It then changes nothing; its timeline entry says so.
   */
  isLate(snapshot: WorkflowSnapshot, path: string, attempt: number | undefined, cause: Cause): boolean {
    const state = snapshot.steps.get(path);
    if (!state) return !isLive(snapshot.status) && snapshot.status !== undefined;
    const transition = transitionOf(state, attempt ?? state.attempt, cause);
    return transition === 'ignore' || (transition === 'apply' && !isLive(snapshot.status));
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
    // A late result of a replaced attempt, a duplicate, or a result after the workflow ended.
    if (!state || transition === 'ignore' || (transition === 'apply' && !isLive(plan.status))) return;
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
    if (!state || transition === 'ignore' || (transition === 'apply' && !isLive(plan.status))) return;
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

  /**
   * Ends the workflow once, with `also` (work it cancels: saga aborts) after its terminal
   * event; a redelivery of the event that ended it announces the end again.
   */
  private async finishWorkflow(plan: Plan, outcome: WorkflowOutcome, also: readonly Outgoing[] = []): Promise<void> {
    const { workflowId, cause } = plan;
    const end = await this.terminalEvent(plan, outcome);
    const at = end.entries?.[0]?.at ?? new Date().toISOString();
    plan.add({
      write: this.workflows.finishWorkflowWrite(workflowId, plan.spec, cause.id, at, outcome, entriesOf([end])),
      // The end goes out first: it is what the workflow's client waits for.
      work: [end, ...also],
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
      case 'timed-out':
        return plan.events.event(Topics.workflowEvents, WorkflowTimedOutV1, { reason, stepPath: outcome.stepPath }, at);
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
      this.workflows.spec(workflowId, path),
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
