import { Logger } from '@nestjs/common';
import {
  BoardEntryPostedV1,
  FanOutStartedV1,
  MarketAskV1,
  SagaStartV1,
  SolverStartV1,
  StageFailedV1,
  StageValidatedV1,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  TaskAssignedV1,
  Topics,
  uuidv7,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  type BlackboardStepSpec,
  type ChainStepSpec,
  type DocumentInput,
  type EventDefinition,
  type EventEnvelope,
  type FanOutStepSpec,
  type MarketStepSpec,
  type SagaStepSpec,
  type SolverRoundsStepSpec,
  type StepSpec,
  type SupervisorStepSpec,
  type TaskStepSpec,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import type { MeshPublisher } from '@agent-mesh/nest-pulsar';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { OnceStep, StateOp } from '@agent-mesh/state';
import { evaluateGate } from './gate';
import { fieldOf, lineage, parentOf, ROOT, stepAt } from './step-tree';
import type { BeginOrigin, StepRecord, TimelineEntry, WorkflowSnapshot, WorkflowState, WorkflowStatus } from './workflow-state';

type Cause = Pick<EventEnvelope, 'id' | 'traceparent'>;
/** What starts a workflow: workflow.submitted (or .requested), or its id, time and trace fixed before it is published. */
export type BeginCause = Pick<EventEnvelope, 'id' | 'traceparent' | 'occurredAt'>;

/** An event the engine publishes, with its timeline entry (written with the state change it announces). */
interface Outgoing {
  readonly entry?: TimelineEntry;
  readonly publish: () => Promise<unknown>;
}

/** The step whose output is a step's "previous" input, and that output when it is at hand. */
interface Previous {
  readonly path: string;
  readonly output?: Record<string, unknown>;
}

/** What a finishing step's state says about an event that would finish it. */
type Transition = 'apply' | 'replay' | 'ignore';

/**
 * The effects of handling one event on one workflow. Each publish goes out as soon as the state
 * it announces is written, without waiting for the others (a stage's task does not wait for the
 * receipt of its `step.started`); `settled()` waits for all of them, so the handler acks its
 * event — and a crash before that redelivers it — only once nothing it caused can be lost.
 */
class Run {
  private readonly sends: Promise<unknown>[] = [];
  /** Transitions made but not written yet (a step's end): they go out with the next write, in one chain. */
  private deferred: { readonly write: OnceStep; readonly events: readonly Outgoing[] }[] = [];
  /** Settles once the last chain that carried deferred transitions is written: false if one of them had been made by another event. */
  private barrier: Promise<boolean> = Promise.resolve(true);

  constructor(
    readonly workflowId: string,
    readonly spec: WorkflowSpec,
    readonly cause: Cause,
    private readonly workflows: WorkflowState,
  ) {}

  send(...events: readonly Outgoing[]): void {
    for (const event of events) this.track(event.publish());
  }

  /**
   * A step's end, written with whatever this event writes next — the next stage's start, the
   * parent's end, the workflow's end — in one atomic round trip (applyOnceChain): the next
   * transition is recorded only if this one is. `events` are published once it is written.
   */
  defer(write: OnceStep, events: readonly Outgoing[]): void {
    this.deferred.push({ write, events });
  }

  /**
   * Writes the deferred transitions and then `next`, in one chain, and publishes `lead` (the
   * work `next` sets off: a task, the workflow's end) if `next` was made now, then the deferred
   * transitions' events — the work first: it is on the workflow's critical path, the
   * announcements are for observers. Resolves whether `next` was made now (true with no `next`),
   * or null when a deferred transition had been made by another event: the handler must stop
   * there, as it did when each was written on its own.
   */
  async write(next?: OnceStep, lead: readonly Outgoing[] = []): Promise<boolean | null> {
    const deferred = this.deferred;
    this.deferred = [];
    if (deferred.length === 0) {
      // A write issued alongside a chain (a supervisor's children, a chain's first stage) waits for it.
      if (!(await this.barrier)) return null;
      if (!next) return true;
      const made = (await this.workflows.writeChain([next])) === 1;
      if (made) this.send(...lead);
      return made;
    }
    const writing = this.workflows.writeChain([...deferred.map((d) => d.write), ...(next ? [next] : [])]);
    this.barrier = writing.then((made) => made >= deferred.length).catch(() => false);
    const made = await writing;
    if (made < deferred.length) return null;
    const nextMade = next ? made === deferred.length + 1 : true;
    if (next && nextMade) this.send(...lead);
    for (const { events } of deferred) this.send(...events);
    return nextMade;
  }

  /** A publish (or a sequence of them) in flight; its failure surfaces in settled(). */
  track(sending: Promise<unknown>): void {
    sending.catch(() => undefined); // observed by settled(); not an unhandled rejection meanwhile
    this.sends.push(sending);
  }

  async settled(): Promise<void> {
    await Promise.all(this.sends);
  }
}

const isLive = (status: WorkflowStatus | undefined): boolean => status === 'running' || status === 'accepted';
const entriesOf = (events: readonly Outgoing[]): TimelineEntry[] => events.flatMap((e) => (e.entry ? [e.entry] : []));

/**
 * Runs workflow specs as a chain of events. Starting a step publishes the work for it (tasks,
 * a fan-out, the stages of a chain, the children of a supervisor). When a step ends — its
 * task's result, the aggregator's join, the saga's end — the handler of that event records the
 * end and advances the parent at once: stage N's end starts stage N+1, a supervisor finishes
 * when its children have, the root's end finishes the workflow. `step.started`,
 * `step.completed` and `step.failed` are published for observers, off that path; their timeline
 * entries are written with the state they announce.
 *
 * Transitions are recorded once per (step, attempt), and each records the event that made it
 * (`startedBy`, `endedBy`): a redelivered event (its handler crashed half-way) recognises its
 * own transitions and carries them on, re-publishing at most duplicates; any other late or
 * duplicate event finds the step ended and changes nothing.
 */
export class WorkflowEngine {
  private readonly log = new Logger('WorkflowEngine');

  constructor(
    private readonly workflows: WorkflowState,
    private readonly publisher: MeshPublisher,
    private readonly skills: SkillRegistry,
  ) {}

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
    if (origin === 'event' && state.submitter) {
      if (state.submitter.announced) return 'begun';
      if (Date.now() - state.submitter.at < (options.waitForSubmitterMs ?? 0)) return 'submitter-pending';
      this.log.warn(`workflow ${workflowId}: the process that accepted it did not finish starting it; starting it from workflow.submitted`);
    }
    const run = new Run(workflowId, spec, cause, this.workflows);
    await this.startStep(run, ROOT, 1, undefined, [], [this.workflows.runningOp(workflowId)]);
    await run.settled();
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
    const [spec, known] = await Promise.all([this.workflows.spec(workflowId), snapshot ?? this.workflows.snapshot(workflowId, lineage(path))]);
    if (!spec) return;
    const run = new Run(workflowId, spec, cause, this.workflows);
    await this.complete(run, path, attempt, output, known);
    await run.settled();
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
    const [spec, known] = await Promise.all([
      this.workflows.spec(workflowId),
      options.snapshot ?? this.workflows.snapshot(workflowId, lineage(path)),
    ]);
    if (!spec) return;
    const run = new Run(workflowId, spec, cause, this.workflows);
    await this.fail(run, path, attempt, reason, known, options.compensated === true);
    await run.settled();
  }

  /** Whether `cause` may end this attempt of the step: it is running, or `cause` ended it before (a redelivery). */
  mayEnd(state: StepRecord | undefined, cause: Cause): boolean {
    return state !== undefined && transitionOf(state, state.attempt, cause) !== 'ignore';
  }

  /** Puts the task up for bids again; `round` counts re-pricings (the ask id says which). */
  async publishAsk(workflowId: string, path: string, step: MarketStepSpec, round: number, budget: number, cause: Cause): Promise<void> {
    const ask = this.ask(workflowId, cause, path, step, round, budget);
    await Promise.all([this.workflows.recordAll(workflowId, entriesOf([ask])), ask.publish()]);
  }

  /** Re-runs branches of a fan-out (the aggregator's `fanout.retry`). */
  async assignBranches(workflowId: string, step: FanOutStepSpec, path: string, branches: readonly number[], attempt: number, cause: Cause): Promise<void> {
    const tasks = branches.map((branch) => this.branchTask(workflowId, cause, step, path, branch, attempt));
    await Promise.all([this.workflows.recordAll(workflowId, entriesOf(tasks)), ...tasks.map((task) => task.publish())]);
  }

  /**
   * Starts one attempt of the step at `path`: its state, `step.started` and the work it
   * publishes are written to the state store in one script, then published together. `also`
   * are events announcing why it starts (`stage.validated`, `stage.failed`), recorded with it.
   */
  private async startStep(
    run: Run,
    path: string,
    attempt: number,
    previous: Previous | undefined,
    also: readonly Outgoing[] = [],
    extra: readonly StateOp[] = [],
  ): Promise<void> {
    const { workflowId, cause } = run;
    const step = stepAt(run.spec, path);
    const record: StepRecord = {
      path,
      kind: step.kind,
      name: step.name,
      status: 'running',
      attempt,
      previousPath: previous?.path,
      startedAt: new Date().toISOString(),
      startedBy: cause.id,
    };
    const started = this.event(workflowId, cause, Topics.workflowEvents, StepStartedV1, { stepPath: path, kind: step.kind, attempt, name: step.name }, path, step.kind);
    const announce = [...also, started];
    // null: a deferred transition before it was made by another event — nothing to start or send.
    // `lead`: the work, published first once the start is written (a replay sends it itself).
    const write = (work: readonly Outgoing[] = [], ops: readonly StateOp[] = [], lead: readonly Outgoing[] = []): Promise<boolean | null> =>
      run.write(this.workflows.startWrite(workflowId, record, entriesOf([...announce, ...work]), [...extra, ...ops]), lead);
    const options = { correlationId: workflowId, causedBy: cause };
    switch (step.kind) {
      case 'task': {
        const task = step as TaskStepSpec;
        const input = await this.taskInput(run, task, path, previous);
        if ('missing' in input) {
          if ((await write()) === null) return;
          run.send(...announce);
          return this.fail(run, path, attempt, input.missing, await this.workflows.snapshot(workflowId, lineage(path)));
        }
        const assigned = this.event(
          workflowId,
          cause,
          Topics.tasks(task.skill),
          TaskAssignedV1,
          { taskId: `${workflowId}:${path}:${attempt}`, branchIndex: 0, branchCount: 1, skill: task.skill, input, params: task.params, stepPath: path, attempt },
          path,
          `${task.skill} on ${input.id}`,
        );
        const made = await write([assigned], [], [assigned]);
        if (made === null) return;
        run.send(...(made ? announce : [assigned, ...announce]));
        return;
      }
      case 'fan-out': {
        const fanOut = step as FanOutStepSpec;
        const policy = fanOut.policy ?? { type: 'fail-fast' as const };
        const strategy = fanOut.strategy ?? { type: 'combine' as const };
        const join = this.event(
          workflowId,
          cause,
          Topics.taskResults,
          FanOutStartedV1,
          { stepPath: path, skill: fanOut.skill, branchCount: fanOut.inputs.length, policy, strategy },
          path,
          `${fanOut.inputs.length} branches, ${policy.type}, ${strategy.type}`,
        );
        const tasks = fanOut.inputs.map((_, branch) => this.branchTask(workflowId, cause, fanOut, path, branch, 1));
        // On task.results ahead of the tasks, so the aggregator knows the join before any result.
        const work: Outgoing = { publish: () => join.publish().then(() => Promise.all(tasks.map((task) => task.publish()))) };
        const made = await write([join, ...tasks], this.workflows.initBranchOps(workflowId, path, fanOut.inputs.map((i) => i.id)), [work]);
        if (made === null) return;
        run.send(...(made ? announce : [work, ...announce]));
        return;
      }
      case 'chain': {
        // The chain's own start and its first stage's are written together (one round trip).
        const own = write().then((made) => made !== null && run.send(...announce));
        await Promise.all([own, this.startStep(run, `${path}.stages.0`, 1, previous)]);
        return;
      }
      case 'supervisor': {
        const own = write().then((made) => made !== null && run.send(...announce));
        await Promise.all([
          own,
          ...(step as SupervisorStepSpec).children.map((_, i) => this.startStep(run, `${path}.children.${i}`, 1, previous)),
        ]);
        return;
      }
      case 'saga':
        if ((await write()) === null) return;
        run.send(...announce);
        run.track(this.publisher.publish(Topics.sagaCommands, SagaStartV1, { stepPath: path, steps: (step as SagaStepSpec).steps }, options));
        return;
      case 'market': {
        const market = step as MarketStepSpec;
        const ask = this.ask(workflowId, cause, path, market, 1, market.budget);
        const made = await write([ask], [], [ask]);
        if (made === null) return;
        run.send(...(made ? announce : [ask, ...announce]));
        return;
      }
      case 'solver-rounds': {
        const rounds = step as SolverRoundsStepSpec;
        if ((await write()) === null) return;
        run.send(...announce);
        run.track(
          this.publisher.publish(
            Topics.marketRounds,
            SolverStartV1,
            {
              stepPath: path,
              skill: rounds.skill,
              input: rounds.input,
              params: rounds.params,
              solvers: rounds.solvers,
              rounds: rounds.rounds,
              strategy: rounds.strategy,
            },
            options,
          ),
        );
        return;
      }
      case 'blackboard': {
        const board = step as BlackboardStepSpec;
        if ((await write()) === null) return;
        run.send(...announce);
        // One after the other: the board's entries keep the seed order.
        const seed = async (): Promise<void> => {
          for (const [i, entry] of board.seed.entries()) {
            await this.publisher.publish(
              Topics.blackboard(board.board),
              BoardEntryPostedV1,
              { stepPath: path, board: board.board, entryId: `seed-${i}`, kind: entry.kind, text: entry.text, postedBy: 'seed' },
              options,
            );
          }
        };
        run.track(seed());
        return;
      }
    }
  }

  /** The task's input: its own, or the named field of the previous output (read only when not at hand). */
  private async taskInput(run: Run, step: TaskStepSpec, path: string, previous: Previous | undefined): Promise<DocumentInput | { missing: string }> {
    if (step.input) return step.input;
    if (!step.inputFrom) throw new Error(`task at ${path} has no input`);
    const output = previous?.output ?? (previous ? (await this.workflows.step(run.workflowId, previous.path))?.output : undefined);
    const text = fieldOf(output, step.inputFrom.field);
    if (typeof text !== 'string' || text.length === 0) {
      return { missing: `input ${step.inputFrom.field} of the previous output is ${text === undefined ? 'missing' : 'not text'}` };
    }
    return { id: `${previous?.path ?? 'previous'}.${step.inputFrom.field}`, text };
  }

  /** Records a step's good end (with `also`, the events that go with it) and advances its parent. */
  private async complete(
    run: Run,
    path: string,
    attempt: number,
    output: Record<string, unknown>,
    snapshot: WorkflowSnapshot,
    also: readonly Outgoing[] = [],
  ): Promise<void> {
    const state = snapshot.steps.get(path);
    const transition = state ? transitionOf(state, attempt, run.cause) : 'ignore';
    if (!state || transition === 'ignore') return; // a late result of a replaced attempt, or a duplicate
    const completed = this.event(run.workflowId, run.cause, Topics.workflowEvents, StepCompletedV1, { stepPath: path, kind: state.kind, attempt, output }, path, state.kind);
    if (transition === 'apply') {
      const finished: StepRecord = { ...state, status: 'completed', output, finishedAt: new Date().toISOString(), endedBy: run.cause.id };
      // Written with what advancing writes next (one round trip), and only announced once written.
      run.defer(this.workflows.finishWrite(run.workflowId, finished, entriesOf([...also, completed])), [...also, completed]);
    } else {
      run.send(...also, completed);
    }
    if (await this.mayAdvance(run, snapshot, transition)) await this.advance(run, path, attempt, output, snapshot);
    await run.write(); // the end, when advancing wrote nothing after it
  }

  /**
   * A step's end goes up to its parent while the workflow runs — or, on a redelivery, when
   * this event is what ended the workflow (its handler stopped before announcing the end).
   */
  private async mayAdvance(run: Run, snapshot: WorkflowSnapshot, transition: Transition): Promise<boolean> {
    if (isLive(snapshot.status)) return true;
    return transition === 'replay' && (await this.workflows.finishedBy(run.workflowId)) === run.cause.id;
  }

  /** A step completed: gate and advance a chain, roll up a supervisor, or finish the workflow. */
  private async advance(run: Run, path: string, attempt: number, output: Record<string, unknown>, snapshot: WorkflowSnapshot): Promise<void> {
    const { workflowId, spec, cause } = run;
    const parent = parentOf(path);
    switch (parent.kind) {
      case 'root':
        return this.finishWorkflow(run, { result: output });
      case 'chain-stage':
      case 'chain-recovery': {
        const chainState = snapshot.steps.get(parent.chainPath);
        if (!chainState || transitionOf(chainState, chainState.attempt, cause) === 'ignore') return;
        const chain = stepAt(spec, parent.chainPath) as ChainStepSpec;
        const stage = chain.stages[parent.stage];
        const also: Outgoing[] = [];
        // A recovery's output stands in for the stage's; it is not gated again.
        if (parent.kind === 'chain-stage' && stage.gate) {
          const verdict = evaluateGate(stage.gate, output);
          if (!verdict.ok) return this.onGateFailed(run, parent.chainPath, parent.stage, attempt, output, verdict.reason, snapshot);
          const stagePath = `${parent.chainPath}.stages.${parent.stage}`;
          also.push(this.event(workflowId, cause, Topics.workflowEvents, StageValidatedV1, { chainPath: parent.chainPath, stage: parent.stage }, stagePath));
        }
        const next = parent.stage + 1;
        if (next < chain.stages.length) return this.startStep(run, `${parent.chainPath}.stages.${next}`, 1, { path, output }, also);
        return this.complete(run, parent.chainPath, chainState.attempt, output, snapshot, also);
      }
      case 'supervisor-child': {
        const supervisor = stepAt(spec, parent.supervisorPath) as SupervisorStepSpec;
        if ((await run.write()) === null) return; // the child's end is counted only once recorded
        const done = await this.workflows.countChild(workflowId, parent.supervisorPath, path);
        if (done < supervisor.children.length) return;
        // Only this supervisor's own children: each level rolls up the level below it.
        const childPaths = supervisor.children.map((_, i) => `${parent.supervisorPath}.children.${i}`);
        const fresh = await this.workflows.snapshot(workflowId, [parent.supervisorPath, ...childPaths]);
        const supervisorState = fresh.steps.get(parent.supervisorPath);
        if (!supervisorState) return;
        const output = this.rollUp(supervisor, childPaths.map((p) => fresh.steps.get(p)));
        const merged: WorkflowSnapshot = { status: fresh.status, steps: new Map([...snapshot.steps, ...fresh.steps]) };
        return this.complete(run, parent.supervisorPath, supervisorState.attempt, output, merged);
      }
    }
  }

  /** Records a step's failure (with `also`) and fails its parent (chains and supervisors), up to the workflow. */
  private async fail(
    run: Run,
    path: string,
    attempt: number,
    reason: string,
    snapshot: WorkflowSnapshot,
    compensated = false,
    also: readonly Outgoing[] = [],
  ): Promise<void> {
    if ((await run.write()) === null) return; // a stage's end that a failing gate follows
    const state = snapshot.steps.get(path);
    const transition = state ? transitionOf(state, attempt, run.cause) : 'ignore';
    if (!state || transition === 'ignore') return;
    const failed = this.event(
      run.workflowId,
      run.cause,
      Topics.workflowEvents,
      StepFailedV1,
      { stepPath: path, kind: state.kind, attempt, reason, compensated: compensated || undefined },
      path,
      reason,
    );
    if (transition === 'apply') {
      const finished: StepRecord = { ...state, status: 'failed', error: reason, finishedAt: new Date().toISOString(), endedBy: run.cause.id };
      if (!(await this.workflows.finishStep(run.workflowId, finished, entriesOf([...also, failed])))) return;
    }
    run.send(...also, failed);
    if (!(await this.mayAdvance(run, snapshot, transition))) return;
    const parent = parentOf(path);
    if (parent.kind === 'root') return this.finishWorkflow(run, { reason, status: compensated ? 'compensated' : 'failed' });
    const parentPath = parent.kind === 'supervisor-child' ? parent.supervisorPath : parent.chainPath;
    const parentState = snapshot.steps.get(parentPath);
    if (!parentState) return;
    return this.fail(run, parentPath, parentState.attempt, `${path} failed: ${reason}`, snapshot, compensated);
  }

  private async onGateFailed(
    run: Run,
    chainPath: string,
    stageIndex: number,
    attempt: number,
    output: Record<string, unknown>,
    reason: string,
    snapshot: WorkflowSnapshot,
  ): Promise<void> {
    const chain = stepAt(run.spec, chainPath) as ChainStepSpec;
    const onFail = chain.stages[stageIndex].gate?.onFail;
    const stagePath = `${chainPath}.stages.${stageIndex}`;
    const retriesLeft = onFail?.action === 'retry' && attempt <= (onFail.maxRetries ?? 0);
    const action = onFail?.action === 'retry' && !retriesLeft ? 'fail' : (onFail?.action ?? 'fail');
    const failed = this.event(run.workflowId, run.cause, Topics.workflowEvents, StageFailedV1, { chainPath, stage: stageIndex, reason, action }, stagePath, `${action}: ${reason}`);
    if (action === 'retry') {
      // The bad output goes nowhere: the stage runs again on the same input.
      const previousPath = snapshot.steps.get(stagePath)?.previousPath;
      return this.startStep(run, stagePath, attempt + 1, previousPath ? { path: previousPath } : undefined, [failed]);
    }
    if (action === 'recover') return this.startStep(run, `${stagePath}.recovery`, 1, { path: stagePath, output }, [failed]);
    const chainState = snapshot.steps.get(chainPath);
    if (!chainState) return;
    const why = onFail?.action === 'retry' ? `gate of stage ${stageIndex} still failing after ${attempt} attempts: ${reason}` : `gate of stage ${stageIndex} failed: ${reason}`;
    return this.fail(run, chainPath, chainState.attempt, why, snapshot, false, [failed]);
  }

  /** Ends the workflow once; a redelivery of the event that ended it announces the end again. */
  private async finishWorkflow(
    run: Run,
    outcome: { readonly result: Record<string, unknown> } | { readonly reason: string; readonly status: 'failed' | 'compensated' },
  ): Promise<void> {
    const { workflowId, spec, cause } = run;
    let end: Outgoing;
    if ('result' in outcome) {
      // The counts kept with the branch projection: no branch read or parsed.
      const counts = spec.step.kind === 'fan-out' ? await this.workflows.branchCounts(workflowId, ROOT) : { completed: 0, failed: 0 };
      end = this.event(workflowId, cause, Topics.workflowEvents, WorkflowCompletedV1, this.completedBody(spec, outcome.result, counts), ROOT);
    } else {
      end = this.event(workflowId, cause, Topics.workflowEvents, WorkflowFailedV1, { reason: outcome.reason, failedBranches: [] }, ROOT);
    }
    const at = end.entry?.at ?? new Date().toISOString();
    // The end goes out first when written now: it is what the workflow's client waits for.
    const applied = await run.write(this.workflows.finishWorkflowWrite(workflowId, cause.id, at, outcome, entriesOf([end])), [end]);
    if (applied === null) return;
    if (!applied) {
      if ((await this.workflows.finishedBy(workflowId)) !== cause.id) return; // it ended otherwise (a cancel)
      run.send(end);
    }
    if ('result' in outcome) this.log.log(`workflow ${workflowId} completed`);
    else this.log.warn(`workflow ${workflowId} failed: ${outcome.reason}`);
  }

  /**
   * An event to publish, with its id and time fixed now so that its timeline entry can be
   * written with the state change, before the publish.
   */
  private event<TData extends object>(
    workflowId: string,
    cause: Cause,
    topic: string,
    definition: EventDefinition<TData>,
    data: TData,
    stepPath: string,
    detail?: string,
    key?: string,
  ): Outgoing {
    const id = uuidv7();
    const occurredAt = new Date();
    return {
      entry: { at: occurredAt.toISOString(), type: definition.type, source: this.publisher.source, stepPath, detail },
      publish: () => this.publisher.publish(topic, definition, data, { correlationId: workflowId, causedBy: cause, id, occurredAt, key }),
    };
  }

  private branchTask(workflowId: string, cause: Cause, step: FanOutStepSpec, path: string, branchIndex: number, attempt: number): Outgoing {
    return this.event(
      workflowId,
      cause,
      Topics.tasks(step.skill),
      TaskAssignedV1,
      {
        taskId: `${workflowId}:${path}:${branchIndex}:${attempt}`,
        branchIndex,
        branchCount: step.inputs.length,
        skill: step.skill,
        input: step.inputs[branchIndex],
        params: step.params,
        stepPath: path,
        attempt,
      },
      path,
      `branch ${branchIndex}${attempt > 1 ? ` attempt ${attempt}` : ''}`,
    );
  }

  private ask(workflowId: string, cause: Cause, path: string, step: MarketStepSpec, round: number, budget: number): Outgoing {
    return this.event(
      workflowId,
      cause,
      Topics.marketAsks,
      MarketAskV1,
      {
        stepPath: path,
        askId: `${workflowId}:${path}:ask-${round}`,
        market: step.skill,
        budget,
        maxEstimatedMs: step.maxEstimatedMs,
        expiresAt: Date.now() + step.expireAfterMs,
        input: step.input,
        params: step.params,
      },
      path,
      `ask ${round} for ${step.skill}, budget ${budget}`,
      // Keyed by market: one market's orders reach the market maker in order.
      step.skill,
    );
  }

  private rollUp(supervisor: SupervisorStepSpec, children: readonly (StepRecord | undefined)[]): Record<string, unknown> {
    const kinds = new Set(supervisor.children.map((c) => skillOf(c)));
    const [skill] = [...kinds];
    // Children of one skill combine with that skill's own combine; otherwise keep them side by side.
    if (kinds.size === 1 && skill && this.skills.get(skill)) {
      return this.skills.require(skill).combine(
        children.map((c, i) => ({ inputId: c?.name ?? `${supervisor.children[i].kind}-${i}`, output: c?.output ?? {} })),
      );
    }
    return { children: children.map((c, i) => ({ name: c?.name ?? `child-${i}`, output: c?.output ?? {} })) };
  }

  private completedBody(spec: WorkflowSpec, result: Record<string, unknown>, rootBranches: { readonly completed: number; readonly failed: number }) {
    const root = spec.step;
    if (root.kind !== 'fan-out') return { skill: skillOf(root) ?? root.kind, branchCount: 1, succeeded: 1, failed: 0, result };
    return { skill: root.skill, branchCount: root.inputs.length, succeeded: rootBranches.completed, failed: rootBranches.failed, result };
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

/** The skill a step's output is shaped by (fan-outs and tasks; supervisors of one skill). */
function skillOf(step: StepSpec): string | undefined {
  if (step.kind === 'task') return step.skill;
  // A fan-out's output has its skill's shape only when joined by the skill's own combine.
  if (step.kind === 'fan-out') return (step.strategy?.type ?? 'combine') === 'combine' ? step.skill : undefined;
  if (step.kind === 'supervisor') {
    const skills = new Set(step.children.map(skillOf));
    return skills.size === 1 ? [...skills][0] : undefined;
  }
  return undefined;
}
