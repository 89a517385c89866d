import { Logger } from '@nestjs/common';
import {
  BoardEntryPostedV1,
  FanOutStartedV1,
  MarketAskV1,
  SagaStartV1,
  SolverStartV1,
  StageFailedV1,
  StageValidatedV1,
  StepCompletedV1,
  StepFailedV1,
  StepStartedV1,
  TaskAssignedV1,
  Topics,
  WorkflowCompletedV1,
  WorkflowFailedV1,
  type ChainStepSpec,
  type EventEnvelope,
  type BlackboardStepSpec,
  type FanOutStepSpec,
  type MarketStepSpec,
  type SagaStepSpec,
  type SolverRoundsStepSpec,
  type StepSpec,
  type SupervisorStepSpec,
  type TaskStepSpec,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import type { MeshPublisher } from '@agent-mesh/nest-pulsar';
import type { SkillRegistry } from '@agent-mesh/skills';
import { evaluateGate } from './gate';
import { fieldOf, parentOf, ROOT, stepAt } from './step-tree';
import type { BranchView, StepState, WorkflowState } from './workflow-state';

type Cause = Pick<EventEnvelope, 'id' | 'traceparent'>;

/**
 * Runs workflow specs as a chain of events. Starting a step publishes the work for it (tasks,
 * a fan-out, the stages of a chain, the children of a supervisor); each step's end is a
 * `step.completed` / `step.failed` event, and consuming that event advances the parent —
 * stage N's completion starts stage N+1, a supervisor finishes when its children have.
 * Transitions are recorded once per (step, attempt); a redelivered event re-publishes at most
 * duplicates that the next transition ignores.
 */
export class WorkflowEngine {
  private readonly log = new Logger('WorkflowEngine');

  constructor(
    private readonly workflows: WorkflowState,
    private readonly publisher: MeshPublisher,
    private readonly skills: SkillRegistry,
  ) {}

  async begin(workflowId: string, spec: WorkflowSpec, cause: EventEnvelope): Promise<void> {
    if (!(await this.workflows.begin(workflowId, spec, cause.occurredAt))) return;
    await this.startStep(workflowId, spec, ROOT, 1, undefined, cause);
  }

  /** Starts one attempt of the step at `path`; `previousPath` names its "previous" output. */
  async startStep(
    workflowId: string,
    spec: WorkflowSpec,
    path: string,
    attempt: number,
    previousPath: string | undefined,
    cause: Cause,
  ): Promise<void> {
    const step = stepAt(spec, path);
    const state: StepState = {
      path,
      kind: step.kind,
      name: step.name,
      status: 'running',
      attempt,
      previousPath,
      startedAt: new Date().toISOString(),
    };
    await this.workflows.startStep(workflowId, state);
    const options = { correlationId: workflowId, causedBy: cause };
    await this.publisher.publish(Topics.workflowEvents, StepStartedV1, { stepPath: path, kind: step.kind, attempt, name: step.name }, options);
    switch (step.kind) {
      case 'task':
        return this.startTask(workflowId, step as TaskStepSpec, path, attempt, previousPath, cause);
      case 'fan-out':
        return this.startFanOut(workflowId, step as FanOutStepSpec, path, cause);
      case 'chain':
        return this.startStep(workflowId, spec, `${path}.stages.0`, 1, previousPath, cause);
      case 'supervisor':
        await Promise.all(
          (step as SupervisorStepSpec).children.map((_, i) =>
            this.startStep(workflowId, spec, `${path}.children.${i}`, 1, previousPath, cause),
          ),
        );
        return;
      case 'saga':
        await this.publisher.publish(Topics.sagaCommands, SagaStartV1, { stepPath: path, steps: (step as SagaStepSpec).steps }, options);
        return;
      case 'market': {
        const market = step as MarketStepSpec;
        return this.publishAsk(workflowId, path, market, 1, market.budget, cause);
      }
      case 'solver-rounds': {
        const rounds = step as SolverRoundsStepSpec;
        await this.publisher.publish(
          Topics.marketRounds,
          SolverStartV1,
          {
            stepPath: path,
            skill: rounds.skill,
            input: rounds.input,
            params: rounds.params,
            solvers: rounds.solvers,
            rounds: rounds.rounds,
            strategy: rounds.strategy,
          },
          options,
        );
        return;
      }
      case 'blackboard': {
        const board = step as BlackboardStepSpec;
        for (const [i, entry] of board.seed.entries()) {
          await this.publisher.publish(
            Topics.blackboard(board.board),
            BoardEntryPostedV1,
            { stepPath: path, board: board.board, entryId: `seed-${i}`, kind: entry.kind, text: entry.text, postedBy: 'seed' },
            options,
          );
        }
        return;
      }
    }
  }

  private async startTask(
    workflowId: string,
    step: TaskStepSpec,
    path: string,
    attempt: number,
    previousPath: string | undefined,
    cause: Cause,
  ): Promise<void> {
    let input = step.input;
    if (!input && step.inputFrom) {
      const previous = previousPath ? await this.workflows.step(workflowId, previousPath) : undefined;
      const text = fieldOf(previous?.output, step.inputFrom.field);
      if (typeof text !== 'string' || text.length === 0) {
        const state = (await this.workflows.step(workflowId, path)) as StepState;
        return this.failStep(
          workflowId,
          state,
          `input ${step.inputFrom.field} of the previous output is ${text === undefined ? 'missing' : 'not text'}`,
          cause,
        );
      }
      input = { id: `${previousPath ?? 'previous'}.${step.inputFrom.field}`, text };
    }
    if (!input) throw new Error(`task at ${path} has no input`);
    const assigned = await this.publisher.publish(
      Topics.tasks(step.skill),
      TaskAssignedV1,
      {
        taskId: `${workflowId}:${path}:${attempt}`,
        branchIndex: 0,
        branchCount: 1,
        skill: step.skill,
        input,
        params: step.params,
        stepPath: path,
        attempt,
      },
      { correlationId: workflowId, causedBy: cause },
    );
    await this.recordPublished(workflowId, assigned, path, `${step.skill} on ${input.id}`);
  }

  /** Events published to topics the orchestrator does not consume still belong on its timeline. */
  private async recordPublished(workflowId: string, event: EventEnvelope, stepPath: string, detail: string): Promise<void> {
    await this.workflows.record(workflowId, event.id, { at: event.occurredAt, type: event.type, source: event.source, stepPath, detail });
  }

  /** Puts the task up for bids; `round` counts re-pricings (the ask id says which). */
  async publishAsk(workflowId: string, path: string, step: MarketStepSpec, round: number, budget: number, cause: Cause): Promise<void> {
    const ask = await this.publisher.publish(
      Topics.marketAsks,
      MarketAskV1,
      {
        stepPath: path,
        askId: `${workflowId}:${path}:ask-${round}`,
        market: step.skill,
        budget,
        maxEstimatedMs: step.maxEstimatedMs,
        expiresAt: Date.now() + step.expireAfterMs,
        input: step.input,
        params: step.params,
      },
      // Keyed by market: one market's orders reach the market maker in order.
      { correlationId: workflowId, causedBy: cause, key: step.skill },
    );
    await this.recordPublished(workflowId, ask, path, `ask ${round} for ${step.skill}, budget ${budget}`);
  }

  private async startFanOut(workflowId: string, step: FanOutStepSpec, path: string, cause: Cause): Promise<void> {
    const options = { correlationId: workflowId, causedBy: cause };
    await this.workflows.initBranches(workflowId, path, step.inputs.map((i) => i.id));
    // On task.results ahead of the tasks, so the aggregator knows the join before any result.
    await this.publisher.publish(
      Topics.taskResults,
      FanOutStartedV1,
      {
        stepPath: path,
        skill: step.skill,
        branchCount: step.inputs.length,
        policy: step.policy ?? { type: 'fail-fast' },
        strategy: step.strategy ?? { type: 'combine' },
      },
      options,
    );
    await Promise.all(step.inputs.map((input, branchIndex) => this.assignBranch(workflowId, step, path, branchIndex, 1, cause, input)));
  }

  async assignBranch(
    workflowId: string,
    step: FanOutStepSpec,
    path: string,
    branchIndex: number,
    attempt: number,
    cause: Cause,
    input = step.inputs[branchIndex],
  ): Promise<void> {
    const assigned = await this.publisher.publish(
      Topics.tasks(step.skill),
      TaskAssignedV1,
      {
        taskId: `${workflowId}:${path}:${branchIndex}:${attempt}`,
        branchIndex,
        branchCount: step.inputs.length,
        skill: step.skill,
        input,
        params: step.params,
        stepPath: path,
        attempt,
      },
      { correlationId: workflowId, causedBy: cause },
    );
    await this.recordPublished(workflowId, assigned, path, `branch ${branchIndex}${attempt > 1 ? ` attempt ${attempt}` : ''}`);
  }

  /** A step's attempt ended well: record it once and announce it (the announcement advances the parent). */
  async completeStep(workflowId: string, path: string, attempt: number, output: Record<string, unknown>, cause: Cause): Promise<void> {
    const current = await this.workflows.step(workflowId, path);
    if (!current || current.attempt !== attempt) return; // a late result of an attempt already replaced
    const finished: StepState = { ...current, status: 'completed', output, finishedAt: new Date().toISOString() };
    await this.workflows.finishStep(workflowId, finished);
    await this.publisher.publish(
      Topics.workflowEvents,
      StepCompletedV1,
      { stepPath: path, kind: current.kind, attempt, output },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  async failStep(workflowId: string, state: StepState, reason: string, cause: Cause, compensated = false): Promise<void> {
    const finished: StepState = { ...state, status: 'failed', error: reason, finishedAt: new Date().toISOString() };
    await this.workflows.finishStep(workflowId, finished);
    await this.publisher.publish(
      Topics.workflowEvents,
      StepFailedV1,
      { stepPath: state.path, kind: state.kind, attempt: state.attempt, reason, compensated: compensated || undefined },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  /** Consumes step.completed: gate and advance a chain, roll up a supervisor, or finish the workflow. */
  async onStepCompleted(workflowId: string, path: string, attempt: number, output: Record<string, unknown>, cause: EventEnvelope): Promise<void> {
    const spec = await this.workflows.spec(workflowId);
    if (!spec || !(await this.isLive(workflowId))) return;
    const parent = parentOf(path);
    const options = { correlationId: workflowId, causedBy: cause };
    switch (parent.kind) {
      case 'root':
        if (await this.workflows.finish(workflowId, `root:${attempt}`, cause.occurredAt, { result: output })) {
          const branches = spec.step.kind === 'fan-out' ? await this.workflows.branches(workflowId, ROOT) : [];
          await this.publisher.publish(Topics.workflowEvents, WorkflowCompletedV1, this.completedBody(spec, output, branches), options);
          this.log.log(`workflow ${workflowId} completed`);
        }
        return;
      case 'chain-stage':
      case 'chain-recovery': {
        const chain = stepAt(spec, parent.chainPath) as ChainStepSpec;
        const chainState = await this.workflows.step(workflowId, parent.chainPath);
        if (!chainState || chainState.status !== 'running') return;
        const stage = chain.stages[parent.stage];
        // A recovery's output stands in for the stage's; it is not gated again.
        if (parent.kind === 'chain-stage' && stage.gate) {
          const verdict = evaluateGate(stage.gate, output);
          if (!verdict.ok) return this.onGateFailed(workflowId, spec, parent.chainPath, parent.stage, attempt, verdict.reason, cause);
          await this.publisher.publish(Topics.workflowEvents, StageValidatedV1, { chainPath: parent.chainPath, stage: parent.stage }, options);
        }
        const next = parent.stage + 1;
        if (next < chain.stages.length) return this.startStep(workflowId, spec, `${parent.chainPath}.stages.${next}`, 1, path, cause);
        return this.completeStep(workflowId, parent.chainPath, chainState.attempt, output, cause);
      }
      case 'supervisor-child': {
        const supervisor = stepAt(spec, parent.supervisorPath) as SupervisorStepSpec;
        const done = await this.workflows.countChild(workflowId, parent.supervisorPath, path);
        if (done < supervisor.children.length) return;
        const supervisorState = await this.workflows.step(workflowId, parent.supervisorPath);
        if (!supervisorState || supervisorState.status !== 'running') return;
        // Only this supervisor's own children: each level rolls up the level below it.
        const children = await Promise.all(
          supervisor.children.map((_, i) => this.workflows.step(workflowId, `${parent.supervisorPath}.children.${i}`)),
        );
        return this.completeStep(workflowId, parent.supervisorPath, supervisorState.attempt, this.rollUp(supervisor, children), cause);
      }
    }
  }

  /** Consumes step.failed: a failed child fails its parent (chains and supervisors), up to the workflow. */
  async onStepFailed(workflowId: string, path: string, reason: string, cause: EventEnvelope, compensated = false): Promise<void> {
    if (!(await this.isLive(workflowId))) return;
    const parent = parentOf(path);
    if (parent.kind === 'root') {
      const status = compensated ? 'compensated' : 'failed';
      if (await this.workflows.finish(workflowId, 'root:failed', cause.occurredAt, { reason, status })) {
        await this.publisher.publish(
          Topics.workflowEvents,
          WorkflowFailedV1,
          { reason, failedBranches: [] },
          { correlationId: workflowId, causedBy: cause },
        );
        this.log.warn(`workflow ${workflowId} failed: ${reason}`);
      }
      return;
    }
    const parentPath = parent.kind === 'supervisor-child' ? parent.supervisorPath : parent.chainPath;
    const parentState = await this.workflows.step(workflowId, parentPath);
    if (!parentState || parentState.status !== 'running') return;
    await this.failStep(workflowId, parentState, `${path} failed: ${reason}`, cause, compensated);
  }

  private async onGateFailed(
    workflowId: string,
    spec: WorkflowSpec,
    chainPath: string,
    stageIndex: number,
    attempt: number,
    reason: string,
    cause: EventEnvelope,
  ): Promise<void> {
    const chain = stepAt(spec, chainPath) as ChainStepSpec;
    const onFail = chain.stages[stageIndex].gate?.onFail;
    const stagePath = `${chainPath}.stages.${stageIndex}`;
    const options = { correlationId: workflowId, causedBy: cause };
    const retriesLeft = onFail?.action === 'retry' && attempt <= (onFail.maxRetries ?? 0);
    const action = onFail?.action === 'retry' && !retriesLeft ? 'fail' : (onFail?.action ?? 'fail');
    await this.publisher.publish(Topics.workflowEvents, StageFailedV1, { chainPath, stage: stageIndex, reason, action }, options);
    const stageState = await this.workflows.step(workflowId, stagePath);
    if (action === 'retry') {
      // The bad output goes nowhere: the stage runs again on the same input.
      return this.startStep(workflowId, spec, stagePath, attempt + 1, stageState?.previousPath, cause);
    }
    if (action === 'recover') return this.startStep(workflowId, spec, `${stagePath}.recovery`, 1, stagePath, cause);
    const chainState = await this.workflows.step(workflowId, chainPath);
    if (chainState?.status === 'running') {
      const why = onFail?.action === 'retry' ? `gate of stage ${stageIndex} still failing after ${attempt} attempts: ${reason}` : `gate of stage ${stageIndex} failed: ${reason}`;
      await this.failStep(workflowId, chainState, why, cause);
    }
  }

  private rollUp(supervisor: SupervisorStepSpec, children: readonly (StepState | undefined)[]): Record<string, unknown> {
    const kinds = new Set(supervisor.children.map((c) => skillOf(c)));
    const [skill] = [...kinds];
    // Children of one skill combine with that skill's own combine; otherwise keep them side by side.
    if (kinds.size === 1 && skill && this.skills.get(skill)) {
      return this.skills.require(skill).combine(
        children.map((c, i) => ({ inputId: c?.name ?? `${supervisor.children[i].kind}-${i}`, output: c?.output ?? {} })),
      );
    }
    return { children: children.map((c, i) => ({ name: c?.name ?? `child-${i}`, output: c?.output ?? {} })) };
  }

  private completedBody(spec: WorkflowSpec, result: Record<string, unknown>, rootBranches: readonly BranchView[]) {
    const root = spec.step;
    if (root.kind !== 'fan-out') return { skill: skillOf(root) ?? root.kind, branchCount: 1, succeeded: 1, failed: 0, result };
    const succeeded = rootBranches.filter((b) => b.status === 'completed').length;
    const failed = rootBranches.filter((b) => b.status === 'failed').length;
    return { skill: root.skill, branchCount: root.inputs.length, succeeded, failed, result };
  }

  private async isLive(workflowId: string): Promise<boolean> {
    const status = await this.workflows.status(workflowId);
    return status === 'running' || status === 'accepted';
  }
}

/** The skill a step's output is shaped by (fan-outs and tasks; supervisors of one skill). */
function skillOf(step: StepSpec): string | undefined {
  if (step.kind === 'task') return step.skill;
  // A fan-out's output has its skill's shape only when joined by the skill's own combine.
  if (step.kind === 'fan-out') return (step.strategy?.type ?? 'combine') === 'combine' ? step.skill : undefined;
  if (step.kind === 'supervisor') {
    const skills = new Set(step.children.map(skillOf));
    return skills.size === 1 ? [...skills][0] : undefined;
  }
  return undefined;
}
