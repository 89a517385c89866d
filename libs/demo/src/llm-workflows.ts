import type { DocumentInput } from '@agent-mesh/contracts';
import type { DemoWorkflow } from './run-demo';

/** Text sent to a model: the head of a document, so a small local model answers quickly. */
const MAX_PROMPT_TEXT = 1_200;

const excerpt = (document: DocumentInput): DocumentInput => ({
  id: document.id,
  text: document.text.slice(0, MAX_PROMPT_TEXT),
});

/** What the planner must answer: tasks of the workers' text skills, one per document (docs/ai.md). */
const PLAN_SCHEMA = {
  type: 'object',
  required: ['children'],
  additionalProperties: false,
  properties: {
    children: {
      type: 'array',
      minItems: 1,
      maxItems: 4,
      items: {
        type: 'object',
        required: ['kind', 'skill', 'input'],
        additionalProperties: false,
        properties: {
          kind: { type: 'string', enum: ['task'] },
          skill: { type: 'string', enum: ['summarize', 'keywords', 'sentiment', 'readability'] },
          input: {
            type: 'object',
            required: ['id', 'text'],
            additionalProperties: false,
            properties: { id: { type: 'string' }, text: { type: 'string' } },
          },
        },
      },
    },
  },
};

const VERDICT_SCHEMA = {
  type: 'object',
  required: ['accept', 'reason'],
  additionalProperties: false,
  properties: { accept: { type: 'boolean' }, reason: { type: 'string' } },
};

const ESTIMATE_SCHEMA = {
  type: 'object',
  required: ['answer'],
  additionalProperties: false,
  properties: { answer: { type: 'number' } },
};

/**
 * The workflows `npm start` adds when a model is configured (LLM_BASE_URL): a planner supervisor,
 * solver rounds of model solvers, and a chain whose gate asks a model judge.
 */
export function llmDemoWorkflows(documents: readonly DocumentInput[]): DemoWorkflow[] {
  const [first] = documents;
  const notes = documents.slice(0, 3).map(excerpt);
  return [
    {
      title: 'planner supervisor: a model plans one task per note (validated like a submitted spec), then they run',
      body: {
        name: 'llm-planner',
        step: {
          kind: 'supervisor',
          maxChildren: 4,
          planner: {
            skill: 'llm',
            input: {
              id: 'goal',
              text: notes.map((n) => `Note ${n.id}:\n${n.text}`).join('\n\n'),
            },
            params: {
              instruction:
                'You plan work for text-processing agents. For each note, choose the one skill among summarize, keywords, sentiment and readability that suits it best, and answer with one task per note whose input is the note (its id and its text, copied).',
              schema: PLAN_SCHEMA,
            },
          },
        },
      },
      expect: 'completed',
    },
    {
      title: 'solver rounds: 3 model solvers estimate the word count, see each other’s answers and refine for 2 rounds',
      body: {
        name: 'llm-solver-rounds',
        step: {
          kind: 'solver-rounds',
          skill: 'llm',
          input: excerpt(first),
          solvers: 3,
          rounds: 2,
          params: {
            instruction: 'Estimate how many words the text has. Answer with a number.',
            prompt: 'You are solver {{params.solver}}.\n\n{{text}}',
            schema: ESTIMATE_SCHEMA,
          },
          strategy: { type: 'combine' },
        },
      },
      expect: 'completed',
    },
    {
      title:
        'chain with a model judge: a model summarizes, a model judges the summary (rejected → retried), keywords follow',
      body: {
        name: 'llm-judged-summary',
        step: {
          kind: 'chain',
          stages: [
            {
              step: {
                kind: 'task',
                skill: 'llm',
                input: excerpt(first),
                params: { instruction: 'Summarize the text in two sentences.' },
              },
              gate: {
                checks: [{ field: 'text', op: 'min', value: 20 }],
                judge: {
                  skill: 'llm',
                  params: {
                    instruction:
                      'You review summaries. The input is a JSON object whose "text" is a summary. Accept it when it is two sentences or fewer and says something concrete; give your reason.',
                    schema: VERDICT_SCHEMA,
                  },
                },
                onFail: { action: 'retry', maxRetries: 2 },
              },
            },
            {
              step: {
                kind: 'task',
                skill: 'keywords',
                inputFrom: { source: 'previous', field: 'text' },
                params: { top: 5 },
              },
            },
          ],
        },
      },
      expect: 'completed',
    },
  ];
}
