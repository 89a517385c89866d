import type { StepOf } from '@agent-mesh/contracts';
import type { StepDeps, StepUnit } from '../step-unit';
import type { StepRecord } from '../workflow-state';

/**
 * A supervisor: its children start with it; it completes when all of them have, with their
 * outputs rolled up (each level rolls up the level below it), and fails with the first child
 * that fails.
 */
export function supervisorUnit({ workflows, skills, flow, outputSkill }: StepDeps): StepUnit<'supervisor'> {
  const rollUp = (
    supervisor: StepOf<'supervisor'>,
    children: readonly (StepRecord | undefined)[],
  ): Record<string, unknown> => {
    const kinds = new Set(supervisor.children.map(outputSkill));
    const [skill] = [...kinds];
    // Children of one skill combine with that skill's own combine; otherwise keep them side by side.
    if (kinds.size === 1 && skill && skills.get(skill)) {
      const outputs = children.map((c, i) => ({
        inputId: c?.name ?? `${supervisor.children[i].kind}-${i}`,
        output: c?.output ?? {},
      }));
      return skills.require(skill).combine(outputs);
    }
    return { children: children.map((c, i) => ({ name: c?.name ?? `child-${i}`, output: c?.output ?? {} })) };
  };

  return {
    start: (step, { path, previous }) => ({
      children: step.children.map((_, i) => ({ path: `${path}.children.${i}`, previous })),
    }),

    async childCompleted(supervisor, { plan, parent, childPath }) {
      if ((await plan.commit()) === 'superseded') return; // the child's end is counted only once recorded
      const done = await workflows.countChild(plan.workflowId, parent.path, childPath);
      if (done < supervisor.children.length) return;
      const childPaths = supervisor.children.map((_, i) => `${parent.path}.children.${i}`);
      const fresh = await workflows.snapshot(plan.workflowId, [parent.path, ...childPaths]);
      plan.learn(fresh);
      const state = fresh.steps.get(parent.path);
      if (!state) return;
      const output = rollUp(
        supervisor,
        childPaths.map((p) => fresh.steps.get(p)),
      );
      return flow.complete(plan, parent.path, state.attempt, output);
    },

    outputSkill(step) {
      const skills = new Set(step.children.map(outputSkill));
      return skills.size === 1 ? [...skills][0] : undefined;
    },
  };
}
