import type { StepState, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { Topics, type MarketFill } from '@agent-mesh/contracts';
import { startOpenAiStub, type OpenAiStub, type RecordedRequest, type StubReply } from '@agent-mesh/skills/testing';
import { InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { CHEAP, decodeAll } from './support/expectations';

/*
 * The `llm` skill in every coordination pattern (docs/ai.md), on the memory bus: orchestrator,
 * aggregator, market maker, saga coordinator and two workers (one bidding cheaper), every
 * process configured like an operator would (LLM_BASE_URL, LLM_MODEL, LLM_PRICES), so the skill
 * comes from the runtime's own registration. The model is the OpenAI-compatible stub, a real
 * HTTP server whose answers depend on the instruction and the prompt (`model` below): every
 * expected value is worked out from it by hand.
 */

const MODEL = 'stub-model';
const PRICES = { [MODEL]: { inputPerMTok: 1, outputPerMTok: 2 } };

const systemOf = (r: RecordedRequest) => r.messages.find((m) => m.role === 'system')?.content ?? '';
const userOf = (r: RecordedRequest) => r.messages.find((m) => m.role === 'user')?.content ?? '';

/** Round 1 answers of the solvers (by index); later rounds answer the mean of the answers they are shown. */
const FIRST_ESTIMATES = [30, 20, 40];

/** The stub's "model": what it answers, by instruction. */
function model(request: RecordedRequest): StubReply {
  const user = userOf(request);
  switch (systemOf(request)) {
    case 'Which animal?':
      return { type: 'json', value: { answer: user.includes('purrs') ? 'cat' : 'dog' } };
    case 'Rank the fruits':
      return { type: 'json', value: { answer: user.split(/\s+/) } };
    case 'Shout':
      return { type: 'text', text: user.toUpperCase() };
    case 'Confirm':
      return { type: 'text', text: `confirmed ${user}` };
    case 'Cancel':
      return { type: 'text', text: `cancelled ${user}` };
    case 'Answer the question':
      return { type: 'text', text: `An answer to: ${user}` };
    case 'Estimate the word count': {
      const shown = [...user.matchAll(/^(?:Your previous answer|- solver \d+): (\d+(?:\.\d+)?)$/gm)].map((m) =>
        Number(m[1]),
      );
      if (shown.length > 0) return { type: 'json', value: { answer: shown.reduce((a, b) => a + b, 0) / shown.length } };
      const solver = Number(/^Solver (\d+):/.exec(user)?.[1] ?? 0);
      return { type: 'json', value: { answer: FIRST_ESTIMATES[solver] } };
    }
    default:
      return { type: 'echo' };
  }
}

const doc = (id: string, text: string) => ({ id, text });

function stepAt(workflow: WorkflowView, path: string): StepState {
  const found = workflow.steps.find((s) => s.path === path);
  if (!found) throw new Error(`no step ${path} in ${workflow.steps.map((s) => s.path).join(', ')}`);
  return found;
}

describe('the llm skill in every pattern (memory bus, the stub as the model)', () => {
  const mesh = new InProcessMesh();
  let stub: OpenAiStub;
  let client: WorkflowClient;

  beforeAll(async () => {
    stub = await startOpenAiStub({ handler: model });
    const env = {
      LLM_BASE_URL: stub.baseUrl,
      LLM_MODEL: MODEL,
      LLM_PRICES: JSON.stringify(PRICES),
      MESH_BOARDS: 'default,ideas',
    };
    const [orchestrator] = await startAgents(
      mesh,
      [
        'orchestrator',
        'aggregator',
        'market-maker',
        'saga-coordinator',
        // BID_PRICE_FACTOR is read when a worker starts: llm's base price 5 → bids of about 2.5 and 4
        { role: 'worker', instanceId: 'cheap', processEnv: { BID_PRICE_FACTOR: '0.5' } },
        { role: 'worker', instanceId: 'dear', processEnv: { BID_PRICE_FACTOR: '0.8' } },
      ],
      () => ({ env }),
    );
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    await mesh.stopAll();
    await stub.close();
  });

  /** The chat requests whose system message is `instruction`. */
  const asked = (instruction: string) => stub.chatRequests().filter((r) => systemOf(r) === instruction);

  it('task: a structured answer with its usage and cost', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const workflow = await client.run({
      step: {
        kind: 'task',
        skill: 'llm',
        input: doc('t-1', 'It purrs on the mat.'),
        params: { instruction: 'Which animal?', schema },
      },
    });
    expect(workflow.status).toBe('completed');
    // prompt: "Which animal?" (2 words) + "It purrs on the mat." (5) = 7; answer {"answer":"cat"} = 1 word
    expect(workflow.result).toEqual({
      text: '{"answer":"cat"}',
      json: { answer: 'cat' },
      answer: 'cat',
      model: MODEL,
      calls: 1,
      promptTokens: 7,
      completionTokens: 1,
      costUsd: 9e-6, // (7 × 1 + 1 × 2) / 1e6
    });
    const [request] = asked('Which animal?').filter((r) => userOf(r) === 'It purrs on the mat.');
    expect(request.body).toMatchObject({
      model: MODEL,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
  });

  it('fan-out, majority vote over the LLM answers (field "answer")', async () => {
    const workflow = await client.run({
      step: {
        kind: 'fan-out',
        skill: 'llm',
        inputs: [doc('mv-1', 'It purrs.'), doc('mv-2', 'It barks.'), doc('mv-3', 'It purrs loudly.')],
        params: {
          instruction: 'Which animal?',
          schema: { type: 'object', properties: { answer: { type: 'string' } } },
        },
        strategy: { type: 'majority-vote', field: 'answer' },
      },
    });
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({
      type: 'majority-vote',
      winner: 'cat',
      votes: { '"cat"': 2, '"dog"': 1 },
      total: 3,
      abstained: 0,
    });
  });

  it('fan-out, ranked fusion over the LLM answers (a list at "answer")', async () => {
    const list = { type: 'object', properties: { answer: { type: 'array', items: { type: 'string' } } } };
    const workflow = await client.run({
      step: {
        kind: 'fan-out',
        skill: 'llm',
        inputs: [
          doc('rf-1', 'apple banana cherry'),
          doc('rf-2', 'banana apple cherry'),
          doc('rf-3', 'apple cherry banana'),
        ],
        params: { instruction: 'Rank the fruits', schema: list },
        strategy: { type: 'ranked-fusion', field: 'answer', k: 60 },
      },
    });
    expect(workflow.status).toBe('completed');
    const result = workflow.result as { type: string; ranking: { id: string; score: number }[] };
    expect(result.type).toBe('ranked-fusion');
    // apple 1/61 + 1/62 + 1/61, banana 1/62 + 1/61 + 1/63, cherry 1/63 + 1/63 + 1/62
    expect(result.ranking.map((r) => r.id)).toEqual(['apple', 'banana', 'cherry']);
    expect(result.ranking[0].score).toBeCloseTo(2 / 61 + 1 / 62, 12);
    expect(result.ranking[2].score).toBeCloseTo(2 / 63 + 1 / 62, 12);
  });

  it('chain: the second LLM stage works on the first one’s text', async () => {
    const workflow = await client.run({
      step: {
        kind: 'chain',
        stages: [
          {
            step: {
              kind: 'task',
              skill: 'llm',
              input: doc('ch-1', 'quiet words become loud here now'),
              params: { instruction: 'Repeat' },
            },
          },
          {
            step: {
              kind: 'task',
              skill: 'llm',
              inputFrom: { source: 'previous', field: 'text' },
              params: { instruction: 'Shout' },
            },
          },
        ],
      },
    });
    expect(workflow.status).toBe('completed');
    // stage 1: the stub's echo of the first five words; stage 2: that, upper-cased
    expect(stepAt(workflow, 'root.stages.0')).toMatchObject({ output: { text: 'echo:quiet words become loud here' } });
    expect(workflow.result).toMatchObject({ text: 'ECHO:QUIET WORDS BECOME LOUD HERE', model: MODEL });
  });

  it('saga: LLM steps run in order; when one fails, the LLM compensation undoes the done one', async () => {
    const item = (name: string, text: string, params: Record<string, unknown> = { instruction: 'Confirm' }) => ({
      name,
      action: { skill: 'llm', input: doc(`sg-${name}`, text), params },
      compensation: { skill: 'llm', input: doc(`undo-${name}`, text), params: { instruction: 'Cancel' } },
      deadlineMs: 10_000,
    });
    const done = await client.run<WorkflowView & { result?: { outputs?: Record<string, { text: string }> } }>({
      step: { kind: 'saga', steps: [item('seat', 'seat 12A'), item('meal', 'vegetarian meal')] },
    });
    expect(done.status).toBe('completed');
    expect(done.result?.outputs?.['seat']?.text).toBe('confirmed seat 12A');
    expect(done.result?.outputs?.['meal']?.text).toBe('confirmed vegetarian meal');

    // The second step's template names a variable the input lacks: a SkillInputError, not retried.
    const undone = await client.run({
      step: {
        kind: 'saga',
        steps: [
          item('hotel', 'room 7'),
          item('car', 'a small car', { instruction: 'Confirm', prompt: '{{params.plate}}' }),
        ],
      },
    });
    expect(undone.status).toBe('compensated');
    expect(undone.reason).toContain('{{params.plate}}');
    expect(asked('Cancel').map(userOf)).toEqual(['room 7']);
    expect(asked('Confirm').map(userOf)).not.toContain('a small car');
  });

  it('solver rounds: an LLM solver sees its peers’ answers and refines; majority vote on the last round', async () => {
    const workflow = await client.run({
      step: {
        kind: 'solver-rounds',
        skill: 'llm',
        input: doc('sr-1', 'Count the words of this short text please.'),
        solvers: 3,
        rounds: 2,
        params: {
          instruction: 'Estimate the word count',
          prompt: 'Solver {{params.solver}}: {{text}}',
          schema: { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] },
        },
        strategy: { type: 'majority-vote', field: 'answer' },
      },
    });
    expect(workflow.status).toBe('completed');
    // round 1: 30, 20, 40; round 2: each the mean of the three it is shown = 30
    expect(workflow.result).toEqual({ type: 'majority-vote', winner: 30, votes: { '30': 3 }, total: 3, abstained: 0 });
    const roundTwoOfSolver1 = asked('Estimate the word count')
      .map(userOf)
      .find((prompt) => prompt.startsWith('Solver 1:') && prompt.includes('## Previous round'));
    expect(roundTwoOfSolver1).toBe(
      [
        'Solver 1: Count the words of this short text please.',
        '',
        '## Previous round',
        'Your previous answer: 20',
        'Answers of the other solvers:',
        '- solver 0: 30',
        '- solver 2: 40',
        'Consider these answers, then give your own best answer.',
      ].join('\n'),
    );
  });

  it('blackboard: an LLM knowledge source answers the question posted on the board', async () => {
    const workflow = await client.run({
      step: {
        kind: 'blackboard',
        board: 'ideas',
        seed: [{ kind: 'question', text: 'Why is the sky blue?' }],
        sources: [
          {
            name: 'answerer',
            skill: 'llm',
            on: 'question',
            produces: 'answer',
            field: 'text',
            params: { instruction: 'Answer the question' },
          },
        ],
        until: { kind: 'answer', count: 1 },
        maxEntries: 5,
      },
    });
    expect(workflow.status).toBe('completed');
    const result = workflow.result as { matched: { kind: string; text: string; postedBy: string }[] };
    expect(result.matched).toEqual([
      expect.objectContaining({ kind: 'answer', text: 'An answer to: Why is the sky blue?', postedBy: 'answerer' }),
    ]);
  });

  it('market: LLM workers bid; the cheaper one wins the ask and its answer is the result', async () => {
    const text = 'Markets match asks with bids at a price.';
    const id = await client.submit({
      step: {
        kind: 'market',
        skill: 'llm',
        input: doc('mk-1', text),
        params: { instruction: 'Repeat' },
        budget: 3,
        expireAfterMs: 5000,
      },
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toMatchObject({ text: 'echo:Markets match asks with bids', model: MODEL });
    const fills = decodeAll<MarketFill>(await mesh.readAll(Topics.marketFills), 'market.fill').filter(
      (f) => f.correlationId === id,
    );
    // llm's base price 5 × 0.5 × (1 + 41/1000) = 2.6 for the cheap worker; the dear one's 4.16 is over budget
    expect(fills.map((f) => [f.data.workerId, f.data.price])).toEqual([[CHEAP, 2.6]]);
  });
});
