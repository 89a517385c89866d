import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Topics, type DocumentInput, type FanOutWorkflowRequest } from '@agent-mesh/contracts';
import type { MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { EventTimeline } from './timeline';

/** The workflow view the orchestrator's `GET /workflows/:id` returns (the fields we print). */
interface WorkflowResponse {
  readonly id: string;
  readonly status: 'accepted' | 'running' | 'completed' | 'failed';
  readonly skill: string;
  readonly branches: {
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
}

export interface DemoOptions {
  /** Base URL of a running orchestrator API, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  readonly transport: MeshTransportOptions;
  readonly documentsDir: string;
  readonly skills: readonly string[];
  readonly timeoutMs?: number;
  readonly print?: (line: string) => void;
}

export interface DemoSummary {
  readonly completed: number;
  readonly failed: number;
  readonly workflows: readonly WorkflowResponse[];
}

export function loadDocuments(dir: string): DocumentInput[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  if (files.length === 0) throw new Error(`no .txt documents in ${dir}`);
  return files.map((file) => ({ id: basename(file, '.txt'), text: readFileSync(join(dir, file), 'utf8').trim() }));
}

/**
 * Submits one fan-out workflow per skill over the shipped documents through the HTTP API,
 * waits for each, and prints branch results, the aggregate and the event timeline.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const documents = loadDocuments(options.documentsDir);
  const { bus, registry, naming } = options.transport;
  const timeline = new EventTimeline(bus, registry, naming);
  await timeline.watch([Topics.workflowEvents, Topics.taskResults, ...options.skills.map((s) => Topics.tasks(s))]);

  const workflows: WorkflowResponse[] = [];
  try {
    print(`submitting ${options.skills.length} fan-out workflow(s) over ${documents.length} documents: ${documents.map((d) => d.id).join(', ')}`);
    const ids = await Promise.all(
      options.skills.map((skill) => submit(options.baseUrl, { skill, inputs: documents })),
    );
    for (const id of ids) workflows.push(await waitForEnd(options.baseUrl, id, options.timeoutMs ?? 30_000));
  } finally {
    await timeline.close();
  }

  for (const workflow of workflows) {
    print('');
    print(`== workflow ${workflow.id} · ${workflow.skill} · ${workflow.status.toUpperCase()}`);
    for (const branch of workflow.branches) {
      const outcome = branch.status === 'completed' ? brief(branch.output) : `FAILED: ${branch.error ?? branch.status}`;
      print(`  branch ${branch.index} ${branch.inputId.padEnd(20)} ${(branch.worker ?? '-').padEnd(28)} ${String(branch.durationMs ?? '-').padStart(4)} ms  ${outcome}`);
    }
    print(workflow.status === 'completed' ? `  aggregate: ${brief(workflow.result, 400)}` : `  reason: ${workflow.reason}`);
    const events = timeline.forWorkflow(workflow.id);
    const start = events[0]?.at ?? 0;
    print(`  timeline (${events.length} events):`);
    for (const e of events) {
      print(`    +${String(e.at - start).padStart(4)} ms  ${e.source.padEnd(28)} ${e.type.padEnd(20)} ${e.topic}${e.detail ? ` (${e.detail})` : ''}`);
    }
  }
  const completed = workflows.filter((w) => w.status === 'completed').length;
  const failed = workflows.length - completed;
  print('');
  print(`demo: ${completed} completed, ${failed} failed`);
  return { completed, failed, workflows };
}

async function submit(baseUrl: string, request: FanOutWorkflowRequest): Promise<string> {
  const response = await fetch(`${baseUrl}/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = (await response.json()) as { workflowId?: string };
  if (response.status !== 202 || !body.workflowId) {
    throw new Error(`POST /workflows answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body.workflowId;
}

async function waitForEnd(baseUrl: string, id: string, timeoutMs: number): Promise<WorkflowResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${baseUrl}/workflows/${id}`);
    if (response.ok) {
      const workflow = (await response.json()) as WorkflowResponse;
      if (workflow.status === 'completed' || workflow.status === 'failed') return workflow;
      if (Date.now() > deadline) return { ...workflow, status: 'failed', reason: `not finished after ${timeoutMs} ms` };
    } else if (Date.now() > deadline) {
      throw new Error(`GET /workflows/${id} answered ${response.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function brief(value: unknown, max = 110): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
