import { Topics } from '@agent-mesh/contracts';
import { WorkflowCancelledError } from '@agent-mesh/skills';

/** Workflows remembered as ended, at most (the oldest are forgotten first). */
export const REMEMBERED_ENDED_WORKFLOWS = 10_000;
/** How long an ended workflow is remembered: its tasks still queued then are skipped. */
export const ENDED_WORKFLOW_TTL_MS = 60 * 60_000;

/** Stops one running task at once: aborts its signal and settles it with the reason. */
export type CancelTask = (reason: WorkflowCancelledError) => void;

/**
 * The workflow a task can be cancelled with, or undefined for a task no cancel may stop: a
 * saga's tasks (reply topic `task.results.saga`). A cancelled saga compensates, so its
 * compensations must run; and its coordinator decides what to undo from its actions' results —
 * an action stopped half-way could have taken effect without anyone knowing, while one left to
 * finish reports it, and is undone (the coordinator compensates a step that completes while
 * it compensates). A saga runs one step at a time, so this lets at most one action finish.
 */
export function cancellableWorkflow(correlationId: string, replyTopic: string | undefined): string | undefined {
  return replyTopic === Topics.sagaTaskResults ? undefined : correlationId;
}

/**
 * The worker's view of which workflows ended early: the tasks running now, indexed by workflow
 * (correlation id), and the workflows that ended — a bounded set whose entries expire — so a
 * task of an ended workflow still queued is skipped when it arrives. Filled by the
 * WorkflowEndWatcher; used by the TaskRunner. (Provided by a factory in WorkerModule.)
 */
export class RunningTasks {
  private readonly running = new Map<string, Set<CancelTask>>();
  /** Ended workflow id → when it is forgotten (epoch ms); insertion order is expiry order. */
  private readonly ended = new Map<string, number>();

  constructor(
    private readonly maxEnded = REMEMBERED_ENDED_WORKFLOWS,
    private readonly endedTtlMs = ENDED_WORKFLOW_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Registers a running task of `workflowId`; returns what unregisters it (call it when it settles). */
  track(workflowId: string, cancel: CancelTask): () => void {
    let tasks = this.running.get(workflowId);
    if (!tasks) {
      tasks = new Set();
      this.running.set(workflowId, tasks);
    }
    tasks.add(cancel);
    return () => {
      tasks.delete(cancel);
      if (tasks.size === 0 && this.running.get(workflowId) === tasks) this.running.delete(workflowId);
    };
  }

  /** Remembers that the workflow ended and cancels its running tasks; returns how many it cancelled. */
  end(reason: WorkflowCancelledError): number {
    this.remember(reason.workflowId);
    const tasks = this.running.get(reason.workflowId);
    if (!tasks) return 0;
    this.running.delete(reason.workflowId);
    const cancelled = [...tasks];
    for (const cancel of cancelled) cancel(reason);
    return cancelled.length;
  }

  hasEnded(workflowId: string): boolean {
    const expiresAt = this.ended.get(workflowId);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.ended.delete(workflowId);
    return false;
  }

  /** Tasks running now, over every workflow. */
  get runningCount(): number {
    let count = 0;
    for (const tasks of this.running.values()) count += tasks.size;
    return count;
  }

  private remember(workflowId: string): void {
    const now = this.now();
    this.ended.delete(workflowId);
    this.ended.set(workflowId, now + this.endedTtlMs);
    for (const [id, expiresAt] of this.ended) {
      if (this.ended.size <= this.maxEnded && expiresAt > now) break;
      this.ended.delete(id);
    }
  }
}
