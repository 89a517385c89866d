import type { WorkflowStatus, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { describeError } from '@agent-mesh/contracts';
import { ConfigError } from './command';

export type { WorkflowStatus, WorkflowView };

/** Where `mesh` finds the orchestrator when MESH_API_URL is not set: its default port on this host. */
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** The statuses a workflow ends with; it never leaves them. */
export const ENDED_STATUSES: readonly WorkflowStatus[] = [
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
];

export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = ['accepted', 'running', ...ENDED_STATUSES];

/** One line of `GET /workflows`. */
export interface WorkflowSummary {
  readonly id: string;
  readonly name?: string;
  readonly status: WorkflowStatus;
  readonly submittedAt: string;
  readonly finishedAt?: string;
}

/** One page of `GET /workflows`: newest first; `nextCursor` while there may be more. */
export interface WorkflowPage {
  readonly workflows: WorkflowSummary[];
  readonly nextCursor?: string;
}

/** A field the orchestrator named in a 400 answer. */
export interface FieldProblem {
  readonly field: string;
  readonly messages: readonly string[];
}

/** Why a request to the orchestrator did not give what was asked; `message` says it for a person. */
export class ApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status; undefined when no answer came. */
    readonly status?: number,
    readonly fields: readonly FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface MeshApiOptions {
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string;
  /** How long one request may take. Default 10 s. */
  readonly timeoutMs?: number;
}

/** The orchestrator's workflow API (`/workflows`) as `mesh` uses it: every failure an ApiError that says what to do. */
export class MeshApi {
  readonly baseUrl: string;
  private readonly apiKey?: string;
  private readonly timeoutMs: number;

  constructor(options: MeshApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** From MESH_API_URL (default DEFAULT_API_URL) and MESH_API_KEY; a bad URL is a ConfigError naming it. */
  static fromEnvironment(env: Readonly<Record<string, string | undefined>>): MeshApi {
    const baseUrl = env['MESH_API_URL'] || DEFAULT_API_URL;
    let url: URL | undefined;
    try {
      url = new URL(baseUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ConfigError(`MESH_API_URL must be an http:// or https:// URL (got "${baseUrl}")`);
    }
    return new MeshApi({ baseUrl, apiKey: env['MESH_API_KEY'] || undefined });
  }

  /** `POST /workflows`: the new workflow's id. */
  async submit(spec: unknown): Promise<string> {
    const body = await this.request('POST', '/workflows', spec);
    const id = (body as { workflowId?: unknown } | undefined)?.workflowId;
    if (typeof id !== 'string') throw new ApiError(`the orchestrator accepted the workflow but named no id`, 202);
    return id;
  }

  /** `GET /workflows/:id`; an unknown id is an ApiError with status 404. */
  async workflow(id: string): Promise<WorkflowView> {
    return (await this.request('GET', `/workflows/${encodeURIComponent(id)}`)) as WorkflowView;
  }

  /** `POST /workflows/:id/approvals/:stepPath`: decides a waiting approval step. */
  async decide(id: string, stepPath: string, decision: { approve: boolean; comment?: string }): Promise<void> {
    await this.request(
      'POST',
      `/workflows/${encodeURIComponent(id)}/approvals/${encodeURIComponent(stepPath)}`,
      decision,
    );
  }

  /** One page of `GET /workflows`. */
  async list(query: { status?: string; limit?: number; cursor?: string }): Promise<WorkflowPage> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor) params.set('cursor', query.cursor);
    const search = params.size > 0 ? `?${params.toString()}` : '';
    return (await this.request('GET', `/workflows${search}`)) as WorkflowPage;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers['authorization'] = `Bearer ${this.apiKey}`;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok) return json;
    throw this.refused(response.status, json, text, method, path);
  }

  private unreachable(error: unknown): ApiError {
    const cause = (error as { cause?: unknown }).cause;
    const name = (error as { name?: unknown }).name;
    if (name === 'TimeoutError') {
      return new ApiError(`the orchestrator at ${this.baseUrl} did not answer within ${this.timeoutMs} ms`);
    }
    const code = (cause as { code?: unknown } | undefined)?.code;
    const why = typeof code === 'string' ? code : describeError(cause ?? error);
    return new ApiError(
      `cannot reach the orchestrator at ${this.baseUrl} (${why}): is it running? MESH_API_URL says where it is`,
    );
  }

  private refused(status: number, json: unknown, text: string, method: string, path: string): ApiError {
    const answer = (typeof json === 'object' && json !== null ? json : {}) as {
      message?: unknown;
      errors?: unknown;
    };
    const message = typeof answer.message === 'string' ? answer.message : text.slice(0, 200) || `HTTP ${status}`;
    if (status === 401) {
      return new ApiError(
        this.apiKey
          ? `the orchestrator at ${this.baseUrl} refused MESH_API_KEY (401): it is not one of its MESH_API_KEYS`
          : `the orchestrator at ${this.baseUrl} needs an API key (401): set MESH_API_KEY to one of its MESH_API_KEYS`,
        status,
      );
    }
    if (status === 404 && path.startsWith('/workflows/')) {
      return new ApiError(`${message} (unknown id, or its state expired after WORKFLOW_RETENTION_MS)`, status);
    }
    const fields = fieldProblems(answer.errors);
    const lines = [`the orchestrator refused ${method} ${path.split('?')[0]} (${status}): ${message}`];
    for (const problem of fields) lines.push(`  ${problem.field}: ${problem.messages.join('; ')}`);
    return new ApiError(lines.join('\n'), status, fields);
  }
}

function fieldProblems(errors: unknown): FieldProblem[] {
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((entry): FieldProblem[] => {
    const { field, messages } = (entry ?? {}) as { field?: unknown; messages?: unknown };
    if (typeof field !== 'string') return [];
    return [{ field, messages: Array.isArray(messages) ? messages.map(String) : [] }];
  });
}
