import { fieldOf, TaskAssignedV1, Topics, type DocumentInput, type StepOf } from '@agent-mesh/contracts';
import type { StartAt, StepDeps, StepUnit } from '../step-unit';

/** A task: one `task.assigned` on `tasks.<skill>`; its result (handled by the orchestrator's controller) ends it. */
export function taskUnit({ workflows }: StepDeps): StepUnit<'task'> {
  /** The task's input: its own, or the named field of the previous output (read only when not at hand). */
  const inputOf = async (
    step: StepOf<'task'>,
    { plan, path, previous }: StartAt,
  ): Promise<DocumentInput | { missing: string }> => {
    if (step.input) return step.input;
    if (!step.inputFrom) throw new Error(`task at ${path} has no input`);
    const output =
      previous?.output ?? (previous ? (await workflows.step(plan.workflowId, previous.path))?.output : undefined);
    const text = fieldOf(output, step.inputFrom.field);
    if (typeof text !== 'string' || text.length === 0) {
      return {
        missing: `input ${step.inputFrom.field} of the previous output is ${text === undefined ? 'missing' : 'not text'}`,
      };
    }
    return { id: `${previous?.path ?? 'previous'}.${step.inputFrom.field}`, text };
  };

  return {
    async start(step, at) {
      const input = await inputOf(step, at);
      if ('missing' in input) return { failure: input.missing };
      const { plan, path, attempt, delayMs } = at;
      const assigned = plan.events.event(
        Topics.tasks(step.skill),
        TaskAssignedV1,
        {
          taskId: `${plan.workflowId}:${path}:${attempt}`,
          branchIndex: 0,
          branchCount: 1,
          skill: step.skill,
          input,
          params: step.params,
          stepPath: path,
          attempt,
        },
        { stepPath: path, detail: `${step.skill} on ${input.id}`, deliverAfterMs: delayMs },
      );
      return { work: [assigned] };
    },
    outputSkill: (step) => step.skill,
  };
}
