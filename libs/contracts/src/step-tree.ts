import type { JudgeSpec, PlannerSpec, StepKind, StepSpec, WorkflowSpec } from './workflow-spec';

/**
 * The one module that knows how steps nest. A path names a step's place in the spec tree —
 * `root`, `root.stages.1`, `root.stages.1.recovery`, `root.children.4` — stable across
 * redeliveries and restarts, so paths key step state and idempotency markers. Validation,
 * the orchestrator's engine and its handlers walk the tree through this module only.
 */
export const ROOT = 'root';

/** The step spec of one kind. */
export type StepOf<K extends StepKind> = Extract<StepSpec, { kind: K }>;

/**
 * How a step hangs from its parent: a chain's stage, a stage's recovery, a supervisor's child
 * — or one of the tasks a spec declares inside a step: a stage gate's judge
 * (`stages.1.judge`), a supervisor's planner (`planner`, its only one: index 0). Those run as
 * task steps under the step, so they retry, time out and show like any task.
 */
export type ChildLink =
  | { readonly link: 'stage'; readonly index: number }
  | { readonly link: 'recovery'; readonly index: number }
  | { readonly link: 'judge'; readonly index: number }
  | { readonly link: 'child'; readonly index: number }
  | { readonly link: 'planner'; readonly index: 0 };

/** A step under another, with its path segment and its field path in the spec. */
export interface ChildStep {
  readonly step: StepSpec;
  readonly via: ChildLink;
  /** The segment of the step path: `stages.1`, `stages.1.recovery`, `children.4`. */
  readonly segment: string;
  /** The segment of the spec's field path (for validation errors): `stages.1.step`, `stages.1.gate.onFail.recovery`. */
  readonly field: string;
  /** Whether the child has a previous output to take input from, whatever its parent has. */
  readonly afterPrevious: boolean;
}

/** A step's parent, and how the step hangs from it. */
export type ParentOf = { readonly path: string } & ChildLink;

function segmentOf(via: ChildLink): string {
  switch (via.link) {
    case 'child':
      return `children.${via.index}`;
    case 'planner':
      return 'planner';
    case 'stage':
      return `stages.${via.index}`;
    default:
      return `stages.${via.index}.${via.link}`;
  }
}

/**
 * The task a planner or a judge runs: on its input, or else (neither input nor inputFrom, which
 * only these tasks have) on the whole previous output as JSON text.
 */
function taskOf(name: 'planner' | 'judge', declared: PlannerSpec | JudgeSpec): StepOf<'task'> {
  const { skill, params, deadlineMs } = declared;
  const input = 'input' in declared ? declared.input : undefined;
  return { kind: 'task', name, skill, params, deadlineMs, input };
}

/** The step `via` names under `step`, if there is one. */
export function childAt(step: StepSpec, via: ChildLink): StepSpec | undefined {
  if (step.kind === 'supervisor') {
    if (via.link === 'child') return step.children?.[via.index];
    return via.link === 'planner' && step.planner ? taskOf('planner', step.planner) : undefined;
  }
  if (step.kind !== 'chain') return undefined;
  const stage = step.stages[via.index];
  if (via.link === 'stage') return stage?.step;
  if (via.link === 'judge') return stage?.gate?.judge ? taskOf('judge', stage.gate.judge) : undefined;
  // A recovery runs only when the gate's action is to recover.
  if (via.link === 'recovery' && stage?.gate?.onFail.action === 'recover') return stage.gate.onFail.recovery;
  return undefined;
}

/**
 * The steps directly under `step`, in order (a stage's recovery right after its stage): the
 * spec's steps, not the planner's and judges' tasks (their specs are validated as such).
 */
export function childrenOf(step: StepSpec): ChildStep[] {
  const child = (via: ChildLink, field: string, afterPrevious: boolean): ChildStep[] => {
    const found = childAt(step, via);
    return found ? [{ step: found, via, segment: segmentOf(via), field, afterPrevious }] : [];
  };
  if (step.kind === 'supervisor')
    return (step.children ?? []).flatMap((_, i) => child({ link: 'child', index: i }, `children.${i}`, false));
  if (step.kind !== 'chain') return [];
  return step.stages.flatMap((_, i) => [
    ...child({ link: 'stage', index: i }, `stages.${i}.step`, i > 0),
    // A recovery takes the rejected output as its previous.
    ...child({ link: 'recovery', index: i }, `stages.${i}.gate.onFail.recovery`, true),
  ]);
}

/** A step path, split into its links from the root. */
function linksOf(path: string): ChildLink[] {
  const parts = path.split('.');
  if (parts[0] !== ROOT) throw new Error(`step path must start at root: ${path}`);
  const links: ChildLink[] = [];
  let i = 1;
  while (i < parts.length) {
    const [name, digits, next] = [parts[i], parts[i + 1] ?? '', parts[i + 2]];
    if (name === 'planner') {
      links.push({ link: 'planner', index: 0 });
      i += 1;
      continue;
    }
    if (!/^\d+$/.test(digits) || (name !== 'stages' && name !== 'children'))
      throw new Error(`not a step path: ${path}`);
    const index = Number(digits);
    const inStage = name === 'stages' && (next === 'recovery' || next === 'judge') ? next : undefined;
    if (name === 'children') links.push({ link: 'child', index });
    else links.push({ link: inStage ?? 'stage', index });
    i += inStage ? 3 : 2;
  }
  return links;
}

/**
 * The step at `path`; with `kind`, checked to be of that kind. Throws naming the path when
 * no step is there (or one of another kind).
 */
export function stepAt(spec: WorkflowSpec, path: string): StepSpec;
export function stepAt<K extends StepKind>(spec: WorkflowSpec, path: string, kind: K): StepOf<K>;
export function stepAt(spec: WorkflowSpec, path: string, kind?: StepKind): StepSpec {
  let step: StepSpec = spec.step;
  for (const via of linksOf(path)) {
    const child = childAt(step, via);
    if (!child) throw new Error(`no step at ${path}`);
    step = child;
  }
  if (kind !== undefined && step.kind !== kind) throw new Error(`the step at ${path} is a ${step.kind}, not a ${kind}`);
  return step;
}

/** The parent of the step at `path`, and how the step hangs from it; undefined for the root. */
export function parentOf(path: string): ParentOf | undefined {
  const links = linksOf(path);
  const last = links.at(-1);
  if (!last) return undefined;
  const cut = path.length - segmentOf(last).length - 1;
  return { path: path.slice(0, cut), ...last };
}

/**
 * The step at `path` and its ancestors up to the root, nearest first: what ending a step may
 * touch, read in one go. A path that names no step gives just itself.
 */
export function lineage(path: string): string[] {
  const paths = [path];
  for (;;) {
    let parent: ParentOf | undefined;
    try {
      parent = parentOf(paths[paths.length - 1]);
    } catch {
      return paths; // not a step path: nothing above it to read
    }
    if (!parent || parent.path === ROOT) return paths;
    paths.push(parent.path);
  }
}

/** Where a walk is in the tree. */
export interface StepPlace {
  readonly path: string;
  /** The field path in the spec (`step.stages.1.step`), for errors. */
  readonly field: string;
  /** 1 for the root. */
  readonly depth: number;
  /** Whether a previous output exists for the step to take input from. */
  readonly hasPrevious: boolean;
}

/** Visits every step of the tree, parents before children. */
export function walkSteps(root: StepSpec, visit: (step: StepSpec, place: StepPlace) => void): void {
  const walk = (step: StepSpec, place: StepPlace): void => {
    visit(step, place);
    for (const child of childrenOf(step)) {
      walk(child.step, {
        path: `${place.path}.${child.segment}`,
        field: `${place.field}.${child.field}`,
        depth: place.depth + 1,
        hasPrevious: place.hasPrevious || child.afterPrevious,
      });
    }
  };
  walk(root, { path: ROOT, field: 'step', depth: 1, hasPrevious: false });
}

/** Reads a dotted path (`answer.choice`) from an output. */
export function fieldOf(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
