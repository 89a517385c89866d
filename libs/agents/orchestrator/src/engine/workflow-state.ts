import type { StepKind, WorkflowSpec } from '@agent-mesh/contracts';
import { validateWorkflowSpec } from '@agent-mesh/contracts';
import type { StateOp, StateStore } from '@agent-mesh/state';

export type WorkflowStatus = 'accepted' | 'running' | 'completed' | 'failed' | 'compensated' | 'cancelled';
export type StepStatus = 'running' | 'completed' | 'failed';
export type BranchStatus = 'pending' | 'completed' | 'failed';

export interface StepState {
  readonly path: string;
  readonly kind: StepKind;
  readonly name?: string;
  readonly status: StepStatus;
  readonly attempt: number;
  /** The step whose output is this step's "previous" input (chains, recoveries). */
  readonly previousPath?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly output?: Record<string, unknown>;
  readonly error?: string;
}

export interface BranchView {
  readonly stepPath: string;
  readonly index: number;
  readonly inputId: string;
  readonly status: BranchStatus;
  readonly attempt: number;
  readonly worker?: string;
  readonly durationMs?: number;
  readonly output?: Record<string, unknown>;
  readonly error?: string;
}

export interface TimelineEntry {
  readonly at: string;
  readonly type: string;
  readonly source: string;
  readonly stepPath?: string;
  readonly detail?: string;
}

export interface WorkflowView {
  readonly id: string;
  readonly name?: string;
  readonly status: WorkflowStatus;
  readonly submittedAt: string;
  readonly finishedAt?: string;
  /** For a workflow whose root is a fan-out: its skill and branches (the plain fan-out API). */
  readonly skill?: string;
  readonly branchCount?: number;
  readonly branches: BranchView[];
  readonly steps: StepState[];
  readonly result?: Record<string, unknown>;
  readonly reason?: string;
  readonly timeline: TimelineEntry[];
}

export interface WorkflowSummary {
  readonly id: string;
  readonly name?: string;
  readonly status: WorkflowStatus;
  readonly submittedAt: string;
  readonly finishedAt?: string;
}

const wfKey = (id: string) => `orchestrator:wf:${id}`;
const stepsKey = (id: string) => `orchestrator:wf:${id}:steps`;
const branchesKey = (id: string) => `orchestrator:wf:${id}:branches`;
const timelineKey = (id: string) => `orchestrator:wf:${id}:timeline`;
const INDEX_KEY = 'orchestrator:workflows';

/**
 * The orchestrator's state of its workflows: the spec, each step's state, branch projections
 * and the timeline. Every transition is written once per (step, attempt) through applyOnce, so
 * a redelivered event changes nothing twice.
 */
export class WorkflowState {
  private readonly specs = new Map<string, WorkflowSpec>();

  constructor(private readonly state: StateStore) {}

  async accept(id: string, spec: WorkflowSpec, at: string): Promise<void> {
    await this.state.applyOnce(`orchestrator:accepted:${id}`, [
      { op: 'hsetnx', key: wfKey(id), field: 'status', value: 'accepted' },
      { op: 'hset', key: wfKey(id), field: 'submittedAt', value: at },
      { op: 'hset', key: wfKey(id), field: 'spec', value: JSON.stringify(spec) },
      ...(spec.name ? [{ op: 'hset' as const, key: wfKey(id), field: 'name', value: spec.name }] : []),
      { op: 'sadd', key: INDEX_KEY, member: id },
    ]);
  }

  /** Marks the workflow running; false if it already finished or was cancelled. */
  async begin(id: string, spec: WorkflowSpec, at: string): Promise<boolean> {
    await this.state.applyOnce(`orchestrator:begin:${id}`, [
      { op: 'hsetnx', key: wfKey(id), field: 'submittedAt', value: at },
      { op: 'hsetnx', key: wfKey(id), field: 'spec', value: JSON.stringify(spec) },
      ...(spec.name ? [{ op: 'hsetnx' as const, key: wfKey(id), field: 'name', value: spec.name }] : []),
      { op: 'sadd', key: INDEX_KEY, member: id },
    ]);
    const status = await this.state.hget(wfKey(id), 'status');
    if (status === 'completed' || status === 'failed' || status === 'compensated' || status === 'cancelled') return false;
    await this.state.apply([{ op: 'hset', key: wfKey(id), field: 'status', value: 'running' }]);
    return true;
  }

  async status(id: string): Promise<WorkflowStatus | undefined> {
    return ((await this.state.hget(wfKey(id), 'status')) ?? undefined) as WorkflowStatus | undefined;
  }

  async spec(id: string): Promise<WorkflowSpec | undefined> {
    const cached = this.specs.get(id);
    if (cached) return cached;
    const raw = await this.state.hget(wfKey(id), 'spec');
    if (!raw) return undefined;
    const spec = validateWorkflowSpec(JSON.parse(raw));
    if (this.specs.size > 1000) this.specs.clear();
    this.specs.set(id, spec);
    return spec;
  }

  async step(id: string, path: string): Promise<StepState | undefined> {
    const raw = await this.state.hget(stepsKey(id), path);
    return raw ? (JSON.parse(raw) as StepState) : undefined;
  }

  /** Records a step (attempt) as started; false if that attempt was started before. */
  async startStep(id: string, step: StepState): Promise<boolean> {
    const { applied } = await this.state.applyOnce(`orchestrator:start:${id}:${step.path}:${step.attempt}`, [
      { op: 'hset', key: stepsKey(id), field: step.path, value: JSON.stringify(step) },
    ]);
    return applied;
  }

  /** Records how a step (attempt) ended; false if it was recorded before. */
  async finishStep(id: string, step: StepState, extra: readonly StateOp[] = []): Promise<boolean> {
    const { applied } = await this.state.applyOnce(`orchestrator:finish:${id}:${step.path}:${step.attempt}`, [
      { op: 'hset', key: stepsKey(id), field: step.path, value: JSON.stringify(step) },
      ...extra,
    ]);
    return applied;
  }

  /** Counts a finished child of a supervisor once; returns how many have finished. */
  async countChild(id: string, supervisorPath: string, childPath: string): Promise<number> {
    await this.state.applyOnce(`orchestrator:child:${id}:${childPath}`, [
      { op: 'hincrby', key: wfKey(id), field: `done:${supervisorPath}`, by: 1 },
    ]);
    return Number(await this.state.hget(wfKey(id), `done:${supervisorPath}`));
  }

  async finish(id: string, eventId: string, at: string, outcome: { result: Record<string, unknown> } | { reason: string; status?: 'failed' | 'compensated' | 'cancelled' }): Promise<boolean> {
    const fields: Record<string, string> =
      'result' in outcome
        ? { status: 'completed', result: JSON.stringify(outcome.result) }
        : { status: outcome.status ?? 'failed', reason: outcome.reason };
    const { applied } = await this.state.applyOnce(`orchestrator:finished:${id}:${eventId}`, [
      ...Object.entries(fields).map(([field, value]) => ({ op: 'hset' as const, key: wfKey(id), field, value })),
      { op: 'hset', key: wfKey(id), field: 'finishedAt', value: at },
    ]);
    return applied;
  }

  async recordBranch(id: string, eventId: string, branch: BranchView): Promise<void> {
    const field = `${branch.stepPath}#${branch.index}`;
    const current = await this.state.hget(branchesKey(id), field);
    // A late result of an earlier attempt must not overwrite a later one.
    if (current && (JSON.parse(current) as BranchView).attempt > branch.attempt) return;
    await this.state.applyOnce(`orchestrator:branch:${eventId}`, [
      { op: 'hset', key: branchesKey(id), field, value: JSON.stringify(branch) },
    ]);
  }

  async initBranches(id: string, stepPath: string, inputIds: readonly string[]): Promise<void> {
    await this.state.apply(
      inputIds.map((inputId, index) => ({
        op: 'hsetnx' as const,
        key: branchesKey(id),
        field: `${stepPath}#${index}`,
        value: JSON.stringify({ stepPath, index, inputId, status: 'pending', attempt: 1 } satisfies BranchView),
      })),
    );
  }

  async record(id: string, marker: string, entry: TimelineEntry): Promise<void> {
    await this.state.applyOnce(`orchestrator:timeline:${id}:${marker}`, [
      { op: 'rpush', key: timelineKey(id), value: JSON.stringify(entry) },
    ]);
  }

  async list(status?: WorkflowStatus, limit = 100): Promise<WorkflowSummary[]> {
    const ids = (await this.state.smembers(INDEX_KEY)).sort().reverse();
    const out: WorkflowSummary[] = [];
    for (const id of ids) {
      const wf = await this.state.hgetall(wfKey(id));
      if (status && wf.status !== status) continue;
      out.push({ id, name: wf.name, status: (wf.status ?? 'accepted') as WorkflowStatus, submittedAt: wf.submittedAt, finishedAt: wf.finishedAt });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Every step's state, in path order. */
  async steps(id: string): Promise<StepState[]> {
    return Object.values(await this.state.hgetall(stepsKey(id)))
      .map((raw) => JSON.parse(raw) as StepState)
      .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  }

  /** Branch projections of every fan-out, or of one step's. */
  async branches(id: string, stepPath?: string): Promise<BranchView[]> {
    return Object.values(await this.state.hgetall(branchesKey(id)))
      .map((raw) => JSON.parse(raw) as BranchView)
      .filter((b) => stepPath === undefined || b.stepPath === stepPath)
      .sort((a, b) => a.stepPath.localeCompare(b.stepPath) || a.index - b.index);
  }

  async view(id: string): Promise<WorkflowView | undefined> {
    const wf = await this.state.hgetall(wfKey(id));
    if (!wf.status && !wf.spec) return undefined;
    const spec = wf.spec ? (JSON.parse(wf.spec) as WorkflowSpec) : undefined;
    const steps = await this.steps(id);
    const allBranches = await this.branches(id);
    const rootFanOut = spec?.step.kind === 'fan-out' ? spec.step : undefined;
    return {
      id,
      name: wf.name,
      status: (wf.status ?? 'accepted') as WorkflowStatus,
      submittedAt: wf.submittedAt,
      finishedAt: wf.finishedAt,
      skill: rootFanOut?.skill,
      branchCount: rootFanOut?.inputs.length,
      branches: allBranches,
      steps,
      result: wf.result ? (JSON.parse(wf.result) as Record<string, unknown>) : undefined,
      reason: wf.reason,
      // In order of occurrence (events reach the orchestrator over two topics, not in that order).
      timeline: (await this.state.lrange(timelineKey(id), 0, -1))
        .map((raw) => JSON.parse(raw) as TimelineEntry)
        .sort((a, b) => Date.parse(a.at) - Date.parse(b.at)),
    };
  }
}
