import type { ConsoleEvent, WorkflowPage, WorkflowStatus, WorkflowView } from '@agent-mesh/agents/orchestrator';

export type { ConsoleEvent, WorkflowPage, WorkflowStatus, WorkflowView };
export type { StepState, TimelineEntry, WorkflowSummary } from '@agent-mesh/agents/orchestrator';
export type { AgentHeartbeat, BrokerStats } from '@agent-mesh/contracts';

export const STATUSES: readonly WorkflowStatus[] = [
  'accepted',
  'running',
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
];

/** Where the API key lives: this tab only, gone when it closes. */
const KEY_STORAGE = 'agent-mesh.api-key';

export function apiKey(): string {
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** The key as the API takes it (MESH_API_KEYS): `Authorization: Bearer <key>`. */
export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** An answer other than 2xx, with the API's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    throw new ApiError(response.status, body.message ?? `${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

export function listWorkflows(query: { status?: WorkflowStatus; limit: number }): Promise<WorkflowPage> {
  const params = new URLSearchParams({ limit: String(query.limit) });
  if (query.status) params.set('status', query.status);
  return getJson<WorkflowPage>(`/workflows?${params}`);
}

export function getWorkflow(id: string): Promise<WorkflowView> {
  return getJson<WorkflowView>(`/workflows/${encodeURIComponent(id)}`);
}

/** Decides a step waiting for approval (`POST /workflows/:id/approvals/:stepPath`). */
export async function decideApproval(id: string, stepPath: string, approve: boolean, comment?: string): Promise<void> {
  const response = await fetch(`/workflows/${encodeURIComponent(id)}/approvals/${encodeURIComponent(stepPath)}`, {
    method: 'POST',
    headers: { ...authHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify(comment ? { approve, comment } : { approve }),
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    throw new ApiError(response.status, body.message ?? `${response.status} ${response.statusText}`);
  }
}

/** What model calls used: `1,250 tokens · 3 calls · $0.0125`. */
export function formatUsage(usage: NonNullable<WorkflowView['usage']>): string {
  const tokens = (usage.promptTokens + usage.completionTokens).toLocaleString('en-US');
  const cost =
    usage.costUsd === undefined ? '' : ` · $${usage.costUsd.toLocaleString('en-US', { maximumFractionDigits: 6 })}`;
  return `${tokens} tokens · ${usage.calls} call${usage.calls === 1 ? '' : 's'}${cost}`;
}

/** Milliseconds as the console shows them: 850 ms, 12.4 s, 3 min 5 s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** From `start` to `end`, or to now while it runs. */
export function elapsed(start: string, end?: string, now = Date.now()): number {
  return (end ? Date.parse(end) : now) - Date.parse(start);
}
