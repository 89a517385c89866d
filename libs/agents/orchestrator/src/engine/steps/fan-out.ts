import {
  backoffDelayMs,
  backoffPolicy,
  branchTaskId,
  branchWorkKey,
  compileAggregationStrategy,
  compileFanOutPolicy,
  FanOutStartedV1,
  TaskAssignedV1,
  TaskFailedV1,
  Topics,
  type StepOf,
} from '@agent-mesh/contracts';
import { deadlineTimer, tighterOf } from '../deadlines';
import { thenAll, type Outgoing, type WorkflowEvents } from '../outgoing';
import type { StepDeps, StepUnit } from '../step-unit';

/**
 * One branch's task (`<workflow>:<step>:<branch>:<attempt>`); the aggregator's `fanout.retry`
 * re-runs branches with it, `delayMs` later (the retry's backoff).
 */
export function branchTask(
  events: WorkflowEvents,
  step: StepOf<'fan-out'>,
  path: string,
  branchIndex: number,
  attempt: number,
  delayMs = 0,
): Outgoing {
  return events.event(
    Topics.tasks(step.skill),
    TaskAssignedV1,
    {
      taskId: branchTaskId(events.workflowId, path, branchIndex, attempt),
      workKey: branchWorkKey(events.workflowId, path, branchIndex),
      branchIndex,
      branchCount: step.inputs.length,
      skill: step.skill,
      input: step.inputs[branchIndex],
      params: step.params,
      stepPath: path,
      attempt,
    },
    {
      stepPath: path,
      detail: `branch ${branchIndex}${attempt > 1 ? ` attempt ${attempt}` : ''}`,
      deliverAfterMs: delayMs,
    },
  );
}

/** How long a branch's re-run (`attempt` ≥ 2) waits: retry-branch's backoff for that retry. */
export function branchRetryDelayMs(step: StepOf<'fan-out'>, attempt: number): number {
  const policy = step.policy?.type === 'retry-branch' ? step.policy : undefined;
  return backoffDelayMs(backoffPolicy(policy?.backoff, (policy?.maxRetries ?? 1) + 1), attempt - 1);
}

/**
 * The timer of branches whose tasks go out `delayMs` from now: one for all of them, and only
 * when their deadline (`branchDeadlineMs`) is tighter than the fan-out's (`deadlineAt`).
 */
export function branchesTimer(
  events: WorkflowEvents,
  step: StepOf<'fan-out'>,
  path: string,
  branches: readonly number[],
  attempt: number,
  deadlineAt: number | undefined,
  now: number,
  delayMs = 0,
): Outgoing[] {
  const ms = step.branchDeadlineMs;
  if (ms === undefined || !tighterOf(deadlineAt, now + delayMs, ms).own) return [];
  const deadline = { scope: 'branches' as const, stepPath: path, attempt, deadlineMs: ms, branches: [...branches] };
  return [deadlineTimer(events, deadline, delayMs + ms)];
}

/**
 * Branches past their deadline, as the failed results of their tasks (same task ids) on
 * `task.results`: the aggregator's join and the orchestrator's projection count each task's
 * first result only, so a branch is counted once whichever comes first.
 */
export function branchesTimedOut(
  events: WorkflowEvents,
  step: StepOf<'fan-out'>,
  path: string,
  branches: readonly number[],
  attempt: number,
  reason: string,
): Outgoing[] {
  return branches.map((branchIndex) =>
    events.command(Topics.taskResults, TaskFailedV1, {
      taskId: branchTaskId(events.workflowId, path, branchIndex, attempt),
      branchIndex,
      branchCount: step.inputs.length,
      skill: step.skill,
      stepPath: path,
      attempt,
      inputId: step.inputs[branchIndex]?.id ?? String(branchIndex),
      error: reason,
      worker: 'orchestrator',
    }),
  );
}

/**
 * A fan-out: `fanout.started` tells the aggregator the join, then one task per input. The
 * aggregator's `fanout.completed` / `fanout.failed` ends it; branch results are projected by
 * the orchestrator's controller.
 */
export function fanOutUnit({ workflows, now }: StepDeps): StepUnit<'fan-out'> {
  return {
    start(step, { plan, path, deadlineAt }) {
      const { policy, strategy } = compileFanOutPolicy(step, step.inputs.length);
      const join = plan.events.event(
        Topics.taskResults,
        FanOutStartedV1,
        { stepPath: path, skill: step.skill, branchCount: step.inputs.length, policy, strategy },
        { stepPath: path, detail: `${step.inputs.length} branches, ${policy.type}, ${strategy.type}` },
      );
      const tasks = step.inputs.map((_, branch) => branchTask(plan.events, step, path, branch, 1));
      const branches = step.inputs.map((_, i) => i);
      const timers = branchesTimer(plan.events, step, path, branches, 1, deadlineAt, now());
      return {
        // On task.results ahead of the tasks, so the aggregator knows the join before any result.
        work: [thenAll(join, tasks), ...timers],
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
