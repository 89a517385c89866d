import type { StepKind, StepSpec, TaskUsage, WorkflowSpec } from '@agent-mesh/contracts';
import { lineage, ROOT, stepAt, validateWorkflowSpec, walkSteps, withPlans } from '@agent-mesh/contracts';
import { boardStateKeys } from '../blackboard/board-store';
import { usageIncrements, usageOf, type Usage } from './usage';
import { expireOps, type OnceStep, type StateOp, type StateStore } from '@agent-mesh/state';

export type WorkflowStatus =
  'accepted' | 'running' | 'completed' | 'failed' | 'compensated' | 'cancelled' | 'timed-out';
export type StepStatus = 'running' | 'completed' | 'failed';
export type BranchStatus = 'pending' | 'completed' | 'failed';

/** What a waiting step waits for: a human's decision on an approval, with what they are asked. */
export interface Awaiting {
  readonly what: 'approval';
  readonly prompt?: string;
}

export interface StepState {
  readonly path: string;
  readonly kind: StepKind;
  readonly name?: string;
  readonly status: StepStatus;
  readonly attempt: number;
  /** The step whose output is this step's "previous" input (chains, recoveries). */
  readonly previousPath?: string;
  readonly startedAt: string;
  /** The deadline that applies to this attempt: its own (`deadlineMs`) or its parent's, whichever is earlier. */
  readonly deadlineAt?: string;
  readonly finishedAt?: string;
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  /** Set while the step waits on a decision (an approval); shown only while it runs. */
  readonly awaiting?: Awaiting;
  /** What its tasks' model calls used (the steps under it included), in the API's view. */
  readonly usage?: Usage;
}

/**
 * A step's state as stored: with the ids of the events that started and ended its attempt, so
 * a redelivered event can tell a transition it made itself (and must finish) from one another
 * event made (and it must leave alone). Not part of the API's view.
 */
export interface StepRecord extends StepState {
  readonly startedBy?: string;
  readonly endedBy?: string;
}

/** What a handler reads of a workflow before it decides: its status and some steps' states. */
export interface WorkflowSnapshot {
  readonly status: WorkflowStatus | undefined;
  readonly steps: ReadonlyMap<string, StepRecord>;
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
  /** A result that came after its step (this attempt) or its workflow had ended: it changed nothing else. */
  readonly late?: boolean;
}

/** A projected branch as stored: with the id of the result event that set it. */
interface StoredBranch extends BranchView {
  readonly by?: string;
}

/** Every status, in the order a workflow goes through them. */
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = [
  'accepted',
  'running',
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
];

/** The statuses a workflow ends with. */
const ENDED: ReadonlySet<WorkflowStatus | null | undefined> = new Set<WorkflowStatus>([
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
]);

/** Who begins a workflow: the process that accepted it over HTTP, or the handler of workflow.submitted / .requested. */
export type BeginOrigin = 'submit' | 'event';

export interface BeginState {
  /** False if the workflow already finished or was cancelled. */
  readonly runnable: boolean;
  /** Who began it first: that begin owns the start. */
  readonly firstBegun: BeginOrigin;
  /** Set when the submitting process began it: when (epoch ms), and whether its begin is done (markAnnounced). */
  readonly submitter?: { readonly at: number; readonly announced: boolean };
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
  /** What its tasks' model calls used, when any reported usage. */
  readonly usage?: Usage;
  readonly timeline: TimelineEntry[];
}

export interface WorkflowSummary {
  readonly id: string;
  readonly name?: string;
  /** Its root step's kind: the pattern it runs (`fan-out`, `chain`, `saga`, ...). */
  readonly pattern?: StepKind;
  readonly status: WorkflowStatus;
  readonly submittedAt: string;
  readonly finishedAt?: string;
}

const wfKey = (id: string) => `orchestrator:wf:${id}`;
const stepsKey = (id: string) => `orchestrator:wf:${id}:steps`;
const branchesKey = (id: string) => `orchestrator:wf:${id}:branches`;
const timelineKey = (id: string) => `orchestrator:wf:${id}:timeline`;
/** `<stepPath>:<counter>` → the usage counters of each step (and, under `root`, the workflow's). */
const usageKey = (id: string) => `orchestrator:wf:${id}:usage`;
/** Supervisor path → the children its planner gave (JSON): grafted into the spec when it is read. */
const plansKey = (id: string) => `orchestrator:wf:${id}:plans`;
/** `<stepPath>#<index>` → `<attempt>:<status>` of each projected branch result (recordSlot's slots). */
const branchStatesKey = (id: string) => `orchestrator:wf:${id}:branch-states`;
/** Status → number of a fan-out's branches projected in it. */
const branchCountsKey = (id: string, stepPath: string) => `orchestrator:wf:${id}:branch-counts:${stepPath}`;
/**
 * The workflow index: every workflow, and those in each status, as sorted sets of ids with one
 * score, so that ids (UUID v7, ordered by submission) page in order with a cursor: O(page).
 */
const indexKey = (status?: WorkflowStatus) => (status ? `orchestrator:index:${status}` : 'orchestrator:index');
/**
 * Ended workflows by the time their state expires: members `<expiry ms, 15 digits>:<status>:<id>`
 * (lexicographic = time order), so the sweep finds the expired ones from the start.
 */
const EXPIRING_KEY = 'orchestrator:expiring';
const NOT_ENDED: readonly WorkflowStatus[] = ['accepted', 'running'];
/** How many accepted workflows a count checks (and drops from that index if they started meanwhile). */
const ACCEPTED_CHECKED_PER_COUNT = 1000;

/** Moves a workflow into the index of `status`, out of those of the statuses before it. */
function indexOps(id: string, status: WorkflowStatus, before: readonly WorkflowStatus[]): StateOp[] {
  return [
    ...before.map((from): StateOp => ({ op: 'zrem', key: indexKey(from), member: id })),
    { op: 'zadd', key: indexKey(status), score: 0, member: id },
  ];
}

/** One page of `GET /workflows`: newest first; `nextCursor` when there may be more. */
export interface WorkflowPage {
  readonly workflows: WorkflowSummary[];
  readonly nextCursor?: string;
}

function timelineOp(id: string, entry: TimelineEntry): StateOp {
  return { op: 'rpush', key: timelineKey(id), value: JSON.stringify(entry) };
}

/** Whether the spec has a step at `path` (a planned child is there once its plan is grafted in). */
function hasStep(spec: WorkflowSpec, path: string): boolean {
  try {
    stepAt(spec, path);
    return true;
  } catch {
    return false;
  }
}

/** At most this many specs in memory: the workflows in flight, with room to spare. */
const SPEC_CACHE_ENTRIES = 512;
/** And at most this many characters of spec JSON (the parsed objects take a few times more). */
const SPEC_CACHE_CHARS = 8 * 1024 * 1024;

/**
 * The orchestrator's state of its workflows: the spec, each step's state, branch projections
 * and the timeline. Every transition is written once per (step, attempt) through applyOnce, so
 * a redelivered event changes nothing twice.
 */
export class WorkflowState {
  /** Specs of recent workflows (least recently used first), so hot paths need not read them back. */
  private readonly specs = new Map<string, { readonly spec: WorkflowSpec; readonly chars: number }>();
  private specChars = 0;

  constructor(
    private readonly state: StateStore,
    /** How long an ended workflow's keys live (WORKFLOW_RETENTION_MS). */
    private readonly retentionMs = 7 * 24 * 60 * 60 * 1000,
  ) {}

  /** Records a submission, with the timeline entry of the event that announces it. */
  async accept(id: string, spec: WorkflowSpec, at: string, entries: readonly TimelineEntry[] = []): Promise<void> {
    await this.state.applyOnce(`orchestrator:accepted:${id}`, [
      { op: 'hsetnx', key: wfKey(id), field: 'status', value: 'accepted' },
      { op: 'hset', key: wfKey(id), field: 'submittedAt', value: at },
      { op: 'hset', key: wfKey(id), field: 'spec', value: JSON.stringify(spec) },
      ...(spec.name ? [{ op: 'hset' as const, key: wfKey(id), field: 'name', value: spec.name }] : []),
      { op: 'hset', key: wfKey(id), field: 'pattern', value: spec.step.kind },
      { op: 'zadd', key: indexKey(), score: 0, member: id },
      // A begin that got in first made it running: the listing drops the stale entry (list()).
      { op: 'zadd', key: indexKey('accepted'), score: 0, member: id },
      ...entries.map((entry) => timelineOp(id, entry)),
    ]);
  }

  /**
   * Records the workflow (if nothing accepted it) and says whether it can run: false if it
   * already finished or was cancelled. It is marked running with its root step's start (runningOp).
   * The first begin also records who began it and when (`origin`): a begin by the submitting
   * process (POST /workflows, before workflow.submitted comes back) lets the event's handler
   * tell a start still in flight, or finished (`markAnnounced`), from one that died half-way.
   */
  async begin(id: string, spec: WorkflowSpec, at: string, origin: BeginOrigin): Promise<BeginState> {
    // The read goes out with the write (same connection, so it reads after it): one round trip.
    const specJson = JSON.stringify(spec);
    const fields = ['status', 'begunVia', 'begunAt', 'begunOut'];
    const [, read] = await Promise.all([
      this.state.applyOnce(`orchestrator:begin:${id}`, [
        { op: 'hsetnx', key: wfKey(id), field: 'submittedAt', value: at },
        { op: 'hsetnx', key: wfKey(id), field: 'spec', value: specJson },
        ...(spec.name ? [{ op: 'hsetnx' as const, key: wfKey(id), field: 'name', value: spec.name }] : []),
        { op: 'hsetnx', key: wfKey(id), field: 'pattern', value: spec.step.kind },
        { op: 'zadd', key: indexKey(), score: 0, member: id },
        { op: 'hsetnx', key: wfKey(id), field: 'begunVia', value: origin },
        { op: 'hsetnx', key: wfKey(id), field: 'begunAt', value: String(Date.now()) },
      ]),
      this.state.hmget(wfKey(id), fields),
    ]);
    // After the write, begunVia is always set. Unset, the read overtook the write: Redis did not
    // have the script (NOSCRIPT after a restart or a flush) and it went again, after the read.
    const [status, begunVia, begunAt, announced] = read[1] === null ? await this.state.hmget(wfKey(id), fields) : read;
    this.remember(id, spec, specJson.length); // its first step's end needs it: no read on that path
    const runnable = !ENDED.has(status as WorkflowStatus | null);
    if (begunVia !== 'submit') return { runnable, firstBegun: 'event' };
    return { runnable, firstBegun: 'submit', submitter: { at: Number(begunAt), announced: announced === '1' } };
  }

  /** The submitting process's begin is done: its root start is recorded and everything it published is out. */
  async markAnnounced(id: string): Promise<void> {
    await this.state.apply([{ op: 'hset', key: wfKey(id), field: 'begunOut', value: '1' }]);
  }

  /** Marks the workflow running (and indexes it so), to write with its root step's start. */
  runningOps(id: string): StateOp[] {
    return [
      { op: 'hset', key: wfKey(id), field: 'status', value: 'running' },
      ...indexOps(id, 'running', ['accepted']),
    ];
  }

  async status(id: string): Promise<WorkflowStatus | undefined> {
    return ((await this.state.hget(wfKey(id), 'status')) ?? undefined) as WorkflowStatus | undefined;
  }

  /**
   * The workflow's spec with its recorded plans. `path`: a step the caller is about — a cached
   * spec that has no step there (another process recorded a plan since) is read again.
   */
  async spec(id: string, path?: string): Promise<WorkflowSpec | undefined> {
    const cached = this.specs.get(id);
    if (cached && (path === undefined || hasStep(cached.spec, path))) {
      this.remember(id, cached.spec, cached.chars);
      return cached.spec;
    }
    return this.currentSpec(id);
  }

  /**
   * The spec with every plan recorded so far, read from the store (and cached): what a
   * workflow's end needs, as it gives every step's keys their expiry.
   */
  async currentSpec(id: string): Promise<WorkflowSpec | undefined> {
    const [raw, plans] = await Promise.all([this.state.hget(wfKey(id), 'spec'), this.state.hgetall(plansKey(id))]);
    if (!raw) return undefined;
    // Kept as stored: a spec that came by event may carry fields of a newer version (schema evolution).
    const submitted = validateWorkflowSpec(JSON.parse(raw), 'keep');
    const planned = Object.entries(plans).map(([at, children]): [string, unknown] => [at, JSON.parse(children)]);
    const spec = planned.length > 0 ? withPlans(submitted, new Map(planned)) : submitted;
    this.remember(id, spec, raw.length + Object.values(plans).reduce((n, p) => n + p.length, 0));
    return spec;
  }

  /** A supervisor's plan recorded, with its timeline entries: a transition for writeChain. */
  planWrite(id: string, path: string, children: readonly StepSpec[], entries: readonly TimelineEntry[] = []): OnceStep {
    return {
      marker: `orchestrator:planned:${id}:${path}`,
      ops: [
        { op: 'hset', key: plansKey(id), field: path, value: JSON.stringify(children) },
        ...entries.map((entry) => timelineOp(id, entry)),
      ],
    };
  }

  /** Caches a spec within SPEC_CACHE_ENTRIES and SPEC_CACHE_CHARS (a spec may be 20 MB), dropping the least recently used. */
  private remember(id: string, spec: WorkflowSpec, chars: number): void {
    const previous = this.specs.get(id);
    if (previous) {
      this.specs.delete(id);
      this.specChars -= previous.chars;
    }
    if (chars > SPEC_CACHE_CHARS / 8) return; // a very large spec is read back when needed
    this.specs.set(id, { spec, chars });
    this.specChars += chars;
    for (const [oldest, entry] of this.specs) {
      if (this.specs.size <= SPEC_CACHE_ENTRIES && this.specChars <= SPEC_CACHE_CHARS) break;
      this.specs.delete(oldest);
      this.specChars -= entry.chars;
    }
  }

  /** How many specs are cached and their size in JSON characters (for tests and diagnostics). */
  specCacheSize(): { readonly entries: number; readonly chars: number } {
    return { entries: this.specs.size, chars: this.specChars };
  }

  async step(id: string, path: string): Promise<StepRecord | undefined> {
    const raw = await this.state.hget(stepsKey(id), path);
    return raw ? (JSON.parse(raw) as StepRecord) : undefined;
  }

  /** The status and the states of `paths`, read concurrently: one round trip, not one per read. */
  async snapshot(id: string, paths: readonly string[]): Promise<WorkflowSnapshot> {
    const [status, ...raws] = await Promise.all([
      this.state.hget(wfKey(id), 'status'),
      ...paths.map((path) => this.state.hget(stepsKey(id), path)),
    ]);
    const steps = new Map<string, StepRecord>();
    raws.forEach((raw, i) => raw && steps.set(paths[i], JSON.parse(raw) as StepRecord));
    return { status: (status ?? undefined) as WorkflowStatus | undefined, steps };
  }

  /**
   * A step (attempt) recorded as started, with the timeline entries of the events announcing it
   * (written with the state, so the timeline never lags the steps): a transition for writeChain.
   */
  startWrite(
    id: string,
    step: StepRecord,
    entries: readonly TimelineEntry[] = [],
    extra: readonly StateOp[] = [],
  ): OnceStep {
    return {
      marker: `orchestrator:start:${id}:${step.path}:${step.attempt}`,
      ops: [
        { op: 'hset', key: stepsKey(id), field: step.path, value: JSON.stringify(step) },
        ...extra,
        ...entries.map((entry) => timelineOp(id, entry)),
      ],
    };
  }

  /** How a step (attempt) ended, with its timeline entries: a transition for writeChain. */
  finishWrite(id: string, step: StepRecord, entries: readonly TimelineEntry[] = []): OnceStep {
    return {
      marker: `orchestrator:finish:${id}:${step.path}:${step.attempt}`,
      ops: [
        { op: 'hset', key: stepsKey(id), field: step.path, value: JSON.stringify(step) },
        ...entries.map((entry) => timelineOp(id, entry)),
      ],
    };
  }

  /**
   * Writes transitions that follow each other (a step's end, its parent's end, the next step's
   * start, the workflow's end) in one atomic round trip, each once, stopping at the first that
   * was made before; returns how many were made now.
   */
  async writeChain(steps: readonly OnceStep[]): Promise<number> {
    return (await this.state.applyOnceChain(steps)).applied;
  }

  /** Counts a finished child of a supervisor once; returns how many have finished. */
  async countChild(id: string, supervisorPath: string, childPath: string): Promise<number> {
    const { applied, results } = await this.state.applyOnce(`orchestrator:child:${id}:${childPath}`, [
      { op: 'hincrby', key: wfKey(id), field: `done:${supervisorPath}`, by: 1 },
    ]);
    // The count this increment made: of children finishing at once, exactly one sees them all.
    if (applied) return Number(results[0]);
    return Number(await this.state.hget(wfKey(id), `done:${supervisorPath}`));
  }

  /**
   * The workflow's end, written once: the first outcome recorded stands (a late completion cannot
   * undo a cancel, nor a cancel a completion). `by` is the event that ended it. For writeChain.
   */
  finishWorkflowWrite(
    id: string,
    spec: WorkflowSpec,
    by: string,
    at: string,
    outcome:
      | { result: Record<string, unknown> }
      | { reason: string; status?: 'failed' | 'compensated' | 'cancelled' | 'timed-out' },
    entries: readonly TimelineEntry[] = [],
  ): OnceStep {
    const fields: Record<string, string> =
      'result' in outcome
        ? { status: 'completed', result: JSON.stringify(outcome.result) }
        : { status: outcome.status ?? 'failed', reason: outcome.reason };
    return {
      marker: `orchestrator:finished:${id}`,
      ops: [
        ...Object.entries(fields).map(([field, value]) => ({ op: 'hset' as const, key: wfKey(id), field, value })),
        { op: 'hset', key: wfKey(id), field: 'finishedAt', value: at },
        { op: 'hset', key: wfKey(id), field: 'finishedBy', value: by },
        ...entries.map((entry) => timelineOp(id, entry)),
        ...this.retireOps(id, spec, fields['status'] as WorkflowStatus),
      ],
    };
  }

  /**
   * An ended workflow: indexed under its final status, and every key of its state given the
   * retention period to live (WORKFLOW_RETENTION_MS); the sweep takes it out of the index then.
   */
  private retireOps(id: string, spec: WorkflowSpec, status: WorkflowStatus): StateOp[] {
    const expiresAt = Date.now() + this.retentionMs;
    const keys = [
      wfKey(id),
      stepsKey(id),
      branchesKey(id),
      timelineKey(id),
      branchStatesKey(id),
      usageKey(id),
      plansKey(id),
    ];
    walkSteps(spec.step, (step, { path }) => {
      if (step.kind === 'fan-out') keys.push(branchCountsKey(id, path));
      if (step.kind === 'blackboard') keys.push(...boardStateKeys(id, path));
    });
    return [
      ...indexOps(id, status, NOT_ENDED),
      { op: 'zadd', key: EXPIRING_KEY, score: 0, member: `${String(expiresAt).padStart(15, '0')}:${status}:${id}` },
      ...expireOps(keys, this.retentionMs),
    ];
  }

  /**
   * Takes the workflows whose retention has passed out of the index (their keys expired by
   * themselves), oldest first, at most `limit` at a time; returns how many it took out.
   */
  async sweepExpired(now = Date.now(), limit = 500): Promise<number> {
    const due = (await this.state.zpage(EXPIRING_KEY, { limit, order: 'asc' })).filter(
      (member) => Number(member.slice(0, 15)) <= now,
    );
    if (due.length === 0) return 0;
    await this.state.apply(
      due.flatMap((member): StateOp[] => {
        const [, status, id] = member.split(':') as [string, WorkflowStatus, string];
        return [
          { op: 'zrem', key: indexKey(), member: id },
          { op: 'zrem', key: indexKey(status), member: id },
          { op: 'zrem', key: EXPIRING_KEY, member },
        ];
      }),
    );
    return due.length;
  }

  /** The event that ended the workflow. */
  async finishedBy(id: string): Promise<string | undefined> {
    return (await this.state.hget(wfKey(id), 'finishedBy')) ?? undefined;
  }

  /**
   * Projects a branch's result with its timeline entry, in one atomic step (recordSlot): once
   * per task — the first result of a task stands, as in the aggregator's join — and never over
   * a later attempt's result. The counts per status go with it (branchCounts). Any other
   * result of the task (the real one after its deadline failed it, a re-run's) or of a
   * replaced attempt is late: only its timeline entry is written, flagged so.
   */
  async recordBranch(
    id: string,
    result: { readonly taskId: string; readonly eventId: string },
    branch: BranchView,
    entry: TimelineEntry,
  ): Promise<'recorded' | 'late'> {
    const field = `${branch.stepPath}#${branch.index}`;
    const stored: StoredBranch = { ...branch, by: result.eventId };
    const { outcome } = await this.state.recordSlot({
      marker: `orchestrator:branch:${result.taskId}`,
      slotsKey: branchStatesKey(id),
      countsKey: branchCountsKey(id, branch.stepPath),
      slot: field,
      version: branch.attempt,
      state: branch.status,
      ops: [{ op: 'hset', key: branchesKey(id), field, value: JSON.stringify(stored) }, timelineOp(id, entry)],
    });
    if (outcome === 'recorded') return 'recorded';
    if (outcome === 'duplicate') {
      // Recorded by this very event (a redelivery: its entry is written) or by another: late.
      const raw = await this.state.hget(branchesKey(id), field);
      if (raw && (JSON.parse(raw) as StoredBranch).by === result.eventId) return 'recorded';
    }
    await this.record(id, result.eventId, { ...entry, late: true });
    return 'late';
  }

  /** The attempt of each of a fan-out's branches whose result is projected (undefined: none yet). */
  async projectedAttempts(id: string, stepPath: string, indexes: readonly number[]): Promise<(number | undefined)[]> {
    const states = await this.state.hmget(
      branchStatesKey(id),
      indexes.map((i) => `${stepPath}#${i}`),
    );
    return states.map((state) => (state === null ? undefined : Number(state.split(':')[0])));
  }

  /**
   * Which of a fan-out's branches have a completed result projected: one small read, no branch
   * parsed. A branch whose failed attempt is projected but not its retry's result is not.
   */
  async completedBranches(id: string, stepPath: string, indexes: readonly number[]): Promise<boolean[]> {
    const states = await this.state.hmget(
      branchStatesKey(id),
      indexes.map((i) => `${stepPath}#${i}`),
    );
    return states.map((state) => state?.split(':')[1] === ('completed' satisfies BranchStatus));
  }

  /** How many of a fan-out's branches have completed and failed, from the counts kept with the projection. */
  async branchCounts(id: string, stepPath: string): Promise<{ completed: number; failed: number }> {
    const counts = await this.state.hgetall(branchCountsKey(id, stepPath));
    return { completed: Number(counts['completed'] ?? 0), failed: Number(counts['failed'] ?? 0) };
  }

  /** The pending branches of a fan-out, as ops to write with the step's start. */
  initBranchOps(id: string, stepPath: string, inputIds: readonly string[]): StateOp[] {
    return inputIds.map((inputId, index) => ({
      op: 'hsetnx' as const,
      key: branchesKey(id),
      field: `${stepPath}#${index}`,
      value: JSON.stringify({ stepPath, index, inputId, status: 'pending', attempt: 1 } satisfies BranchView),
    }));
  }

  /**
   * Adds a task's usage (once per result event) to its step's counters and every ancestor's:
   * the root's are the workflow's. False when this event's usage was added before.
   */
  async addUsage(id: string, stepPath: string, usage: TaskUsage, eventId: string): Promise<boolean> {
    const increments = Object.entries(usageIncrements(usage));
    const { applied } = await this.state.applyOnce(
      `orchestrator:usage:${id}:${eventId}`,
      [...new Set([...lineage(stepPath), ROOT])].flatMap((path) =>
        increments.map(([counter, by]): StateOp => ({
          op: 'hincrby',
          key: usageKey(id),
          field: `${path}:${counter}`,
          by,
        })),
      ),
    );
    return applied;
  }

  /** What the workflow's tasks have used so far. */
  async workflowUsage(id: string): Promise<Usage> {
    const names = ['promptTokens', 'completionTokens', 'costMicroUsd', 'priced', 'calls'];
    const values = await this.state.hmget(
      usageKey(id),
      names.map((name) => `${ROOT}:${name}`),
    );
    return usageOf(Object.fromEntries(names.map((name, i) => [name, Number(values[i] ?? 0)])));
  }

  /** Every step's usage, by path (those that had any). */
  private async usageByStep(id: string): Promise<Map<string, Usage>> {
    const counters = new Map<string, Record<string, number>>();
    for (const [field, value] of Object.entries(await this.state.hgetall(usageKey(id)))) {
      const at = field.lastIndexOf(':');
      const path = field.slice(0, at);
      counters.set(path, { ...counters.get(path), [field.slice(at + 1)]: Number(value) });
    }
    return new Map([...counters].map(([path, c]) => [path, usageOf(c)]));
  }

  /**
   * Claims the one decision on an approval step's attempt: true for the first claim. A claim
   * whose event could not be published is given back (releaseDecision).
   */
  async claimDecision(id: string, stepPath: string, attempt: number): Promise<boolean> {
    const [claims] = await this.state.apply([
      { op: 'hincrby', key: wfKey(id), field: `decision:${stepPath}:${attempt}`, by: 1 },
    ]);
    return Number(claims) === 1;
  }

  async releaseDecision(id: string, stepPath: string, attempt: number): Promise<void> {
    await this.state.apply([{ op: 'hincrby', key: wfKey(id), field: `decision:${stepPath}:${attempt}`, by: -1 }]);
  }

  /** The claim as the decision's handler leaves it, so a rebuild from the log makes it again. */
  async decisionMade(id: string, stepPath: string, attempt: number): Promise<void> {
    await this.state.apply([{ op: 'hsetnx', key: wfKey(id), field: `decision:${stepPath}:${attempt}`, value: '1' }]);
  }

  /** Records a consumed event on the timeline, once per event. */
  async record(id: string, marker: string, entry: TimelineEntry): Promise<void> {
    await this.state.applyOnce(`orchestrator:timeline:${id}:${marker}`, [timelineOp(id, entry)]);
  }

  /** Records events the orchestrator publishes itself (fresh ids: nothing to deduplicate), in order. */
  async recordAll(id: string, entries: readonly TimelineEntry[]): Promise<void> {
    if (entries.length > 0) await this.state.apply(entries.map((entry) => timelineOp(id, entry)));
  }

  /**
   * One page of workflows, newest first, from the index of `status` (or of all): O(page). Ids
   * whose workflow is gone (expired) or has moved on to another status are dropped from that
   * index on the way.
   */
  async list(query: { status?: WorkflowStatus; limit: number; after?: string }): Promise<WorkflowPage> {
    const { status, limit } = query;
    const key = indexKey(status);
    const workflows: WorkflowSummary[] = [];
    let after = query.after;
    for (;;) {
      const wanted = limit - workflows.length;
      const ids = await this.state.zpage(key, { after, limit: wanted, order: 'desc' });
      const found = await Promise.all(ids.map((id) => this.summary(id)));
      const stale = ids.filter((_, i) => !found[i] || (status && found[i]?.status !== status));
      if (stale.length > 0) await this.state.apply(stale.map((id): StateOp => ({ op: 'zrem', key, member: id })));
      for (const summary of found) if (summary && (!status || summary.status === status)) workflows.push(summary);
      if (ids.length < wanted) return { workflows }; // the index has no more
      after = ids[ids.length - 1];
      if (workflows.length >= limit) return { workflows, nextCursor: after };
    }
  }

  /**
   * Workflows per status, from the index (ended ones until their state expires). The accepted
   * index may still hold workflows that started before their acceptance was written (see
   * accept): listing it first takes them out, as `GET /workflows?status=accepted` does.
   */
  async countByStatus(): Promise<Record<WorkflowStatus, number>> {
    await this.list({ status: 'accepted', limit: ACCEPTED_CHECKED_PER_COUNT });
    const counts = await Promise.all(WORKFLOW_STATUSES.map((status) => this.state.zcard(indexKey(status))));
    return Object.fromEntries(WORKFLOW_STATUSES.map((status, i) => [status, counts[i]])) as Record<
      WorkflowStatus,
      number
    >;
  }

  private async summary(id: string): Promise<WorkflowSummary | undefined> {
    const [status, name, submittedAt, finishedAt, pattern] = await this.state.hmget(wfKey(id), [
      'status',
      'name',
      'submittedAt',
      'finishedAt',
      'pattern',
    ]);
    if (submittedAt === null) return undefined;
    return {
      id,
      name: name ?? undefined,
      pattern: (pattern ?? undefined) as StepKind | undefined,
      status: (status ?? 'accepted') as WorkflowStatus,
      submittedAt,
      finishedAt: finishedAt ?? undefined,
    };
  }

  /** Every step's state, in path order; what an ended step waited for is left out. */
  async steps(id: string): Promise<StepState[]> {
    return Object.values(await this.state.hgetall(stepsKey(id)))
      .map((raw) => {
        const { startedBy: _startedBy, endedBy: _endedBy, awaiting, ...step } = JSON.parse(raw) as StepRecord;
        return step.status === 'running' && awaiting ? { ...step, awaiting } : step;
      })
      .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  }

  /** Branch projections of every fan-out, or of one step's. */
  async branches(id: string, stepPath?: string): Promise<BranchView[]> {
    return Object.values(await this.state.hgetall(branchesKey(id)))
      .map((raw) => {
        const { by: _by, ...branch } = JSON.parse(raw) as StoredBranch;
        return branch;
      })
      .filter((b) => stepPath === undefined || b.stepPath === stepPath)
      .sort((a, b) => a.stepPath.localeCompare(b.stepPath) || a.index - b.index);
  }

  async view(id: string): Promise<WorkflowView | undefined> {
    const wf = await this.state.hgetall(wfKey(id));
    if (!wf.status && !wf.spec) return undefined;
    const spec = wf.spec ? (JSON.parse(wf.spec) as WorkflowSpec) : undefined;
    const [steps, allBranches, usage] = await Promise.all([this.steps(id), this.branches(id), this.usageByStep(id)]);
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
      steps: steps.map((step) => (usage.has(step.path) ? { ...step, usage: usage.get(step.path) } : step)),
      result: wf.result ? (JSON.parse(wf.result) as Record<string, unknown>) : undefined,
      reason: wf.reason,
      usage: usage.get(ROOT),
      // In order of occurrence (events reach the orchestrator over two topics, not in that order).
      timeline: (await this.state.lrange(timelineKey(id), 0, -1))
        .map((raw) => JSON.parse(raw) as TimelineEntry)
        .sort((a, b) => Date.parse(a.at) - Date.parse(b.at)),
    };
  }
}
