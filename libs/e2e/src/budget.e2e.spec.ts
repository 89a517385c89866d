import { Topics, type EventEnvelope, type TaskCompleted } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { startOpenAiStub, type OpenAiStub } from '@agent-mesh/skills/testing';
import { InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { CountSkill, HangSkill, MeteredSkill } from './support/test-skills';

/*
 * Budgets and usage on the real worker (memory bus): `metered` reports one model call per task
 * through `context.recordUsage`, the worker sums a task's calls onto `task.completed.usage`, the
 * orchestrator rolls them up on the workflow and its steps and holds the workflow to its budget.
 * The last cases run the real `llm` skill (registered by the runtime from LLM_BASE_URL) against
 * the OpenAI-compatible stub, whose reported `usage` is what must arrive. Saga steps report on
 * the saga coordinator's topic; their usage reaches the orchestrator on the saga's step events.
 * Solver tasks report to the market maker; theirs arrives with each round's answers.
 */
const metered = new MeteredSkill();
const hang = new HangSkill();

const stage = (id: string, tokens: number) => ({
  step: { kind: 'task', skill: 'metered', input: { id, text: `text of ${id}` }, params: { tokens } },
});

describe('budgets and usage end to end (memory bus)', () => {
  const mesh = new InProcessMesh();
  let client: WorkflowClient;
  let orchestratorUrl: string;
  let stub: OpenAiStub;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    // Every process knows `llm` (the orchestrator checks a spec's skills); costs at $1 / $2 per
    // million prompt / completion tokens.
    const env = {
      LLM_BASE_URL: stub.baseUrl,
      LLM_MODEL: 'stub-model',
      LLM_PRICES: JSON.stringify({ 'stub-model': { inputPerMTok: 1, outputPerMTok: 2 } }),
    };
    const roles = ['orchestrator', 'aggregator', 'worker', 'saga-coordinator', 'market-maker'] as const;
    // A saga action held on `hang` never reports: it is undone after SAGA_RESULT_WAIT_MS as an
    // action of unknown outcome.
    const [orchestrator] = await startAgents(mesh, roles, (role) => ({
      skills: createDefaultSkillRegistry().register(metered).register(new CountSkill()).register(hang),
      env,
      processEnv: role === 'saga-coordinator' ? { SAGA_RESULT_WAIT_MS: '200' } : undefined,
    }));
    client = new WorkflowClient(orchestrator.url);
    orchestratorUrl = orchestrator.url;
  });

  afterAll(async () => {
    hang.release();
    await mesh.stopAll();
    await stub.close();
  });

  /** The metered tasks assigned for a workflow, from the topic's log. */
  const assigned = async (id: string) =>
    (await mesh.readAll(Topics.tasks('metered'))).filter(
      (m) => (JSON.parse(m.payload.toString('utf8')) as { correlationId: string }).correlationId === id,
    );

  it('rolls usage up on the workflow and each step that had any', async () => {
    const workflow = await client.run({
      step: {
        kind: 'chain',
        stages: [
          stage('a', 400),
          {
            step: {
              kind: 'fan-out',
              skill: 'metered',
              inputs: [
                { id: 'b1', text: 'x' },
                { id: 'b2', text: 'y' },
              ],
            },
          },
        ],
      },
    });
    expect(workflow.status).toBe('completed');
    expect(workflow.usage).toEqual({
      promptTokens: 300 + 75 + 75,
      completionTokens: 100 + 25 + 25,
      costUsd: 0.0006,
      calls: 3,
    });
    const usageOf = (path: string) => workflow.steps.find((s) => s.path === path)?.usage;
    expect(usageOf('root')).toEqual(workflow.usage);
    expect(usageOf('root.stages.0')).toEqual({ promptTokens: 300, completionTokens: 100, costUsd: 0.0004, calls: 1 });
    expect(usageOf('root.stages.1')).toEqual({ promptTokens: 150, completionTokens: 50, costUsd: 0.0002, calls: 2 });

    // mesh_llm_tokens_total counts them once per task result (the first test: nothing before it).
    const metrics = await (await fetch(`${orchestratorUrl}/metrics`)).text();
    const tokens = (kind: string) =>
      Number(
        new RegExp(`^mesh_llm_tokens_total\\{skill="metered",kind="${kind}"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1],
      );
    expect([tokens('prompt'), tokens('completion')]).toEqual([450, 150]);
  });

  it('a task taking the workflow over budget.tokens fails its step and the workflow; nothing is dispatched after', async () => {
    const before = metered.runs.length;
    const workflow = await client.run({
      budget: { tokens: 1000 },
      step: { kind: 'chain', stages: [stage('a', 600), stage('b', 650), stage('c', 10), stage('d', 10)] },
    });
    expect(workflow).toMatchObject({
      status: 'failed',
      reason: 'root.stages.1 failed: budget exceeded: 1,250 tokens used of 1,000',
    });
    expect(workflow.steps.map((s) => `${s.path} ${s.status}`)).toEqual([
      'root failed',
      'root.stages.0 completed',
      'root.stages.1 failed',
    ]);
    expect(workflow.usage).toMatchObject({ promptTokens: 450 + 488, completionTokens: 150 + 162, calls: 2 });
    expect(metered.runs.length - before).toBe(2);
    expect(await assigned(workflow.id)).toHaveLength(2);
  });

  it('a step about to dispatch once the budget is all used fails with the reason, sending nothing', async () => {
    const before = metered.runs.length;
    const workflow = await client.run({
      budget: { tokens: 1000 },
      step: { kind: 'chain', stages: [stage('a', 500), stage('b', 500), stage('c', 10)] },
    });
    expect(workflow).toMatchObject({
      status: 'failed',
      reason: 'root.stages.2 failed: budget exceeded: 1,000 tokens used of 1,000',
    });
    expect(metered.runs.length - before).toBe(2);
  });

  /** A saga step whose action is metered (or `hang`s), undone by a `count`, which uses no model. */
  const sagaItem = (name: string, action: { skill: string; text?: string; tokens?: number }) => ({
    name,
    action: {
      skill: action.skill,
      input: { id: name, text: action.text ?? `text of ${name}` },
      params: action.tokens === undefined ? undefined : { tokens: action.tokens },
    },
    compensation: { skill: 'count', input: { id: `undo-${name}`, text: `undo ${name}` } },
    deadlineMs: 60_000,
  });

  it('a saga: its steps’ usage rolls up on the saga step and the workflow', async () => {
    const workflow = await client.run({
      step: {
        kind: 'saga',
        steps: [sagaItem('one', { skill: 'metered', tokens: 400 }), sagaItem('two', { skill: 'metered', tokens: 200 })],
      },
    });
    expect(workflow.status).toBe('completed');
    expect(workflow.usage).toEqual({ promptTokens: 300 + 150, completionTokens: 100 + 50, costUsd: 0.0006, calls: 2 });
    expect(workflow.steps.find((s) => s.path === 'root')?.usage).toEqual(workflow.usage);
  });

  it('a saga step taking the workflow over budget aborts the saga: what took effect is undone', async () => {
    const before = metered.runs.length;
    const workflow = await client.run({
      budget: { tokens: 1000 },
      step: {
        kind: 'saga',
        steps: [
          sagaItem('one', { skill: 'metered', tokens: 600 }),
          sagaItem('two', { skill: 'metered', tokens: 650 }),
          // already out when the abort comes (the coordinator runs the next step at once); it never
          // reports, so it is undone as of unknown outcome
          sagaItem('three', { skill: 'hang', text: 'hang on' }),
          sagaItem('four', { skill: 'metered', tokens: 10 }),
        ],
      },
    });
    expect(workflow).toMatchObject({
      status: 'compensated',
      reason: 'aborted: budget exceeded: 1,250 tokens used of 1,000; compensated three then two then one',
    });
    expect(workflow.usage).toMatchObject({ promptTokens: 450 + 488, completionTokens: 150 + 162, calls: 2 });
    expect(metered.runs.length - before).toBe(2); // `four` never ran
  });

  const solverRounds = (rounds: number) => ({
    kind: 'solver-rounds',
    skill: 'metered',
    input: { id: 'q', text: 'how many?' },
    params: { tokens: 100 },
    solvers: 2,
    rounds,
    strategy: { type: 'combine' },
  });

  it('solver rounds: every solver task’s usage rolls up on the step and the workflow', async () => {
    const workflow = await client.run({ step: solverRounds(2) });
    expect(workflow.status).toBe('completed');
    const fourTasks = { promptTokens: 4 * 75, completionTokens: 4 * 25, costUsd: 0.0004, calls: 4 };
    expect(workflow.usage).toEqual(fourTasks);
    expect(workflow.steps.find((s) => s.path === 'root')?.usage).toEqual(fourTasks);
  });

  it('a solver round taking the workflow over budget fails the step and the workflow', async () => {
    const workflow = await client.run({ budget: { tokens: 300 }, step: solverRounds(3) });
    expect(workflow).toMatchObject({
      status: 'failed',
      reason: 'budget exceeded: 400 tokens used of 300',
    });
    expect(workflow.timeline.map((e) => e.detail)).toContain(
      'round 2: 2 answers: budget exceeded: 400 tokens used of 300',
    );
  });

  it('refuses a budget that is not a positive number, naming budget.tokens', async () => {
    const refused = await client.post({ budget: { tokens: 0 }, step: stage('a', 1).step });
    expect(refused.status).toBe(400);
    expect(refused.json['errors']).toEqual([expect.objectContaining({ field: 'budget.tokens' })]);
  });

  /*
   * The stub counts words as tokens: the prompt is every message's words (the instruction, one
   * word, and the input's text, eight), the completion the echo's `echo:one two three four five`
   * (five). So each of these llm tasks uses 9 + 5 = 14 tokens, costing (9 × 1 + 5 × 2) / 1e6 $.
   */
  const llmStage = (id: string) => ({
    step: {
      kind: 'task',
      skill: 'llm',
      input: { id, text: 'one two three four five six seven eight' },
      params: { instruction: 'Summarize' },
    },
  });
  const perLlmTask = { promptTokens: 9, completionTokens: 5, costUsd: 19 / 1_000_000, calls: 1 };

  /** The task.completed events of a workflow, from the results topic's log. */
  const completions = async (id: string): Promise<TaskCompleted[]> =>
    (await mesh.readAll(Topics.taskResults))
      .map((m) => JSON.parse(m.payload.toString('utf8')) as EventEnvelope<TaskCompleted>)
      .filter((e) => e.correlationId === id && e.type === 'task.completed')
      .map((e) => e.data);

  /** What the stub reported for the requests from `first` on, summed as the mesh sums usage. */
  const reportedSince = (first: number) => {
    const reported = stub.reportedUsage.filter((u) => u.index >= first);
    return {
      promptTokens: reported.reduce((sum, u) => sum + u.prompt_tokens, 0),
      completionTokens: reported.reduce((sum, u) => sum + u.completion_tokens, 0),
      calls: reported.length,
    };
  };

  it('an llm task: the usage the endpoint reported reaches task.completed.usage and GET /workflows/:id', async () => {
    const first = stub.requests.length;
    const workflow = await client.run({ step: { kind: 'chain', stages: [llmStage('l1'), llmStage('l2')] } });
    expect(workflow.status).toBe('completed');
    expect(reportedSince(first)).toEqual({ promptTokens: 18, completionTokens: 10, calls: 2 });

    const usages = (await completions(workflow.id)).map((c) => c.usage);
    expect(usages).toEqual([
      { ...perLlmTask, costUsd: expect.closeTo(perLlmTask.costUsd, 12) },
      { ...perLlmTask, costUsd: expect.closeTo(perLlmTask.costUsd, 12) },
    ]);
    expect(workflow.usage).toEqual({ ...reportedSince(first), costUsd: expect.closeTo(38 / 1_000_000, 12) });
    expect(workflow.steps.find((s) => s.path === 'root.stages.1')?.usage).toMatchObject({
      promptTokens: 9,
      completionTokens: 5,
      calls: 1,
    });
  });

  it('llm tasks over budget.tokens: the stub-reported tokens fail the workflow, the next stage never calls', async () => {
    const first = stub.requests.length;
    const workflow = await client.run({
      budget: { tokens: 20 },
      step: { kind: 'chain', stages: [llmStage('m1'), llmStage('m2'), llmStage('m3')] },
    });
    expect(workflow).toMatchObject({
      status: 'failed',
      reason: 'root.stages.1 failed: budget exceeded: 28 tokens used of 20',
    });
    expect(stub.requests.length - first).toBe(2);
    expect(workflow.usage).toMatchObject(reportedSince(first));
    expect(reportedSince(first)).toEqual({ promptTokens: 18, completionTokens: 10, calls: 2 });
  });
});
