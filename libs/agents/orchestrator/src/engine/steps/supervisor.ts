import {
  ContractValidationError,
  DEFAULT_PLANNER_ATTEMPTS,
  plannedChildren,
  ROOT,
  stepAt,
  SupervisorPlannedV1,
  SupervisorPlanRefusedV1,
  Topics,
  unknownSkillErrors,
  withPlans,
  type StepOf,
  type StepSpec,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import type { SkillRegistry } from '@agent-mesh/skills';
import { entriesOf } from '../outgoing';
import type { ChildCompleted, StepDeps, StepFlow, StepUnit } from '../step-unit';
import type { StepRecord } from '../workflow-state';

/**
 * A supervisor: its children start with it; it completes when all of them have, with their
 * outputs rolled up (each level rolls up the level below it), and fails with the first child
 * that fails. A planned supervisor starts its planner (a task at `<path>.planner`) instead; the
 * plan it gives is validated as a submitted spec's steps are, recorded (`supervisor.planned`,
 * grafted into the workflow's spec from then on), and its children start — from there it runs
 * as any supervisor. A plan refused runs the planner again, up to `maxAttempts`, then fails it.
 */
export function supervisorUnit(deps: StepDeps): StepUnit<'supervisor'> {
  const { workflows, flow, outputSkill } = deps;
  return {
    start: (step, { path, previous }) => ({
      children: step.planner
        ? [{ path: `${path}.planner`, previous }]
        : (step.children ?? []).map((_, i) => ({ path: `${path}.children.${i}`, previous })),
    }),

    async childCompleted(supervisor, end) {
      if (end.parent.link === 'planner') return planned(deps, supervisor, end);
      const { plan, parent, childPath } = end;
      const children = supervisor.children ?? [];
      if ((await plan.commit()) === 'superseded') return; // the child's end is counted only once recorded
      const done = await workflows.countChild(plan.workflowId, parent.path, childPath);
      if (done < children.length) return;
      const childPaths = children.map((_, i) => `${parent.path}.children.${i}`);
      const fresh = await workflows.snapshot(plan.workflowId, [parent.path, ...childPaths]);
      plan.learn(fresh);
      const state = fresh.steps.get(parent.path);
      if (!state) return;
      const output = rollUp(
        deps,
        children,
        childPaths.map((p) => fresh.steps.get(p)),
      );
      return flow.complete(plan, parent.path, state.attempt, output);
    },

    outputSkill(step) {
      const skills = new Set((step.children ?? []).map(outputSkill));
      return skills.size === 1 ? [...skills][0] : undefined;
    },
  };
}

/** The children's outputs rolled up into the supervisor's. */
function rollUp(
  { skills, outputSkill }: StepDeps,
  children: readonly StepSpec[],
  states: readonly (StepRecord | undefined)[],
): Record<string, unknown> {
  const kinds = new Set(children.map(outputSkill));
  const [skill] = [...kinds];
  // Children of one skill combine with that skill's own combine; otherwise keep them side by side.
  if (kinds.size === 1 && skill && skills.get(skill)) {
    const outputs = states.map((c, i) => ({
      inputId: c?.name ?? `${children[i].kind}-${i}`,
      output: c?.output ?? {},
    }));
    return skills.require(skill).combine(outputs);
  }
  return { children: states.map((c, i) => ({ name: c?.name ?? `child-${i}`, output: c?.output ?? {} })) };
}

/** The planner's output: recorded and its children started, or refused. */
async function planned(
  { workflows, skills, flow }: StepDeps,
  supervisor: StepOf<'supervisor'>,
  end: ChildCompleted,
): Promise<void> {
  const { plan, parent, parentState, attempt, output } = end;
  const previous = parentState.previousPath ? { path: parentState.previousPath } : undefined;
  let spec: WorkflowSpec;
  try {
    // Children in the spec already: this event recorded the plan before (a redelivery).
    spec = supervisor.children ? plan.spec : withPlan(skills, plan.spec, parent.path, output);
  } catch (error) {
    if (!(error instanceof ContractValidationError)) throw error;
    return refused(flow, supervisor, end, error.message);
  }
  plan.resolve(spec);
  const children = stepAt(spec, parent.path, 'supervisor').children ?? [];
  const event = plan.events.event(
    Topics.workflowEvents,
    SupervisorPlannedV1,
    { stepPath: parent.path, attempt, children: JSON.parse(JSON.stringify(children)) as Record<string, unknown>[] },
    { stepPath: parent.path, detail: `${children.length} children: ${children.map((c) => c.kind).join(', ')}` },
  );
  plan.add({
    write: workflows.planWrite(plan.workflowId, parent.path, children, entriesOf([event])),
    announce: [event],
    ifMadeBefore: 'replayed',
  });
  for (const [i] of children.entries())
    await flow.start({ plan, path: `${parent.path}.children.${i}`, attempt: 1, previous });
}

/**
 * The spec with the planner's plan grafted in, checked as a submission is: validated (withPlans)
 * and every skill it names known here. Throws ContractValidationError naming the bad fields.
 */
function withPlan(
  skills: SkillRegistry,
  spec: WorkflowSpec,
  path: string,
  output: Record<string, unknown>,
): WorkflowSpec {
  const planned = withPlans(spec, new Map([[path, plannedChildren(output)]]), 'reject');
  const field = `step${path.slice(ROOT.length)}.children`;
  const children = stepAt(planned, path, 'supervisor').children ?? [];
  const unknown = children.flatMap((child, i) => unknownSkillErrors(child, skills.names(), `${field}.${i}`));
  if (unknown.length > 0) throw new ContractValidationError('plan', unknown);
  return planned;
}

/** A plan refused: the planner runs again while it has attempts left, else the supervisor fails. */
function refused(flow: StepFlow, supervisor: StepOf<'supervisor'>, end: ChildCompleted, reason: string): Promise<void> {
  const { plan, parent, parentState, attempt } = end;
  const action = attempt < (supervisor.planner?.maxAttempts ?? DEFAULT_PLANNER_ATTEMPTS) ? 'retry' : 'fail';
  const event = plan.events.event(
    Topics.workflowEvents,
    SupervisorPlanRefusedV1,
    { stepPath: parent.path, attempt, reason, action },
    { stepPath: parent.path, detail: `${action}: ${reason}` },
  );
  if (action === 'retry') {
    const previous = parentState.previousPath ? { path: parentState.previousPath } : undefined;
    return flow.start({ plan, path: `${parent.path}.planner`, attempt: attempt + 1, previous }, [event]);
  }
  const why = `no valid plan after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${reason}`;
  return flow.fail(plan, parent.path, parentState.attempt, why, [event]);
}
