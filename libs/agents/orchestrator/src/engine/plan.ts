import type { WorkflowSpec } from '@agent-mesh/contracts';
import type { OnceStep } from '@agent-mesh/state';
import { lineage } from '@agent-mesh/contracts';
import { type Outgoing, type WorkflowEvents } from './outgoing';
import type { StepRecord, WorkflowSnapshot, WorkflowState, WorkflowStatus } from './workflow-state';

/**
 * What committing a transition found: `written` now; `replayed` — this event made it before
 * (its handler stopped half-way and the event came back), so what announces it goes out
 * again; `superseded` — another event made it, and the handler stops there.
 */
export type Outcome = 'written' | 'replayed' | 'superseded';

/** One change of a workflow's state, written once (its marker), and what it sets off. */
export interface Transition {
  readonly write: OnceStep;
  /** Published first once written: the work it sets off, on the workflow's critical path. */
  readonly work?: readonly Outgoing[];
  /** Published after every transition's work: `step.*` and `stage.*`, for observers. */
  readonly announce?: readonly Outgoing[];
  /** What it means when the transition was made before: by another event, or (maybe) by this one. */
  readonly ifMadeBefore: 'superseded' | 'replayed' | (() => Promise<'superseded' | 'replayed'>);
  /** Called once it is written or replayed (a log line). */
  readonly done?: () => void;
  /** The step's state after it, for the rest of the handler's decisions. */
  readonly record?: StepRecord;
}

/**
 * The effects of handling one event on one workflow: decided first (the transitions, in the
 * order they follow each other), then committed — written in one atomic round trip
 * (applyOnceChain: a transition is recorded only if the ones before it are) and published,
 * each event as soon as the state it announces is written, without waiting for the others.
 * `settled()` waits for all of them, so the handler acks its event — and a crash before that
 * redelivers it — only once nothing it caused can be lost.
 */
export class Plan {
  private pending: Transition[] = [];
  private readonly sends: Promise<unknown>[] = [];
  private readonly steps: Map<string, StepRecord>;
  /** The workflow's status when the handler last read it. */
  status: WorkflowStatus | undefined;

  constructor(
    private resolvedSpec: WorkflowSpec,
    readonly events: WorkflowEvents,
    private readonly workflows: WorkflowState,
    snapshot: WorkflowSnapshot,
  ) {
    this.steps = new Map(snapshot.steps);
    this.status = snapshot.status;
  }

  /** The workflow's spec, with the plans recorded so far (withPlans). */
  get spec(): WorkflowSpec {
    return this.resolvedSpec;
  }

  /** The spec with a plan this handler records: the planned children are found in it from now on. */
  resolve(spec: WorkflowSpec): void {
    this.resolvedSpec = spec;
  }

  get workflowId(): string {
    return this.events.workflowId;
  }

  get cause() {
    return this.events.cause;
  }

  /** A step's state as this handler knows it: read (with its ancestors) when not known yet. */
  async stateOf(path: string): Promise<StepRecord | undefined> {
    if (!this.steps.has(path)) this.learn(await this.workflows.snapshot(this.workflowId, lineage(path)));
    return this.steps.get(path);
  }

  /** States read after the handler began (a supervisor's children); what this plan changed stays. */
  learn(snapshot: WorkflowSnapshot): void {
    const changed = new Set(this.pending.flatMap((t) => (t.record ? [t.record.path] : [])));
    for (const [path, state] of snapshot.steps) if (!changed.has(path)) this.steps.set(path, state);
    this.status = snapshot.status;
  }

  add(transition: Transition): void {
    this.pending.push(transition);
    if (transition.record) this.steps.set(transition.record.path, transition.record);
  }

  /** Publishes now, whatever is written (a replayed step end's announcement). */
  send(...events: readonly Outgoing[]): void {
    for (const event of events) this.track(event.publish());
  }

  /**
   * Writes the pending transitions in one chain and publishes what they set off: every
   * transition's work, then their announcements. A transition found made before by this event
   * is published again and the chain goes on after it; one made by another event stops it.
   */
  async commit(): Promise<Outcome> {
    let rest = this.pending;
    this.pending = [];
    const made: Transition[] = [];
    let outcome: Outcome = 'written';
    while (rest.length > 0) {
      const written = await this.workflows.writeChain(rest.map((t) => t.write));
      made.push(...rest.slice(0, written));
      if (written === rest.length) break;
      const found = rest[written];
      const meaning = typeof found.ifMadeBefore === 'function' ? await found.ifMadeBefore() : found.ifMadeBefore;
      if (meaning === 'superseded') {
        outcome = 'superseded';
        break;
      }
      outcome = 'replayed';
      made.push(found);
      rest = rest.slice(written + 1); // replaying one transition costs a round trip: redeliveries only
    }
    this.send(...made.flatMap((t) => t.work ?? []));
    this.send(...made.flatMap((t) => t.announce ?? []));
    for (const t of made) t.done?.();
    return outcome;
  }

  /** A publish (or a sequence of them) in flight; its failure surfaces in settled(). */
  private track(sending: Promise<unknown>): void {
    sending.catch(() => undefined); // observed by settled(); not an unhandled rejection meanwhile
    this.sends.push(sending);
  }

  async settled(): Promise<void> {
    await Promise.all(this.sends);
  }
}
