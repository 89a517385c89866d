import type { FanOutWorkflowRequest, WorkflowCompleted, WorkflowFailed } from '@agent-mesh/contracts';
import type { StateStore } from '@agent-mesh/state';

export type WorkflowStatus = 'accepted' | 'running' | 'completed' | 'failed';
export type BranchStatus = 'pending' | 'completed' | 'failed';

export interface BranchView {
  readonly index: number;
  readonly inputId: string;
  readonly status: BranchStatus;
  readonly worker?: string;
  readonly durationMs?: number;
  readonly output?: Record<string, unknown>;
  readonly error?: string;
}

export interface WorkflowView {
  readonly id: string;
  readonly status: WorkflowStatus;
  readonly skill: string;
  readonly branchCount: number;
  readonly submittedAt: string;
  readonly finishedAt?: string;
  readonly branches: BranchView[];
  readonly result?: Record<string, unknown>;
  readonly reason?: string;
}

const workflowKey = (id: string) => `orchestrator:wf:${id}`;
const branchesKey = (id: string) => `orchestrator:wf:${id}:branches`;

/**
 * The orchestrator's projection of its workflows: rebuilt from the events it consumes, every
 * write made once per event (the marker is the event id).
 */
export class WorkflowStore {
  constructor(private readonly state: StateStore) {}

  async accept(id: string, request: FanOutWorkflowRequest, at: Date): Promise<void> {
    await this.state.applyOnce(`orchestrator:accepted:${id}`, [
      { op: 'hset', key: workflowKey(id), field: 'status', value: 'accepted' },
      { op: 'hset', key: workflowKey(id), field: 'skill', value: request.skill },
      { op: 'hset', key: workflowKey(id), field: 'branchCount', value: String(request.inputs.length) },
      { op: 'hset', key: workflowKey(id), field: 'submittedAt', value: at.toISOString() },
    ]);
  }

  /** Records the fan-out; returns false if this workflow's tasks were already dispatched. */
  async start(eventId: string, id: string, request: FanOutWorkflowRequest, at: string): Promise<boolean> {
    await this.state.applyOnce(`orchestrator:requested:${eventId}`, [
      // hsetnx: a workflow already finished (replay) keeps its final status
      { op: 'hsetnx', key: workflowKey(id), field: 'submittedAt', value: at },
      { op: 'hset', key: workflowKey(id), field: 'skill', value: request.skill },
      { op: 'hset', key: workflowKey(id), field: 'branchCount', value: String(request.inputs.length) },
      ...request.inputs.map((input, index) => ({
        op: 'hsetnx' as const,
        key: branchesKey(id),
        field: String(index),
        value: JSON.stringify({ index, inputId: input.id, status: 'pending' } satisfies BranchView),
      })),
    ]);
    const status = await this.state.hget(workflowKey(id), 'status');
    if (status === 'completed' || status === 'failed') return false;
    return (await this.state.hget(workflowKey(id), 'dispatched')) !== '1';
  }

  async markDispatched(id: string): Promise<void> {
    await this.state.apply([
      { op: 'hset', key: workflowKey(id), field: 'dispatched', value: '1' },
      { op: 'hset', key: workflowKey(id), field: 'status', value: 'running' },
    ]);
  }

  async recordBranch(eventId: string, workflowId: string, branch: BranchView): Promise<void> {
    await this.state.applyOnce(`orchestrator:branch:${eventId}`, [
      { op: 'hset', key: branchesKey(workflowId), field: String(branch.index), value: JSON.stringify(branch) },
    ]);
  }

  async finish(eventId: string, id: string, at: string, outcome: { completed: WorkflowCompleted } | { failed: WorkflowFailed }): Promise<void> {
    const fields: Record<string, string> =
      'completed' in outcome
        ? { status: 'completed', result: JSON.stringify(outcome.completed.result) }
        : { status: 'failed', reason: outcome.failed.reason };
    await this.state.applyOnce(`orchestrator:finished:${eventId}`, [
      ...Object.entries(fields).map(([field, value]) => ({ op: 'hset' as const, key: workflowKey(id), field, value })),
      { op: 'hset', key: workflowKey(id), field: 'finishedAt', value: at },
    ]);
  }

  async get(id: string): Promise<WorkflowView | undefined> {
    const wf = await this.state.hgetall(workflowKey(id));
    if (!wf.status && !wf.skill) return undefined;
    const branches = Object.values(await this.state.hgetall(branchesKey(id)))
      .map((raw) => JSON.parse(raw) as BranchView)
      .sort((a, b) => a.index - b.index);
    return {
      id,
      status: (wf.status ?? 'accepted') as WorkflowStatus,
      skill: wf.skill,
      branchCount: Number(wf.branchCount),
      submittedAt: wf.submittedAt,
      finishedAt: wf.finishedAt,
      branches,
      result: wf.result ? (JSON.parse(wf.result) as Record<string, unknown>) : undefined,
      reason: wf.reason,
    };
  }
}
