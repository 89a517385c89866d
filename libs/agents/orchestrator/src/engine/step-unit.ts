import type { ParentOf, StepKind, StepOf, StepSpec } from '@agent-mesh/contracts';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateOp } from '@agent-mesh/state';
import type { Outgoing } from './outgoing';
import type { Plan } from './plan';
import type { Awaiting, StepRecord, WorkflowState } from './workflow-state';

/** The step whose output is a step's "previous" input, and that output when it is at hand. */
export interface Previous {
  readonly path: string;
  readonly output?: Record<string, unknown>;
}

/** Where a step starts: the handler's plan, the step's path and attempt, its previous output. */
export interface StartAt {
  readonly plan: Plan;
  readonly path: string;
  readonly attempt: number;
  readonly previous?: Previous;
  /** The work goes out this late (a gate retry's backoff); the step's own deadline counts from then. */
  readonly delayMs?: number;
  /** The deadline that applies to the step (epoch ms), set by the engine before the unit's start. */
  readonly deadlineAt?: number;
}

/** A step past its own deadline, still running. */
export interface Expired {
  readonly plan: Plan;
  readonly path: string;
  readonly attempt: number;
  readonly reason: string;
}

/** What starting a step does, besides recording it and announcing `step.started`. */
export interface StartWork {
  /** Published once the start is written; their timeline entries are written with it. */
  readonly work?: readonly Outgoing[];
  /** State written with the start. */
  readonly ops?: readonly StateOp[];
  /** Steps under it that start with it, in order. */
  readonly children?: readonly { readonly path: string; readonly previous?: Previous }[];
  /** The step cannot run (a task whose input is missing): it fails as soon as it starts. */
  readonly failure?: string;
  /** The step waits on an outside decision (an approval): recorded with it, shown in the API. */
  readonly awaiting?: Awaiting;
}

/** A child of the step ended well. */
export interface ChildCompleted {
  readonly plan: Plan;
  /** The parent (this step), and how the child hangs from it. */
  readonly parent: ParentOf;
  readonly parentState: StepRecord;
  readonly childPath: string;
  readonly attempt: number;
  readonly output: Record<string, unknown>;
}

/** What a step kind may do to the run: the engine's moves, decided into the plan. */
export interface StepFlow {
  start(at: StartAt, also?: readonly Outgoing[]): Promise<void>;
  complete(
    plan: Plan,
    path: string,
    attempt: number,
    output: Record<string, unknown>,
    also?: readonly Outgoing[],
  ): Promise<void>;
  fail(plan: Plan, path: string, attempt: number, reason: string, also?: readonly Outgoing[]): Promise<void>;
}

/** What a step kind's unit is built with. */
export interface StepDeps {
  readonly workflows: WorkflowState;
  readonly skills: SkillRegistry;
  readonly flow: StepFlow;
  /** The skill whose shape a step's output has, if any (for roll-ups). */
  readonly outputSkill: (step: StepSpec) => string | undefined;
  /** The time deadlines count from (see WorkflowEngineOptions.now). */
  readonly now: () => number;
}

/**
 * One step kind: what starts it, what its children's ends do to it (chains and supervisors),
 * and the skill its output is shaped by. A step ends by an event its handler passes to the
 * engine (a task's result, the aggregator's join, a saga's end), or through `childCompleted`;
 * a child's failure fails its parent, whatever its kind (the engine does that). A step past
 * its deadline fails as if its work had (unless its unit's `expire` says otherwise).
 */
export interface StepUnit<K extends StepKind> {
  start(step: StepOf<K>, at: StartAt): StartWork | Promise<StartWork>;
  childCompleted?(step: StepOf<K>, end: ChildCompleted): Promise<void>;
  outputSkill?(step: StepOf<K>): string | undefined;
  /**
   * What a step past its deadline does instead of failing at once: the events that make its
   * own failure path run (a saga aborts, compensates, and its end ends the step), or a new
   * attempt it starts through its flow (a market step re-opens its ask); undefined: it fails.
   */
  expire?(
    step: StepOf<K>,
    expired: Expired,
  ): readonly Outgoing[] | undefined | Promise<readonly Outgoing[] | undefined>;
}

/** One unit per step kind: adding a kind is its file and its line in steps/index.ts. */
export type StepUnits = { readonly [K in StepKind]: StepUnit<K> };
