import { ContractValidationError, stepAt, uuidv7, validateWorkflowSpec } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore } from '@agent-mesh/state';
import { cause, doc, RecordingPublisher, types } from './recording-publisher';
import { WorkflowEngine } from './workflow-engine';
import { WorkflowState } from './workflow-state';

const task = (skill: string, text: string) => ({ kind: 'task', skill, input: doc(skill, text) });

describe('planned supervisors and judge gates', () => {
  let store: MemoryStateStore;
  let publisher: RecordingPublisher;
  let workflows: WorkflowState;
  let engine: WorkflowEngine;

  beforeEach(() => {
    store = new MemoryStateStore();
    publisher = new RecordingPublisher();
    workflows = new WorkflowState(store);
    const skills = createDefaultSkillRegistry();
    // a skill of the mesh whose outputs roll up side by side
    skills.register({
      name: 'tagger',
      description: 'tags (test)',
      run: async () => ({}),
      combine: (outputs) => ({ tagged: outputs.map((o) => o.inputId) }),
    });
    engine = new WorkflowEngine(workflows, publisher, skills);
  });

  async function begin(step: object): Promise<string> {
    const spec = validateWorkflowSpec({ step });
    const id = uuidv7();
    await workflows.accept(id, spec, new Date().toISOString());
    await engine.begin(id, spec, cause(), { origin: 'submit' });
    return id;
  }

  const stepOf = async (id: string, path: string) => (await workflows.steps(id)).find((s) => s.path === path);
  const planner = { skill: 'planner', input: doc('goal', 'summarise and tag') };

  describe('the spec', () => {
    const refused = (step: object) => {
      try {
        validateWorkflowSpec({ step });
      } catch (error) {
        return (error as ContractValidationError).fieldErrors.map((e) => e.field);
      }
      return [];
    };

    it('takes a supervisor with exactly one of children and planner, a planner with an input or a previous output', () => {
      expect(refused({ kind: 'supervisor', planner })).toEqual([]);
      expect(refused({ kind: 'supervisor', planner, children: [task('keywords', 'x')] })).toEqual(['step.children']);
      expect(refused({ kind: 'supervisor' })).toEqual(['step.children']);
      expect(refused({ kind: 'supervisor', planner: { skill: 'planner' } })).toEqual(['step.planner.input']);
      const afterStage = {
        kind: 'chain',
        stages: [{ step: task('summarize', 'x') }, { step: { kind: 'supervisor', planner: { skill: 'planner' } } }],
      };
      expect(refused(afterStage)).toEqual([]);
      expect(refused({ kind: 'supervisor', planner: { skill: 'Bad' } })).toEqual(['step.planner.skill']);
    });

    it('takes a judge beside a gate checks, naming its fields', () => {
      const chain = (judge: object) => ({
        kind: 'chain',
        stages: [
          {
            step: task('summarize', 'x'),
            gate: { checks: [{ field: 'summary', op: 'exists' }], judge, onFail: { action: 'fail' } },
          },
        ],
      });
      expect(refused(chain({ skill: 'judge', params: { rubric: 'short' } }))).toEqual([]);
      expect(refused(chain({ params: {} }))).toEqual(['step.stages.0.gate.judge.skill']);
    });
  });

  describe('a planned supervisor', () => {
    it('runs its planner, records the plan, and runs the planned children as any supervisor', async () => {
      const id = await begin({ kind: 'supervisor', planner });
      const started = publisher.take();
      expect(types(started)).toEqual([
        'task.assigned tasks.planner',
        'step.started workflow.events',
        'step.started workflow.events',
      ]);
      expect(started[0].data).toMatchObject({ taskId: `${id}:root.planner:1`, input: planner.input });

      // Another process, which read (and cached) the spec before the plan.
      const elsewhere = new WorkflowState(store);
      const before = await elsewhere.spec(id);
      expect(before && stepAt(before, 'root', 'supervisor').children).toBeUndefined();
      const plan = { children: [task('tagger', 'bees and flowers'), task('tagger', 'ants and leaves')] };
      await engine.completeStep(id, 'root.planner', 1, plan, cause());
      const planned = publisher.take();
      expect(types(planned)).toEqual([
        'task.assigned tasks.tagger',
        'task.assigned tasks.tagger',
        'step.completed workflow.events',
        'supervisor.planned workflow.events',
        'step.started workflow.events',
        'step.started workflow.events',
      ]);
      expect(planned.find((e) => e.type === 'supervisor.planned')?.data).toMatchObject({
        stepPath: 'root',
        attempt: 1,
        children: plan.children,
      });

      // It finds the planned children: its cached spec has no step there, so it reads the spec again.
      const spec = await elsewhere.spec(id, 'root.children.1');
      expect(spec && stepAt(spec, 'root.children.1')).toMatchObject({ kind: 'task', skill: 'tagger' });
      expect(await new WorkflowState(store).currentSpec(id)).toEqual(spec);

      await engine.completeStep(id, 'root.children.0', 1, { keywords: ['bees'] }, cause());
      await engine.completeStep(id, 'root.children.1', 1, { keywords: ['ants'] }, cause());
      expect(await workflows.status(id)).toBe('completed');
      const view = await workflows.view(id);
      expect(view?.steps.map((s) => [s.path, s.status])).toEqual([
        ['root', 'completed'],
        ['root.children.0', 'completed'],
        ['root.children.1', 'completed'],
        ['root.planner', 'completed'],
      ]);
      expect(view?.timeline.map((e) => e.type)).toContain('supervisor.planned');
    });

    it('takes the plan from an llm skill structured output (json.children)', async () => {
      const id = await begin({ kind: 'supervisor', planner });
      await engine.completeStep(
        id,
        'root.planner',
        1,
        { json: { children: [task('keywords', 'x')] }, text: '{}' },
        cause(),
      );
      expect(await stepOf(id, 'root.children.0')).toMatchObject({ kind: 'task', status: 'running' });
    });

    it('refuses an invalid plan, runs the planner again, and fails the supervisor naming the fields once out of attempts', async () => {
      const id = await begin({ kind: 'supervisor', planner });
      publisher.take();
      await engine.completeStep(id, 'root.planner', 1, { children: [{ kind: 'teleport' }] }, cause());
      const retried = publisher.take();
      expect(types(retried)).toEqual([
        'task.assigned tasks.planner',
        'step.completed workflow.events',
        'supervisor.plan-refused workflow.events',
        'step.started workflow.events',
      ]);
      expect(retried[2].data).toMatchObject({
        action: 'retry',
        reason: expect.stringContaining('step.children.0.kind'),
      });
      expect(await stepOf(id, 'root.planner')).toMatchObject({ status: 'running', attempt: 2 });

      // Too deep: eight levels under the root supervisor.
      let deep: object = task('keywords', 'x');
      for (let i = 0; i < 8; i++) deep = { kind: 'supervisor', children: [deep] };
      await engine.completeStep(id, 'root.planner', 2, { children: [deep] }, cause());
      expect(await workflows.status(id)).toBe('failed');
      const view = await workflows.view(id);
      expect(view?.reason).toMatch(/no valid plan after 2 attempts: .*steps nest at most 8 deep/);
      expect(view?.steps.some((s) => s.path.startsWith('root.children'))).toBe(false);
    });

    it('refuses a plan naming a skill the mesh does not know, as a submission would be', async () => {
      const id = await begin({ kind: 'supervisor', planner: { ...planner, maxAttempts: 1 } });
      const chain = { kind: 'chain', stages: [{ step: task('keywords', 'x') }, { step: task('nosuch', 'y') }] };
      await engine.completeStep(id, 'root.planner', 1, { children: [task('keywords', 'x'), chain] }, cause());
      expect((await workflows.view(id))?.reason).toMatch(
        /step\.children\.1\.stages\.1\.step\.skill: unknown skill "nosuch"/,
      );
    });

    it('refuses a plan with more children than maxChildren, or none', async () => {
      const id = await begin({ kind: 'supervisor', planner: { ...planner, maxAttempts: 1 }, maxChildren: 1 });
      await engine.completeStep(
        id,
        'root.planner',
        1,
        { children: [task('keywords', 'a'), task('keywords', 'b')] },
        cause(),
      );
      expect((await workflows.view(id))?.reason).toMatch(/step.children: at most maxChildren \(1\) children, got 2/);

      const none = await begin({ kind: 'supervisor', planner: { ...planner, maxAttempts: 1 } });
      await engine.completeStep(none, 'root.planner', 1, { answer: 'no plan here' }, cause());
      expect((await workflows.view(none))?.reason).toMatch(/step.children: a plan is/);
    });

    it('plans inside a chain: the planner reads the previous output, the children get it too', async () => {
      const id = await begin({
        kind: 'chain',
        stages: [
          { step: task('summarize', 'One. Two.') },
          { step: { kind: 'supervisor', planner: { skill: 'planner' } } },
        ],
      });
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees' }, cause());
      const assigned = publisher.take().find((e) => e.type === 'task.assigned' && e.topic === 'tasks.planner');
      expect(assigned?.data['input']).toEqual({ id: 'root.stages.0', text: JSON.stringify({ summary: 'bees' }) });
      const child = { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } };
      await engine.completeStep(id, 'root.stages.1.planner', 1, { children: [child] }, cause());
      const tasks = publisher.take().filter((e) => e.topic === 'tasks.keywords');
      expect(tasks.map((e) => e.data['input'])).toEqual([{ id: 'root.stages.0.summary', text: 'bees' }]);
    });
  });

  describe('a judge gate', () => {
    const judged = (onFail: object) => ({
      kind: 'chain',
      stages: [
        {
          step: task('summarize', 'One. Two.'),
          gate: { checks: [{ field: 'summary', op: 'exists' }], judge: { skill: 'judge' }, onFail },
        },
        { step: { kind: 'task', skill: 'keywords', inputFrom: { source: 'previous', field: 'summary' } } },
      ],
    });

    it('runs once the checks pass, on the output as JSON; its accept validates the stage with its reason', async () => {
      const id = await begin(judged({ action: 'fail' }));
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees' }, cause());
      const judging = publisher.take();
      expect(types(judging)).toEqual([
        'task.assigned tasks.judge',
        'step.completed workflow.events',
        'step.started workflow.events',
      ]);
      expect(judging[0].data).toMatchObject({
        taskId: `${id}:root.stages.0.judge:1`,
        input: { id: 'root.stages.0', text: '{"summary":"bees"}' },
      });
      await engine.completeStep(id, 'root.stages.0.judge', 1, { json: { accept: true, reason: 'on topic' } }, cause());
      const next = publisher.take();
      expect(next.find((e) => e.type === 'stage.validated')?.data).toMatchObject({ stage: 0, reason: 'on topic' });
      // The next stage reads the stage's output, not the judge's.
      expect(next.find((e) => e.topic === 'tasks.keywords')?.data['input']).toEqual({
        id: 'root.stages.0.summary',
        text: 'bees',
      });
    });

    it('does not run when a check fails', async () => {
      const id = await begin(judged({ action: 'fail' }));
      publisher.take();
      await engine.completeStep(id, 'root.stages.0', 1, { summary: '' }, cause());
      expect(types(publisher.take())).not.toContain('task.assigned tasks.judge');
      expect(await workflows.status(id)).toBe('failed');
    });

    it('rejecting fails the gate as a check would: the stage retried, and judged again; then the chain fails', async () => {
      const id = await begin(judged({ action: 'retry', maxRetries: 1 }));
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees' }, cause());
      await engine.completeStep(id, 'root.stages.0.judge', 1, { accept: false, reason: 'off topic' }, cause());
      const failed = publisher.take().find((e) => e.type === 'stage.failed');
      expect(failed?.data).toMatchObject({ action: 'retry', reason: 'the judge rejected it: off topic' });
      expect(await stepOf(id, 'root.stages.0')).toMatchObject({ status: 'running', attempt: 2 });

      await engine.completeStep(id, 'root.stages.0', 2, { summary: 'wasps' }, cause());
      expect(await stepOf(id, 'root.stages.0.judge')).toMatchObject({ status: 'running', attempt: 2 });
      await engine.completeStep(id, 'root.stages.0.judge', 2, { accept: false }, cause());
      expect(await workflows.status(id)).toBe('failed');
      expect((await workflows.view(id))?.reason).toMatch(
        /gate of stage 0 still failing after 2 attempts: the judge rejected it: no reason given/,
      );
    });

    it('an answer without a verdict is a rejection', async () => {
      const id = await begin(judged({ action: 'fail' }));
      await engine.completeStep(id, 'root.stages.0', 1, { summary: 'bees' }, cause());
      await engine.completeStep(id, 'root.stages.0.judge', 1, { text: 'looks fine to me' }, cause());
      expect((await workflows.view(id))?.reason).toMatch(/the judge gave no verdict/);
    });
  });
});
