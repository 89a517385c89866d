import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  BoardEntryPostedV1,
  qualifyTopic,
  TaskAssignedV1,
  Topics,
  type BlackboardStepSpec,
  type BoardEntryPosted,
  type EventEnvelope,
  type KnowledgeSourceSpec,
  type StepSpec,
  type TaskCompleted,
  type TaskFailed,
} from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { STATE_STORE } from '@agent-mesh/runtime';
import type { StateStore } from '@agent-mesh/state';
import { stepAt } from '@agent-mesh/contracts';
import type { StepState } from '../engine/workflow-state';
import { OrchestratorService } from '../orchestrator.service';
import { entryText, parseSourceTaskId, sourceEntryId, sourceTaskId, taskInputId } from './board-entries';
import { BoardStore, type BoardEntry, type BoardView } from './board-store';

type Cause = Pick<EventEnvelope, 'id' | 'traceparent'>;

/** A board as the API shows it. */
export interface BlackboardView extends BoardView {
  readonly workflowId: string;
  readonly stepPath: string;
  readonly board: string;
}

/**
 * The orchestrator as the controller of its blackboard steps. Every entry posted on a board
 * (topic `blackboard.<board>`) is materialized once in Redis; while the step runs, the
 * controller then either ends it (`until` holds: completed; more than `maxEntries` entries, or
 * nothing left that could post: failed) or runs every knowledge source reacting to the entry's
 * kind as a task. A source's result is posted back on the board as a new entry.
 */
@Injectable()
export class BlackboardService {
  private readonly log = new Logger('Blackboard');
  private readonly boards: BoardStore;

  constructor(
    private readonly orchestrator: OrchestratorService,
    @Inject(STATE_STORE) state: StateStore,
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
  ) {
    this.boards = new BoardStore(state);
  }

  private get workflows() {
    return this.orchestrator.workflows;
  }

  private get engine() {
    return this.orchestrator.engine;
  }

  /** Consumes an entry posted on a board. */
  async onEntry(event: EventEnvelope<BoardEntryPosted>): Promise<void> {
    const workflowId = event.correlationId;
    const { stepPath, board, entryId, kind, text, postedBy } = event.data;
    const step = await this.stepSpec(workflowId, stepPath);
    if (!step || step.board !== board) {
      this.log.warn(
        `entry ${entryId} on board ${board}: workflow ${workflowId} has no blackboard step on that board at ${stepPath}`,
      );
      return;
    }
    // Seeds are `seed-<i>`; an id with a colon is a source's result, which ends that source's task.
    const sequence = await this.boards.add(
      workflowId,
      stepPath,
      { entryId, kind, text, postedBy },
      entryId.includes(':'),
    );
    await this.workflows.record(workflowId, event.id, {
      at: event.occurredAt,
      type: event.type,
      source: event.source,
      stepPath,
      detail: `${kind} ${entryId} by ${postedBy}${sequence === undefined ? ' (already on the board)' : ` (#${sequence})`}`,
    });

    const state = await this.workflows.step(workflowId, stepPath);
    if (state?.status !== 'running' || !(await this.isLive(workflowId))) return;
    const { entries } = await this.boards.read(workflowId, stepPath);
    const { until, maxEntries } = step;
    const matched = entries.filter((e) => e.kind === until.kind);
    if (matched.length >= until.count) {
      await this.engine.completeStep(workflowId, stepPath, state.attempt, { entries, matched }, event);
      return;
    }
    const short = `${matched.length} of ${until.count} "${until.kind}" entr${until.count === 1 ? 'y' : 'ies'}`;
    if (entries.length > maxEntries) {
      const reason = `board ${board} has ${entries.length} entries, more than maxEntries ${maxEntries}, with ${short}`;
      await this.engine.failStep(workflowId, stepPath, state.attempt, reason, event);
      return;
    }
    const entry = entries.find((e) => e.entryId === entryId);
    if (!entry) return; // not on the board: it was replaced by a rebuild that did not see it yet
    for (const source of step.sources.filter((s) => s.on === kind))
      await this.react(workflowId, stepPath, entry, source, event);

    // Nothing in flight (no source task without its entry, every seed on the board): nothing
    // will ever be posted again, so `until` cannot come true.
    if ((await this.boards.pending(workflowId, stepPath)) <= 0 && (await this.seeded(workflowId, stepPath, step))) {
      await this.engine.failStep(
        workflowId,
        stepPath,
        state.attempt,
        `board ${board} went quiet with ${short}: no knowledge source has work left`,
        event,
      );
    }
  }

  /** Runs one knowledge source on an entry, as a task on a worker with its skill. */
  private async react(
    workflowId: string,
    stepPath: string,
    entry: BoardEntry,
    source: KnowledgeSourceSpec,
    cause: Cause,
  ): Promise<void> {
    const taskId = sourceTaskId(workflowId, stepPath, source.name, entry.entryId);
    await this.boards.taskAssigned(workflowId, stepPath, taskId); // before publishing: a crash in between re-publishes on redelivery
    const assigned = await this.orchestrator.publisher.publish(
      Topics.tasks(source.skill),
      TaskAssignedV1,
      {
        taskId,
        branchIndex: 0,
        branchCount: 1,
        skill: source.skill,
        input: { id: taskInputId(entry.entryId, entry.sequence), text: entry.text },
        params: source.params,
        stepPath,
        attempt: 1,
      },
      { correlationId: workflowId, causedBy: cause },
    );
    await this.workflows.record(workflowId, assigned.id, {
      at: assigned.occurredAt,
      type: assigned.type,
      source: assigned.source,
      stepPath,
      detail: `source ${source.name} (${source.skill}) on ${entry.entryId}`,
    });
  }

  /** A knowledge source's task completed: its output goes on the board as a new entry. */
  async onSourceCompleted(workflowId: string, state: StepState, result: TaskCompleted, cause: Cause): Promise<void> {
    if (state.status !== 'running' || !(await this.isLive(workflowId))) return;
    const step = await this.stepSpec(workflowId, state.path);
    const task = parseSourceTaskId(result.taskId, workflowId, state.path);
    const source = task && step?.sources.find((s) => s.name === task.source);
    if (!step || !task || !source) {
      this.log.warn(
        `task ${result.taskId} is no knowledge source task of the blackboard step ${state.path} of workflow ${workflowId}`,
      );
      return;
    }
    const text = entryText(source, result.output);
    if ('error' in text) {
      await this.boards.taskEnded(workflowId, state.path, result.taskId);
      await this.engine.failStep(workflowId, state.path, state.attempt, text.error, cause);
      return;
    }
    await this.orchestrator.publisher.publish(
      Topics.blackboard(step.board),
      BoardEntryPostedV1,
      {
        stepPath: state.path,
        board: step.board,
        entryId: sourceEntryId(source.name, task.reactedTo),
        kind: source.produces,
        text: text.text,
        postedBy: source.name,
      },
      { correlationId: workflowId, causedBy: cause },
    );
  }

  /** A knowledge source's task failed: nothing is posted, and the step fails with the reason. */
  async onSourceFailed(workflowId: string, state: StepState, result: TaskFailed, cause: Cause): Promise<void> {
    if (state.status !== 'running' || !(await this.isLive(workflowId))) return;
    const task = parseSourceTaskId(result.taskId, workflowId, state.path);
    if (!task) {
      this.log.warn(
        `task ${result.taskId} is no knowledge source task of the blackboard step ${state.path} of workflow ${workflowId}`,
      );
      return;
    }
    await this.boards.taskEnded(workflowId, state.path, result.taskId);
    await this.engine.failStep(
      workflowId,
      state.path,
      state.attempt,
      `source ${task.source} (${result.skill}) failed on entry ${task.reactedTo}: ${result.error}`,
      cause,
    );
  }

  /** The materialized board of a blackboard step; undefined if the workflow has none at that path. */
  async board(workflowId: string, stepPath: string): Promise<BlackboardView | undefined> {
    const step = await this.stepSpec(workflowId, stepPath);
    if (!step) return undefined;
    return { workflowId, stepPath, board: step.board, ...(await this.boards.read(workflowId, stepPath)) };
  }

  /**
   * Rebuilds the materialized board from its topic: a reader from the earliest message keeps
   * this workflow's entries of this step, first posting of each entry id, in topic order, and
   * they replace what Redis holds. Undefined if the workflow has no blackboard step there.
   */
  async rebuildBoard(workflowId: string, stepPath: string): Promise<BlackboardView | undefined> {
    const step = await this.stepSpec(workflowId, stepPath);
    if (!step) return undefined;
    const { bus, naming, registry } = this.transport;
    const reader = await bus.createReader({
      topic: qualifyTopic(naming, Topics.blackboard(step.board)),
      startMessageId: 'earliest',
    });
    const seen = new Set<string>();
    const entries: Omit<BoardEntry, 'sequence'>[] = [];
    let skipped = 0;
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(5_000);
        if (!message) break;
        if (message.key !== undefined && message.key !== workflowId) continue; // entries are keyed by workflow id
        const decoded = registry.decode(message.payload);
        if (!decoded.ok) {
          skipped++;
          continue;
        }
        const { envelope } = decoded;
        if (envelope.type !== BoardEntryPostedV1.type || envelope.version !== BoardEntryPostedV1.version) continue;
        const data = envelope.data as BoardEntryPosted; // decode validated it against BoardEntryPosted
        if (envelope.correlationId !== workflowId || data.stepPath !== stepPath || data.board !== step.board) continue;
        if (seen.has(data.entryId)) continue;
        seen.add(data.entryId);
        entries.push({ entryId: data.entryId, kind: data.kind, text: data.text, postedBy: data.postedBy });
      }
    } finally {
      await reader.close();
    }
    if (skipped > 0)
      this.log.warn(
        `rebuilding board ${step.board} of ${workflowId} ${stepPath}: skipped ${skipped} undecodable messages`,
      );
    await this.boards.replace(workflowId, stepPath, entries);
    this.log.log(`rebuilt board ${step.board} of ${workflowId} ${stepPath} from its topic: ${entries.length} entries`);
    return { workflowId, stepPath, board: step.board, ...(await this.boards.read(workflowId, stepPath)) };
  }

  /** The blackboard step at `path`, or undefined if the workflow has none there. */
  private async stepSpec(workflowId: string, stepPath: string): Promise<BlackboardStepSpec | undefined> {
    const spec = await this.workflows.spec(workflowId, stepPath);
    if (!spec) return undefined;
    let step: StepSpec;
    try {
      step = stepAt(spec, stepPath);
    } catch {
      return undefined;
    }
    return step.kind === 'blackboard' ? step : undefined;
  }

  /** Every seed entry is on the board. */
  private async seeded(workflowId: string, stepPath: string, step: BlackboardStepSpec): Promise<boolean> {
    for (let i = 0; i < step.seed.length; i++)
      if (!(await this.boards.has(workflowId, stepPath, `seed-${i}`))) return false;
    return true;
  }

  private async isLive(workflowId: string): Promise<boolean> {
    const status = await this.workflows.status(workflowId);
    return status === 'running' || status === 'accepted';
  }
}
