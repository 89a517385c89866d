import {
  branchTaskId,
  compileAggregationStrategy,
  compileFanOutPolicy,
  FanOutStartedV1,
  TaskAssignedV1,
  Topics,
  type StepOf,
} from '@agent-mesh/contracts';
import { thenAll, type Outgoing, type WorkflowEvents } from '../outgoing';
import type { StepDeps, StepUnit } from '../step-unit';

/** One branch's task (`<workflow>:<step>:<branch>:<attempt>`); the aggregator's `fanout.retry` re-runs branches with it. */
export function branchTask(
  events: WorkflowEvents,
  step: StepOf<'fan-out'>,
  path: string,
  branchIndex: number,
  attempt: number,
): Outgoing {
  return events.event(
    Topics.tasks(step.skill),
    TaskAssignedV1,
    {
      taskId: branchTaskId(events.workflowId, path, branchIndex, attempt),
      branchIndex,
      branchCount: step.inputs.length,
      skill: step.skill,
      input: step.inputs[branchIndex],
      params: step.params,
      stepPath: path,
      attempt,
    },
    { stepPath: path, detail: `branch ${branchIndex}${attempt > 1 ? ` attempt ${attempt}` : ''}` },
  );
}

/**
 * A fan-out: `fanout.started` tells the aggregator the join, then one task per input. The
 * aggregator's `fanout.completed` / `fanout.failed` ends it; branch results are projected by
 * the orchestrator's controller.
 */
export function fanOutUnit({ workflows }: StepDeps): StepUnit<'fan-out'> {
  return {
    start(step, { plan, path }) {
      const { policy, strategy } = compileFanOutPolicy(step, step.inputs.length);
      const join = plan.events.event(
        Topics.taskResults,
        FanOutStartedV1,
        { stepPath: path, skill: step.skill, branchCount: step.inputs.length, policy, strategy },
        { stepPath: path, detail: `${step.inputs.length} branches, ${policy.type}, ${strategy.type}` },
      );
      const tasks = step.inputs.map((_, branch) => branchTask(plan.events, step, path, branch, 1));
      return {
        // On task.results ahead of the tasks, so the aggregator knows the join before any result.
        work: [thenAll(join, tasks)],
        ops: workflows.initBranchOps(
          plan.workflowId,
          path,
          step.inputs.map((input) => input.id),
        ),
      };
    },
    // A fan-out's output has its skill's shape only when joined by the skill's own combine.
    outputSkill: (step) => (compileAggregationStrategy(step.strategy).type === 'combine' ? step.skill : undefined),
  };
}
