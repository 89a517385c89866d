import type { StepState, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { startOpenAiStub, type OpenAiStub, type RecordedRequest } from '@agent-mesh/skills/testing';
import { InProcessMesh, startAgents, WORKFLOW_ROLES, WorkflowClient, type AgentProcess } from '@agent-mesh/testing';
import { CountSkill, DraftSkill, PlanSkill, ScoreJudgeSkill, sumWords } from './support/test-skills';

/*
 * A planned supervisor and a judge gate across agent processes on the memory bus (an
 * orchestrator, an aggregator, two workers), driven over HTTP only. The planner and the judge
 * are deterministic test skills, run by the workers as any task — and, in the last case, the
 * `llm` skill (registered by the runtime from LLM_BASE_URL) with a `schema`, answered by the
 * OpenAI-compatible stub.
 */

const doc = (id: string, text: string) => ({ id, text });
const countTask = (id: string, text: string) => ({ kind: 'task', name: id, skill: 'count', input: doc(id, text) });

const stepOf = (workflow: WorkflowView, path: string): StepState => {
  const found = workflow.steps.find((s) => s.path === path);
  if (!found) throw new Error(`no step ${path} in ${workflow.steps.map((s) => s.path).join(', ')}`);
  return found;
};
const typesOn = (workflow: WorkflowView, type: string) => workflow.timeline.filter((e) => e.type === type);

describe('planner supervisors and judge gates across agent processes (memory bus)', () => {
  const mesh = new InProcessMesh();
  const count = new CountSkill();
  const plan = new PlanSkill();
  const judge = new ScoreJudgeSkill();
  const draft = new DraftSkill();
  const agents: AgentProcess[] = [];
  let client: WorkflowClient;
  let stub: OpenAiStub;
  /** How the stub answers a request asking for JSON (a `schema`): set by the llm case. */
  let answerJson: (request: RecordedRequest) => unknown = () => ({});

  beforeAll(async () => {
    stub = await startOpenAiStub({ json: (request) => answerJson(request) });
    const env = { LLM_BASE_URL: stub.baseUrl, LLM_MODEL: 'stub-model' };
    agents.push(
      ...(await startAgents(mesh, WORKFLOW_ROLES, () => {
        const skills = createDefaultSkillRegistry();
        for (const skill of [count, plan, judge, draft]) skills.register(skill);
        return { skills, env };
      })),
    );
    client = new WorkflowClient(agents[0].url, { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    await mesh.stopAll();
    await stub.close();
  });

  describe('a planned supervisor', () => {
    it('runs the plan its planner gives: three count tasks, rolled up as a static supervisor would', async () => {
      const workflow = await client.run({
        step: { kind: 'supervisor', planner: { skill: 'plan', input: doc('p-good', 'three counts') }, maxChildren: 3 },
      });
      expect(workflow.status).toBe('completed');
      // 1 + 2 + 3 words, combined by count's own combine, in plan order
      expect(workflow.result).toEqual({ words: 6, inputs: ['p-good-c0', 'p-good-c1', 'p-good-c2'] });
      expect(workflow.steps.map((s) => [s.path, s.kind, s.status])).toEqual([
        ['root', 'supervisor', 'completed'],
        ['root.children.0', 'task', 'completed'],
        ['root.children.1', 'task', 'completed'],
        ['root.children.2', 'task', 'completed'],
        ['root.planner', 'task', 'completed'],
      ]);
      expect(stepOf(workflow, 'root.children.2').output).toEqual({ words: 3 });
      expect(stepOf(workflow, 'root').output).toEqual(
        sumWords([0, 1, 2].map((i) => ({ inputId: `p-good-c${i}`, output: { words: i + 1 } }))),
      );
      const [planned] = typesOn(workflow, 'supervisor.planned');
      expect(planned).toMatchObject({ stepPath: 'root', detail: '3 children: task, task, task' });
      expect(plan.runs.get('p-good')).toBe(1);
    });

    it('refuses a plan with an unknown kind, runs the planner again, then fails naming the field', async () => {
      const workflow = await client.run({
        step: { kind: 'supervisor', planner: { skill: 'plan', input: doc('p-kind', 'unknown kind') } },
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toMatch(/no valid plan after 2 attempts: .*step\.children\.1\.kind/);
      expect(plan.runs.get('p-kind')).toBe(2);
      expect(typesOn(workflow, 'supervisor.plan-refused').map((e) => e.detail?.split(':')[0])).toEqual([
        'retry',
        'fail',
      ]);
      expect(workflow.steps.some((s) => s.path.startsWith('root.children'))).toBe(false);
    });

    it('refuses a plan nested too deep (counted from the supervisor), with its retry', async () => {
      const workflow = await client.run({
        step: {
          kind: 'chain',
          stages: [
            { step: countTask('before', 'a b') },
            { step: { kind: 'supervisor', planner: { skill: 'plan', input: doc('p-deep', 'too deep') } } },
          ],
        },
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toMatch(/no valid plan after 2 attempts: .*steps nest at most 8 deep/);
      expect(plan.runs.get('p-deep')).toBe(2);
    });

    it('is refused at submission with both children and planner (400 naming the field)', async () => {
      const { status, json } = await client.request('POST', '/workflows', {
        step: { kind: 'supervisor', planner: { skill: 'plan', input: doc('x', 'y') }, children: [countTask('a', 'b')] },
      });
      expect(status).toBe(400);
      expect(JSON.stringify(json)).toContain('step.children');
      const unknown = await client.request('POST', '/workflows', {
        step: { kind: 'supervisor', planner: { skill: 'nosuchskill', input: doc('x', 'y') } },
      });
      expect(unknown.status).toBe(400);
      expect(JSON.stringify(unknown.json)).toContain('step.planner.skill');
    });
  });

  describe('a judge gate', () => {
    const judged = (id: string, text: string, onFail: object) => ({
      step: {
        kind: 'chain',
        stages: [
          {
            step: { kind: 'task', skill: 'draft', input: doc(id, text) },
            gate: { checks: [{ field: 'text', op: 'exists' }], judge: { skill: 'judge' }, onFail },
          },
          { step: { kind: 'task', skill: 'count', inputFrom: { source: 'previous', field: 'text' } } },
        ],
      },
    });

    it('rejects the first draft, the stage runs again, and accepts the second: the chain goes on', async () => {
      const workflow = await client.run(judged('j-retry', 'improves with care', { action: 'retry', maxRetries: 2 }));
      expect(workflow.status).toBe('completed');
      // the second draft "improves with care v2": 4 words
      expect(workflow.result).toEqual({ words: 4 });
      expect(stepOf(workflow, 'root.stages.0')).toMatchObject({
        attempt: 2,
        output: { text: 'improves with care v2', score: 9 },
      });
      expect(stepOf(workflow, 'root.stages.0.judge')).toMatchObject({ attempt: 2, status: 'completed' });
      expect(typesOn(workflow, 'stage.failed').map((e) => e.detail)).toEqual([
        'retry: the judge rejected it: score 1 is too low',
      ]);
      expect(typesOn(workflow, 'stage.validated').map((e) => e.detail)).toEqual(['score 9 is enough']);
      expect(judge.read).toContain(JSON.stringify({ text: 'improves with care v1', score: 1 }));
    });

    it('rejecting with onFail fail fails the chain with the judge reason', async () => {
      const workflow = await client.run(judged('j-fail', 'never good', { action: 'fail' }));
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toMatch(/gate of stage 0 failed: the judge rejected it: score 1 is too low/);
      expect(workflow.steps.some((s) => s.path === 'root.stages.1')).toBe(false);
    });
  });

  describe('with the llm skill as planner and judge', () => {
    const planSchema = {
      type: 'object',
      properties: { children: { type: 'array', items: { type: 'object' }, minItems: 1 } },
      required: ['children'],
    };
    const verdictSchema = {
      type: 'object',
      properties: { accept: { type: 'boolean' }, reason: { type: 'string' } },
      required: ['accept', 'reason'],
    };
    const system = (request: RecordedRequest) => request.messages.find((m) => m.role === 'system')?.content ?? '';
    const user = (request: RecordedRequest) => request.messages.find((m) => m.role === 'user')?.content ?? '';

    it('a model plans the supervisor (three count tasks) and judges the roll-up; its reason is on the timeline', async () => {
      answerJson = (request) =>
        system(request).startsWith('Plan')
          ? { children: [countTask('m0', 'one'), countTask('m1', 'one two'), countTask('m2', 'one two three')] }
          : { accept: true, reason: 'six words over three texts adds up' };
      const first = stub.requests.length;
      const workflow = await client.run({
        step: {
          kind: 'chain',
          stages: [
            {
              step: {
                kind: 'supervisor',
                planner: {
                  skill: 'llm',
                  input: doc('goal', 'Count the words of three short texts'),
                  params: { instruction: 'Plan count tasks as supervisor children', schema: planSchema },
                },
                maxChildren: 3,
              },
              gate: {
                checks: [{ field: 'words', op: 'exists' }],
                judge: {
                  skill: 'llm',
                  params: { instruction: 'Judge whether the count is right', schema: verdictSchema },
                },
                onFail: { action: 'fail' },
              },
            },
            { step: countTask('after', 'the end') },
          ],
        },
      });

      expect(workflow.status).toBe('completed');
      // The planned children ran (1 + 2 + 3 words) and the chain went on past the judge.
      expect(stepOf(workflow, 'root.stages.0').output).toEqual({ words: 6, inputs: ['m0', 'm1', 'm2'] });
      expect(
        ['root.stages.0.children.0', 'root.stages.0.children.1', 'root.stages.0.children.2'].map(
          (p) => stepOf(workflow, p).output,
        ),
      ).toEqual([{ words: 1 }, { words: 2 }, { words: 3 }]);
      expect(workflow.result).toEqual({ words: 2 });
      expect(typesOn(workflow, 'supervisor.planned')).toEqual([
        expect.objectContaining({ stepPath: 'root.stages.0', detail: '3 children: task, task, task' }),
      ]);
      expect(typesOn(workflow, 'stage.validated').map((e) => e.detail)).toEqual(['six words over three texts adds up']);

      // Two model calls, each asking for JSON under its schema: the planner on the goal, the judge
      // on the supervisor's output.
      const [planner, judged] = stub.chatRequests().slice(first);
      expect(stub.chatRequests().length - first).toBe(2);
      expect(user(planner)).toBe('Count the words of three short texts');
      expect(planner.body?.['response_format']).toMatchObject({ json_schema: { schema: planSchema } });
      expect(JSON.parse(user(judged))).toEqual({ words: 6, inputs: ['m0', 'm1', 'm2'] });
      expect(judged.body?.['response_format']).toMatchObject({ json_schema: { schema: verdictSchema } });
    });
  });
});
