import { uuidv7, validateWorkflowSpec, ContractValidationError, type WorkflowDeadline } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore } from '@agent-mesh/state';
import { approvedOutput, rejectedReason } from './steps';
import { budgetProblem } from './usage';
import { cause, doc, RecordingPublisher, types } from './recording-publisher';
import { WorkflowEngine } from './workflow-engine';
import { WorkflowState } from './workflow-state';

const usage = (promptTokens: number, completionTokens: number, costUsd?: number) => ({
  promptTokens,
  completionTokens,
  costUsd,
  calls: 1,
});

describe('approval steps and budgets', () => {
  let publisher: RecordingPublisher;
  let workflows: WorkflowState;
  let engine: WorkflowEngine;

  beforeEach(() => {
    publisher = new RecordingPublisher();
    workflows = new WorkflowState(new MemoryStateStore());
    engine = new WorkflowEngine(workflows, publisher, createDefaultSkillRegistry());
  });

  async function begin(spec: object): Promise<string> {
    const valid = validateWorkflowSpec(spec);
    const id = uuidv7();
    await workflows.accept(id, valid, new Date().toISOString());
    await engine.begin(id, valid, cause(), { origin: 'submit' });
    return id;
  }
  const stepOf = async (id: string, path: string) => (await workflows.steps(id)).find((s) => s.path === path);

  const draftThenApprove = {
    kind: 'chain',
    stages: [
      { step: { kind: 'task', skill: 'summarize', input: doc('a', 'One. Two. Three.') } },
      { step: { kind: 'approval', prompt: 'Publish this summary?', deadlineMs: 60_000 } },
      { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'previous.summary' } } },
    ],
  };

  describe('approval', () => {
    it('waits, dispatching nothing, shown as awaiting approval with its prompt', async () => {
      const id = await begin({ step: draftThenApprove });
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees visit flowers' }, cause());
      const events = publisher.take();
      // Only announcements and its own deadline's timer: no task goes out.
      expect(types(events)).toEqual(['step.completed workflow.events', 'step.started workflow.events']);
      expect(events.filter((e) => e.topic === 'workflow.timers')).toHaveLength(1);
      expect(await stepOf(id, 'root.stages.1')).toMatchObject({
        kind: 'approval',
        status: 'running',
        awaiting: { what: 'approval', prompt: 'Publish this summary?' },
      });
    });

    it('approved: completes with the decision and the output it was asked about, which the next stage reads', async () => {
      const id = await begin({ step: draftThenApprove });
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees visit flowers' }, cause());
      publisher.take();
      const output = approvedOutput({ comment: 'fine' }, { summary: 'bees visit flowers' });
      await engine.completeStep(id, 'root.stages.1', 1, output, cause());
      const events = publisher.take();
      expect(types(events)).toContain('task.assigned tasks.keywords');
      expect(events.find((e) => e.type === 'task.assigned')?.data).toMatchObject({
        input: { id: 'root.stages.1.previous.summary', text: 'bees visit flowers' },
      });
      const approval = await stepOf(id, 'root.stages.1');
      expect(approval).toMatchObject({ status: 'completed', output: { approved: true, comment: 'fine' } });
      expect(approval?.awaiting).toBeUndefined();
    });

    it('rejected: fails with the comment as reason, and the workflow with it', async () => {
      const id = await begin({ step: { kind: 'approval', prompt: 'Go?' } });
      await engine.failStep(id, 'root', 1, rejectedReason({ comment: 'not yet', by: 'ana' }), cause());
      expect(await workflows.view(id)).toMatchObject({ status: 'failed', reason: 'rejected by ana: not yet' });
    });

    it('fails on its deadline when nobody decided, and a decision after it changes nothing', async () => {
      const id = await begin({ step: { kind: 'approval', deadlineMs: 5000 } });
      const timer = publisher.take().find((e) => e.topic === 'workflow.timers' && e.data['scope'] === 'step');
      expect(timer).toBeDefined();
      await engine.expire(id, timer?.data as unknown as WorkflowDeadline, cause());
      expect(await workflows.view(id)).toMatchObject({ status: 'failed', reason: 'deadline exceeded (5000 ms)' });
      await engine.completeStep(id, 'root', 1, approvedOutput({}, undefined), cause());
      expect(await workflows.view(id)).toMatchObject({ status: 'failed' });
    });

    it('validates its prompt', () => {
      expect(() => validateWorkflowSpec({ step: { kind: 'approval', prompt: 'x'.repeat(2001) } })).toThrow(
        ContractValidationError,
      );
    });
  });

  describe('budgets', () => {
    const twoStages = (tokens: number) => ({
      budget: { tokens },
      step: {
        kind: 'chain',
        stages: [
          { step: { kind: 'task', skill: 'summarize', input: doc('a', 'One. Two.') } },
          { step: { kind: 'task', skill: 'keywords', input: doc('b', 'bees') } },
        ],
      },
    });

    it('refuses a budget that is not a positive number, naming budget.tokens', () => {
      for (const tokens of [0, -5, 1.5, 'many']) {
        try {
          validateWorkflowSpec({ budget: { tokens }, step: { kind: 'approval' } });
          throw new Error('accepted');
        } catch (error) {
          expect((error as ContractValidationError).fieldErrors.map((e) => e.field)).toEqual(['budget.tokens']);
        }
      }
      expect(() => validateWorkflowSpec({ budget: { costUsd: 0 }, step: { kind: 'approval' } })).toThrow(
        ContractValidationError,
      );
    });

    it('rolls usage up per step, its ancestors and the workflow, once per result event', async () => {
      const id = await begin(twoStages(10_000));
      const first = cause();
      expect(await engine.charge(id, 'root.stages.0', usage(100, 20, 0.001), first)).toEqual({
        counted: true,
        overBudget: undefined,
      });
      // redelivered: counted once
      expect(await engine.charge(id, 'root.stages.0', usage(100, 20, 0.001), first)).toMatchObject({ counted: false });
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'x' }, first);
      await engine.charge(id, 'root.stages.1', usage(5, 5), cause());
      const view = await workflows.view(id);
      expect(view?.usage).toEqual({ promptTokens: 105, completionTokens: 25, costUsd: 0.001, calls: 2 });
      expect(view?.steps.find((s) => s.path === 'root.stages.0')?.usage).toEqual({
        promptTokens: 100,
        completionTokens: 20,
        costUsd: 0.001,
        calls: 1,
      });
      expect(view?.steps.find((s) => s.path === 'root.stages.1')?.usage).toEqual({
        promptTokens: 5,
        completionTokens: 5,
        costUsd: undefined,
        calls: 1,
      });
    });

    it('a result over the budget gives the reason; a step about to dispatch once it is spent fails, sending nothing', async () => {
      const id = await begin(twoStages(1000));
      publisher.take();
      const { overBudget } = await engine.charge(id, 'root.stages.0', usage(1000, 250), cause());
      expect(overBudget).toBe('budget exceeded: 1,250 tokens used of 1,000');

      // Had the step completed anyway (a budget spent by other steps), the next stage would not go out.
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'x' }, cause());
      const events = publisher.take();
      expect(types(events)).not.toContain('task.assigned tasks.keywords');
      expect(await stepOf(id, 'root.stages.1')).toMatchObject({
        status: 'failed',
        error: 'budget exceeded: 1,250 tokens used of 1,000',
      });
      expect(await workflows.view(id)).toMatchObject({
        status: 'failed',
        reason: 'root.stages.1 failed: budget exceeded: 1,250 tokens used of 1,000',
      });
    });

    it('says what is over: tokens, or dollars; at dispatch, a budget used exactly is spent', () => {
      const used = { promptTokens: 600, completionTokens: 400, costUsd: 0.02, calls: 3 };
      expect(budgetProblem({ tokens: 1000 }, used)).toBeUndefined();
      expect(budgetProblem({ tokens: 1000 }, used, true)).toBe('budget exceeded: 1,000 tokens used of 1,000');
      expect(budgetProblem({ costUsd: 0.01 }, used)).toBe('budget exceeded: $0.02 used of $0.01');
      expect(budgetProblem(undefined, used, true)).toBeUndefined();
    });
  });
});
