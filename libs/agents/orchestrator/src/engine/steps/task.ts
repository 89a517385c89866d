import {
  fieldOf,
  MAX_INPUT_TEXT,
  stepWorkKey,
  TaskAssignedV1,
  Topics,
  type DocumentInput,
  type StepOf,
} from '@agent-mesh/contracts';
import type { StartAt, StepDeps, StepUnit } from '../step-unit';

/** A task: one `task.assigned` on `tasks.<skill>`; its result (handled by the orchestrator's controller) ends it. */
export function taskUnit({ workflows }: StepDeps): StepUnit<'task'> {
  /**
   * The task's input: its own, the named field of the previous output, or — a planner's or a
   * judge's task, which name neither — the whole previous output as JSON text (the previous
   * output read only when not at hand).
   */
  const inputOf = async (
    step: StepOf<'task'>,
    { plan, previous }: StartAt,
  ): Promise<DocumentInput | { missing: string }> => {
    if (step.input) return step.input;
    const output =
      previous?.output ?? (previous ? (await workflows.step(plan.workflowId, previous.path))?.output : undefined);
    const field = step.inputFrom?.field;
    const text = field === undefined ? output && JSON.stringify(output) : fieldOf(output, field);
    const named = field ?? 'output';
    if (typeof text !== 'string' || text.length === 0)
      return { missing: `input ${named} of the previous output is ${text === undefined ? 'missing' : 'not text'}` };
    if (text.length > MAX_INPUT_TEXT)
      return { missing: `input ${named} of the previous output is longer than ${MAX_INPUT_TEXT} characters` };
    return {
      id: field === undefined ? (previous?.path ?? 'previous') : `${previous?.path ?? 'previous'}.${field}`,
      text,
    };
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
          workKey: stepWorkKey(plan.workflowId, path),
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
