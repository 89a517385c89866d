import type { ChainStepSpec, StepSpec, SupervisorStepSpec, WorkflowSpec } from '@agent-mesh/contracts';

/**
 * Paths name a step's place in the spec tree: `root`, `root.stages.1`,
 * `root.stages.1.recovery`, `root.children.4`. They are stable across redeliveries and
 * restarts, so they key step state and idempotency markers.
 */
export const ROOT = 'root';

export function stepAt(spec: WorkflowSpec, path: string): StepSpec {
  const parts = path.split('.');
  if (parts[0] !== ROOT) throw new Error(`step path must start at root: ${path}`);
  let step: StepSpec = spec.step;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (part === 'stages' && step.kind === 'chain') {
      const stage = (step as ChainStepSpec).stages[Number(parts[++i])];
      if (!stage) throw new Error(`no stage ${parts[i]} at ${path}`);
      if (parts[i + 1] === 'recovery') {
        i++;
        const recovery = stage.gate?.onFail.recovery;
        if (!recovery) throw new Error(`no recovery at ${path}`);
        step = recovery;
      } else {
        step = stage.step;
      }
    } else if (part === 'children' && step.kind === 'supervisor') {
      const child = (step as SupervisorStepSpec).children[Number(parts[++i])];
      if (!child) throw new Error(`no child ${parts[i]} at ${path}`);
      step = child;
    } else {
      throw new Error(`no step at ${path}`);
    }
  }
  return step;
}

export type ParentLink =
  | { readonly kind: 'root' }
  | { readonly kind: 'chain-stage'; readonly chainPath: string; readonly stage: number }
  | { readonly kind: 'chain-recovery'; readonly chainPath: string; readonly stage: number }
  | { readonly kind: 'supervisor-child'; readonly supervisorPath: string; readonly index: number };

/** How a step hangs from its parent. */
export function parentOf(path: string): ParentLink {
  if (path === ROOT) return { kind: 'root' };
  const recovery = /^(.*)\.stages\.(\d+)\.recovery$/.exec(path);
  if (recovery) return { kind: 'chain-recovery', chainPath: recovery[1], stage: Number(recovery[2]) };
  const stage = /^(.*)\.stages\.(\d+)$/.exec(path);
  if (stage) return { kind: 'chain-stage', chainPath: stage[1], stage: Number(stage[2]) };
  const child = /^(.*)\.children\.(\d+)$/.exec(path);
  if (child) return { kind: 'supervisor-child', supervisorPath: child[1], index: Number(child[2]) };
  throw new Error(`not a step path: ${path}`);
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

/**
 * The step at `path` and its ancestors up to the root, nearest first: what ending a step may
 * touch, read in one go. A path that names no step gives just itself.
 */
export function lineage(path: string): string[] {
  const paths = [path];
  let at = path;
  while (at !== ROOT) {
    let parent: ParentLink;
    try {
      parent = parentOf(at);
    } catch {
      break; // not a step path: nothing above it to read
    }
    if (parent.kind === 'root') break;
    at = parent.kind === 'supervisor-child' ? parent.supervisorPath : parent.chainPath;
    paths.push(at);
  }
  return paths;
}
