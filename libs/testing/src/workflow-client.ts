import type { TimelineEntry, WorkflowStatus, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { eventually } from './in-process-mesh';

/** The statuses a workflow never leaves. */
export const TERMINAL_STATUSES: readonly WorkflowStatus[] = [
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
];

/** An HTTP answer: its status and its parsed JSON body (undefined when the body is empty). */
export interface HttpAnswer<T> {
  readonly status: number;
  readonly json: T;
}

/** What `finished` needs of a workflow body; a spec may read it with a narrower type of its own. */
export interface WorkflowStatusBody {
  readonly status: string;
}

export interface WorkflowClientOptions {
  /** How long `finished` and `timeline` wait by default. Default 15 s (like `eventually`). */
  readonly timeoutMs?: number;
  /** Sent as `Authorization: Bearer <token>` on every request (an API key or a JWT). */
  readonly token?: string;
}

/** The orchestrator's workflow API (`/workflows`), as the end-to-end suites drive it. */
export class WorkflowClient {
  private readonly timeoutMs: number;
  private readonly authorization: Record<string, string>;

  constructor(
    readonly baseUrl: string,
    options: WorkflowClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.authorization = options.token ? { authorization: `Bearer ${options.token}` } : {};
  }

  /** Any request to the orchestrator; the status is not checked. */
  async request<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpAnswer<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { ...this.authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  /** `POST /workflows`, whatever it answers (for tests of refused submissions). */
  post<T = Record<string, unknown>>(body: unknown): Promise<HttpAnswer<T>> {
    return this.request<T>('POST', '/workflows', body);
  }

  /** `POST /workflows`, which must answer 202; the new workflow's id. */
  async submit(body: unknown): Promise<string> {
    const { status, json } = await this.post(body);
    if (status !== 202) throw new Error(`submission refused (${status}): ${JSON.stringify(json)}`);
    return String(json['workflowId']);
  }

  /** `GET /workflows/:id`, which must answer 200. */
  async get<T extends WorkflowStatusBody = WorkflowView>(id: string): Promise<T> {
    const { status, json } = await this.request<T>('GET', `/workflows/${id}`);
    if (status !== 200) throw new Error(`GET /workflows/${id} answered ${status}`);
    return json;
  }

  /** Polls the workflow until it reaches a terminal status (see TERMINAL_STATUSES). */
  finished<T extends WorkflowStatusBody = WorkflowView>(id: string, timeoutMs = this.timeoutMs): Promise<T> {
    return eventually(
      `workflow ${id} to finish`,
      async () => {
        const workflow = await this.get<T>(id);
        return (TERMINAL_STATUSES as readonly string[]).includes(workflow.status) ? workflow : undefined;
      },
      timeoutMs,
    );
  }

  /** Submits, then waits until the workflow has finished. */
  async run<T extends WorkflowStatusBody = WorkflowView>(body: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    return this.finished<T>(await this.submit(body), timeoutMs);
  }

  /** `POST /workflows/:id/cancel` (body `{ reason }`, or `{}` without one), whatever it answers. */
  cancel(id: string, reason?: string): Promise<HttpAnswer<Record<string, unknown>>> {
    return this.request('POST', `/workflows/${id}/cancel`, reason === undefined ? {} : { reason });
  }

  /** `POST /workflows/:id/approvals/:stepPath` (body `{ approve, comment? }`), whatever it answers. */
  decide(id: string, stepPath: string, body: unknown): Promise<HttpAnswer<Record<string, unknown>>> {
    return this.request('POST', `/workflows/${id}/approvals/${stepPath}`, body);
  }

  /** Waits until the step at `stepPath` waits for approval; its state. */
  awaitingApproval(id: string, stepPath: string, timeoutMs = this.timeoutMs): Promise<WorkflowView['steps'][number]> {
    return eventually(
      `${stepPath} of ${id} to wait for approval`,
      async () => (await this.get(id)).steps.find((s) => s.path === stepPath && s.awaiting?.what === 'approval'),
      timeoutMs,
    );
  }

  /** Waits until the workflow's timeline holds exactly `count` entries of a type (the projection follows its topics on its own). */
  timeline(id: string, type: string, count: number, timeoutMs = this.timeoutMs): Promise<TimelineEntry[]> {
    return eventually(
      `${count} ${type} on the timeline of ${id}`,
      async () => {
        const found = (await this.get(id)).timeline.filter((e) => e.type === type);
        return found.length === count ? found : undefined;
      },
      timeoutMs,
    );
  }
}
