import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { DocumentInput } from '@agent-mesh/contracts';

/** What `GET /workflows/:id` returns (the fields the demo prints). */
interface WorkflowResponse {
  readonly id: string;
  readonly name?: string;
  readonly status: 'accepted' | 'running' | 'completed' | 'failed' | 'compensated' | 'cancelled';
  readonly steps: {
    readonly path: string;
    readonly kind: string;
    readonly status: string;
    readonly attempt: number;
    readonly error?: string;
  }[];
  readonly branches: {
    readonly stepPath: string;
    readonly index: number;
    readonly inputId: string;
    readonly status: string;
    readonly worker?: string;
    readonly durationMs?: number;
    readonly output?: Record<string, unknown>;
    readonly error?: string;
  }[];
  readonly result?: Record<string, unknown>;
  readonly reason?: string;
  readonly timeline: {
    readonly at: string;
    readonly type: string;
    readonly source: string;
    readonly stepPath?: string;
    readonly detail?: string;
  }[];
}

export interface DemoWorkflow {
  /** What the workflow shows, printed above its outcome. */
  readonly title: string;
  /** A workflow spec (`{ name, step }`) or a plain fan-out (`{ skill, inputs }`). */
  readonly body: Record<string, unknown>;
  /** The outcome the demo means to show (a failure, or a saga undoing itself, can be the point). */
  readonly expect: 'completed' | 'failed' | 'compensated';
}

export interface DemoOptions {
  /** Base URL of a running orchestrator API, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  readonly workflows: readonly DemoWorkflow[];
  readonly timeoutMs?: number;
  readonly print?: (line: string) => void;
}

export interface DemoSummary {
  /** Workflows that ended as the demo meant them to. */
  readonly completed: number;
  readonly failed: number;
  readonly workflows: readonly WorkflowResponse[];
}

export function loadDocuments(dir: string): DocumentInput[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  if (files.length === 0) throw new Error(`no .txt documents in ${dir}`);
  return files.map((file) => ({ id: basename(file, '.txt'), text: readFileSync(join(dir, file), 'utf8').trim() }));
}

/** The demo's workflows over the shipped documents: one per pattern this build runs. */
export function demoWorkflows(documents: readonly DocumentInput[]): DemoWorkflow[] {
  const [first] = documents;
  return [
    {
      title: 'fan-out: keywords over every document, joined by the skill’s own combine',
      body: { skill: 'keywords', inputs: documents },
      expect: 'completed',
    },
    {
      title: 'fan-out with quorum and majority vote: sentiment of each document, done at 3 answers',
      body: {
        name: 'sentiment-vote',
        step: {
          kind: 'fan-out',
          skill: 'sentiment',
          inputs: documents,
          policy: { type: 'quorum', k: Math.min(3, documents.length) },
          strategy: { type: 'majority-vote', field: 'label' },
        },
      },
      expect: 'completed',
    },
    {
      title: 'event chain with a validation gate: summarize, check the summary, then extract its keywords',
      body: {
        name: 'summary-then-keywords',
        step: {
          kind: 'chain',
          stages: [
            {
              step: { kind: 'task', skill: 'summarize', input: first, params: { sentences: 2 } },
              gate: { checks: [{ field: 'summary', op: 'min', value: 40 }], onFail: { action: 'fail' } },
            },
            {
              step: {
                kind: 'task',
                skill: 'keywords',
                inputFrom: { source: 'previous', field: 'summary' },
                params: { top: 5 },
              },
            },
          ],
        },
      },
      expect: 'completed',
    },
    {
      title: 'event chain whose gate rejects a stage: the recovery stage runs instead, the bad output goes no further',
      body: {
        name: 'gate-recovery',
        step: {
          kind: 'chain',
          stages: [
            {
              step: { kind: 'task', skill: 'summarize', input: first, params: { sentences: 1 } },
              gate: {
                checks: [{ field: 'summary', op: 'min', value: 5000 }],
                onFail: {
                  action: 'recover',
                  recovery: { kind: 'task', skill: 'summarize', input: first, params: { sentences: 3 } },
                },
              },
            },
            { step: { kind: 'task', skill: 'readability', inputFrom: { source: 'previous', field: 'summary' } } },
          ],
        },
      },
      expect: 'completed',
    },
    {
      title: 'supervisor tree: a supervisor per half of the documents, rolled up level by level',
      body: {
        name: 'supervisor-tree',
        step: {
          kind: 'supervisor',
          children: [
            documents.slice(0, Math.ceil(documents.length / 2)),
            documents.slice(Math.ceil(documents.length / 2)),
          ]
            .filter((half) => half.length > 0)
            .map((half) => ({
              kind: 'supervisor',
              children: half.map((d) => ({ kind: 'task', skill: 'keywords', input: d, params: { top: 5 } })),
            })),
        },
      },
      expect: 'completed',
    },
    {
      title: 'market: the summary is put up for bids; workers price it from their load and its size; the best bid wins',
      body: {
        name: 'market-summary',
        step: {
          kind: 'market',
          skill: 'summarize',
          input: first,
          params: { sentences: 1 },
          budget: 20,
          expireAfterMs: 5000,
        },
      },
      expect: 'completed',
    },
    {
      title:
        'solver rounds: 3 solvers estimate the length, see each other’s answers and refine for 3 rounds; the aggregator takes the median',
      body: {
        name: 'estimate-rounds',
        step: {
          kind: 'solver-rounds',
          skill: 'estimate',
          input: first,
          solvers: 3,
          rounds: 3,
          strategy: { type: 'combine' },
        },
      },
      expect: 'completed',
    },
    {
      title: 'blackboard: a question is posted; a summarizer reacts with a summary, an indexer with its keywords',
      body: {
        name: 'board',
        step: {
          kind: 'blackboard',
          board: 'default',
          seed: [{ kind: 'question', text: first.text }],
          sources: [
            {
              name: 'summarizer',
              skill: 'summarize',
              on: 'question',
              produces: 'summary',
              field: 'summary',
              params: { sentences: 2 },
            },
            { name: 'indexer', skill: 'keywords', on: 'summary', produces: 'keywords', params: { top: 5 } },
          ],
          until: { kind: 'keywords', count: 1 },
          maxEntries: 10,
        },
      },
      expect: 'completed',
    },
    {
      title: 'saga that fails at step 3 of 4: the coordinator compensates step 2, then step 1',
      body: {
        name: 'order-saga',
        step: {
          kind: 'saga',
          steps: [
            sagaStep('reserve', first, 'summarize', 'release reservation'),
            sagaStep('charge', first, 'keywords', 'refund charge'),
            sagaStep('ship', { id: 'no-words', text: '404 500 503.' }, 'readability', 'cancel shipment'),
            sagaStep('notify', first, 'sentiment', 'retract notice'),
          ],
        },
      },
      expect: 'compensated',
    },
    {
      title: 'fan-out that must fail: one input the skill refuses, fail-fast',
      body: { skill: 'readability', inputs: [first, { id: 'numbers-only', text: '123 456 789.' }] },
      expect: 'failed',
    },
  ];
}

function sagaStep(name: string, input: DocumentInput, skill: string, undo: string) {
  return {
    name,
    action: { skill, input },
    compensation: { skill: 'sentiment', input: { id: `${name}-undo`, text: undo } },
    deadlineMs: 10_000,
  };
}

/**
 * Submits each workflow through the HTTP API, waits for it, and prints its steps, branches,
 * result and timeline (agent, event type, time since the workflow started).
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const ids = await Promise.all(options.workflows.map((w) => submit(options.baseUrl, w.body)));
  const workflows: WorkflowResponse[] = [];
  for (const id of ids) workflows.push(await waitForEnd(options.baseUrl, id, options.timeoutMs ?? 30_000));

  let asMeant = 0;
  workflows.forEach((workflow, i) => {
    const demo = options.workflows[i];
    const ok = workflow.status === demo.expect;
    if (ok) asMeant++;
    print('');
    print(`== ${demo.title}`);
    const intended =
      ok && demo.expect === 'compensated'
        ? ' (as intended: completed with compensation)'
        : ok && demo.expect === 'failed'
          ? ' (as intended)'
          : '';
    print(`   workflow ${workflow.id} · ${workflow.status.toUpperCase()}${intended}`);
    for (const step of workflow.steps) {
      print(
        `   step ${step.path.padEnd(28)} ${step.kind.padEnd(10)} ${step.status}${step.attempt > 1 ? ` (attempt ${step.attempt})` : ''}${step.error ? `: ${brief(step.error, 90)}` : ''}`,
      );
    }
    for (const branch of workflow.branches) {
      const outcome =
        branch.status === 'completed'
          ? brief(branch.output)
          : `${branch.status.toUpperCase()}${branch.error ? `: ${brief(branch.error, 80)}` : ''}`;
      print(
        `   branch ${branch.stepPath}#${branch.index} ${branch.inputId.padEnd(18)} ${(branch.worker ?? '-').padEnd(26)} ${String(branch.durationMs ?? '-').padStart(4)} ms  ${outcome}`,
      );
    }
    print(
      workflow.status === 'completed'
        ? `   result: ${brief(workflow.result, 300)}`
        : `   reason: ${brief(workflow.reason, 300)}`,
    );
    const start = Date.parse(workflow.timeline[0]?.at ?? new Date().toISOString());
    print(`   timeline (${workflow.timeline.length} events):`);
    for (const e of workflow.timeline) {
      print(
        `     +${String(Date.parse(e.at) - start).padStart(4)} ms  ${e.source.padEnd(26)} ${e.type.padEnd(20)} ${e.stepPath ?? ''}${e.detail ? `  ${brief(e.detail, 60)}` : ''}`,
      );
    }
  });
  const failed = workflows.length - asMeant;
  print('');
  print(
    `demo: ${asMeant} completed, ${failed} failed` +
      (options.workflows.some((w) => w.expect !== 'completed')
        ? ' (a workflow meant to fail, or a saga meant to compensate, counts as completed when it ends as intended)'
        : ''),
  );
  return { completed: asMeant, failed, workflows };
}

async function submit(baseUrl: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${baseUrl}/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { workflowId?: string };
  if (response.status !== 202 || !answer.workflowId) {
    throw new Error(`POST /workflows answered ${response.status}: ${JSON.stringify(answer)}`);
  }
  return answer.workflowId;
}

async function waitForEnd(baseUrl: string, id: string, timeoutMs: number): Promise<WorkflowResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${baseUrl}/workflows/${id}`);
    if (response.ok) {
      const workflow = (await response.json()) as WorkflowResponse;
      if (['completed', 'failed', 'compensated', 'cancelled'].includes(workflow.status)) {
        // The last events may still be landing on the timeline.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return (await (await fetch(`${baseUrl}/workflows/${id}`)).json()) as WorkflowResponse;
      }
      if (Date.now() > deadline) return { ...workflow, status: 'failed', reason: `not finished after ${timeoutMs} ms` };
    } else if (Date.now() > deadline) {
      throw new Error(`GET /workflows/${id} answered ${response.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function brief(value: unknown, max = 110): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
