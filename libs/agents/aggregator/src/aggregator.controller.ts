import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  branchTaskId,
  FanOutCompletedV1,
  FanOutFailedV1,
  FanOutRetryV1,
  FanOutStartedV1,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  compileFanOutPolicy,
  ContractValidationError,
  type AggregationStrategyDeclaration,
  type CompiledFanOutPolicy,
  type EventEnvelope,
  type FailurePolicyDeclaration,
  type FanOutStarted,
  type TaskCompleted,
  type TaskFailed,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent, type MeshSubscriptionOptions } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import { expireOps, type SlotWriteResult, type StateOp, type StateStore } from '@agent-mesh/state';
import {
  aggregate,
  canDecide,
  decide,
  selectBranches,
  type Attempts,
  type BranchResult,
  type Decision,
} from './strategies';

const RESULTS: MeshSubscriptionOptions = { topic: Topics.taskResults, subscription: 'aggregator', type: 'Key_Shared' };

interface JoinSpec {
  readonly skill: string;
  readonly branchCount: number;
  /** As declared in `fanout.started`; compileFanOutPolicy() resolves them when the join is read. */
  readonly policy: FailurePolicyDeclaration;
  readonly strategy: AggregationStrategyDeclaration;
  /**
   * The branches' states are counted (`…:states`, `…:counts`), so a result reads every branch
   * only when the counts say the policy can decide. Absent in joins announced before the counts
   * existed: those are decided on every result, as they were.
   */
  readonly countsBranches?: true;
}

interface BranchRecord {
  readonly inputId: string;
  readonly status: 'pending' | 'completed' | 'failed';
  readonly attempt: number;
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  /** When the result was produced, epoch ms (last-writer-wins). */
  readonly seq?: number;
}

const joinKey = (workflowId: string, stepPath: string) => `aggregator:join:${workflowId}:${stepPath}`;
const branchesKey = (workflowId: string, stepPath: string) => `aggregator:join:${workflowId}:${stepPath}:branches`;
/** Branch index → `<attempt>:<status>` (recordSlot's slots). */
const statesKey = (workflowId: string, stepPath: string) => `aggregator:join:${workflowId}:${stepPath}:states`;
/** Status → number of branches in it. */
const countsKey = (workflowId: string, stepPath: string) => `aggregator:join:${workflowId}:${stepPath}:counts`;

class JoinNotRecordedError extends Error {
  override readonly name = 'JoinNotRecordedError';
}

const compiled = (spec: JoinSpec): CompiledFanOutPolicy => compileFanOutPolicy(spec, spec.branchCount);

/** Where a fan-out's join is decided, and what it read to decide. */
interface Join {
  readonly cause: EventEnvelope;
  readonly workflowId: string;
  readonly stepPath: string;
  readonly spec: JoinSpec;
  readonly records: ReadonlyMap<number, BranchRecord>;
  readonly branches: readonly BranchResult[];
}

/**
 * The aggregator role: joins the branches of each fan-out by its declared failure policy
 * (fail-fast, retry-branch, proceed-with-partial, quorum) and aggregation strategy (the skill's
 * combine, all, last-writer-wins, majority vote, ranked fusion). A branch result is counted once
 * per task attempt (the marker is the task id), and a join is decided once.
 *
 * Each result costs one round trip (recordSlot: record the branch, count completed and failed
 * branches, read the spec and the decided flag); every branch is read only when the counts say
 * the policy can decide, so a fan-out of n branches reads its branches about once, not n times.
 */
@Controller()
export class AggregatorController {
  private readonly log = new Logger('Aggregator');
  private readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
  ) {
    this.publisher = publisher.as('aggregator');
  }

  @OnMeshEvent(FanOutStartedV1, RESULTS)
  async onStarted(@Payload() event: EventEnvelope<FanOutStarted>): Promise<void> {
    const { stepPath, skill, branchCount, policy, strategy } = event.data;
    if (!(await this.refuseInvalidPolicy(event))) return;
    await this.state.applyOnce(`aggregator:started:${event.correlationId}:${stepPath}`, [
      {
        op: 'hset',
        key: joinKey(event.correlationId, stepPath),
        field: 'spec',
        value: JSON.stringify({ skill, branchCount, policy, strategy, countsBranches: true } satisfies JoinSpec),
      },
    ]);
  }

  /**
   * Whether the join's policy compiles. A join that cannot be decided (a spec validated on
   * submission never gives one) fails its fan-out at once instead of leaving it to hang.
   */
  private async refuseInvalidPolicy(event: EventEnvelope<FanOutStarted>): Promise<boolean> {
    const { stepPath, branchCount, policy, strategy } = event.data;
    try {
      compileFanOutPolicy({ policy, strategy }, branchCount);
      return true;
    } catch (error) {
      if (!(error instanceof ContractValidationError)) throw error;
      this.log.warn(`fan-out ${event.correlationId} ${stepPath} refused: ${error.message}`);
      const options = { correlationId: event.correlationId, causedBy: event };
      await this.publisher.publish(
        Topics.workflowEvents,
        FanOutFailedV1,
        { stepPath, reason: error.message, failed: [] },
        options,
      );
      // Recorded as decided: its branches' results find a join, and change nothing.
      await this.state.applyOnce(`aggregator:started:${event.correlationId}:${stepPath}`, [
        { op: 'hset', key: joinKey(event.correlationId, stepPath), field: 'spec', value: JSON.stringify(event.data) },
        { op: 'hset', key: joinKey(event.correlationId, stepPath), field: 'decided', value: '1' },
      ]);
      return false;
    }
  }

  @OnMeshEvent(TaskCompletedV1, RESULTS)
  async onCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    await this.join(event, {
      inputId: event.data.inputId,
      status: 'completed',
      attempt: event.data.attempt ?? 1,
      output: event.data.output,
    });
  }

  @OnMeshEvent(TaskFailedV1, RESULTS)
  async onFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    await this.join(event, {
      inputId: event.data.inputId,
      status: 'failed',
      attempt: event.data.attempt ?? 1,
      error: event.data.error,
    });
  }

  private async join(event: EventEnvelope<TaskCompleted | TaskFailed>, record: BranchRecord): Promise<void> {
    const workflowId = event.correlationId;
    const { stepPath, taskId, branchIndex } = event.data;
    if (!stepPath) return;
    const key = joinKey(workflowId, stepPath);
    // One atomic step: nothing without a spec (a single task step's result: not a fan-out); a
    // late result of an attempt that a retry has replaced (an older version) is not counted.
    const step = await this.recordBranch(
      workflowId,
      stepPath,
      `aggregator:branch:${taskId}`,
      branchIndex,
      record.attempt,
      record.status,
      [
        { op: 'hincrby', key, field: 'seq', by: 1 },
        // The result's own time orders branches for last-writer-wins (stable across redeliveries).
        {
          op: 'hset',
          key: branchesKey(workflowId, stepPath),
          field: String(branchIndex),
          value: JSON.stringify({ ...record, seq: Date.parse(event.occurredAt) }),
        },
      ],
    );
    if (step.outcome === 'missing') {
      // No join recorded. fanout.started precedes its branches on this topic, so a branch's
      // result finds none only when that event's handler failed (a transient fault) and it is
      // being redelivered: nacked, the result comes back after it (acked, it was lost and the
      // fan-out waited for good). Any other task's result (a task step's, a fill's) has no join.
      if (taskId === branchTaskId(workflowId, stepPath, branchIndex, record.attempt))
        throw new JoinNotRecordedError(
          `no join recorded for ${stepPath} of ${workflowId} yet (its fanout.started is pending)`,
        );
      return;
    }
    // Decided on every delivery (not only when something changed), so a crash between the
    // record and the publish is finished by the redelivery.
    const [rawSpec, decided] = step.values;
    if (decided === '1' || !rawSpec) return;
    const spec = JSON.parse(rawSpec) as JoinSpec;
    const counts = { completed: step.counts['completed'] ?? 0, failed: step.counts['failed'] ?? 0 };
    if (spec.countsBranches && !canDecide(compiled(spec).policy, spec.branchCount, counts)) return;
    await this.decide(event, spec, stepPath);
  }

  /** Records a branch's state once (recordSlot), returning the counts, the spec and the decided flag. */
  private recordBranch(
    workflowId: string,
    stepPath: string,
    marker: string,
    branchIndex: number,
    attempt: number,
    status: BranchRecord['status'],
    ops: readonly StateOp[],
  ): Promise<SlotWriteResult> {
    const key = joinKey(workflowId, stepPath);
    return this.state.recordSlot({
      marker,
      slotsKey: statesKey(workflowId, stepPath),
      countsKey: countsKey(workflowId, stepPath),
      slot: String(branchIndex),
      version: attempt,
      state: status,
      ops,
      requires: { key, field: 'spec' },
      reads: [
        { key, field: 'spec' },
        { key, field: 'decided' },
      ],
    });
  }

  private async decide(cause: EventEnvelope, spec: JoinSpec, stepPath: string): Promise<void> {
    const join = await this.readJoin(cause, spec, stepPath);
    const attempts: Attempts = Object.fromEntries([...join.records].map(([i, r]) => [i, r.attempt]));
    const decision = decide(compiled(spec).policy, join.branches, attempts);
    switch (decision.outcome) {
      case 'pending':
        return;
      case 'retry':
        return this.retry(join, decision.branches ?? []);
      case 'failed':
        await this.fail(join, decision);
        break;
      case 'completed':
        await this.complete(join, decision);
        break;
    }
    const { workflowId } = join;
    const keys = [joinKey, branchesKey, statesKey, countsKey].map((key) => key(workflowId, stepPath));
    await this.state.apply([
      { op: 'hset', key: joinKey(workflowId, stepPath), field: 'decided', value: '1' },
      // Decided: the join's state lives on for the retention period only.
      ...expireOps(keys, this.config.workflowRetentionMs),
    ]);
  }

  /** Every branch of the join as recorded (a branch with no record yet is pending). */
  private async readJoin(cause: EventEnvelope, spec: JoinSpec, stepPath: string): Promise<Join> {
    const workflowId = cause.correlationId;
    const stored = await this.state.hgetall(branchesKey(workflowId, stepPath));
    const records = new Map<number, BranchRecord>();
    for (const [index, json] of Object.entries(stored)) records.set(Number(index), JSON.parse(json) as BranchRecord);
    const branches: BranchResult[] = Array.from({ length: spec.branchCount }, (_, i) => {
      const r = records.get(i);
      return {
        branchIndex: i,
        inputId: r?.inputId,
        status: r?.status ?? 'pending',
        output: r?.output,
        error: r?.error,
        completedAt: r?.seq,
      };
    });
    return { cause, workflowId, stepPath, spec, records, branches };
  }

  /**
   * Asks for the re-runs of failed branches, one `fanout.retry` per attempt number, and only then
   * moves each to its next attempt (once). In this order a failure at any point leaves the branches
   * failed as they were, so the redelivered result decides the same retry again (at worst a second
   * `fanout.retry`, whose tasks keep their ids). Recorded first, a lost publish left them pending
   * at an attempt nobody was asked to run: the fan-out waited for good.
   */
  private async retry({ cause, workflowId, stepPath, records }: Join, retried: readonly number[]): Promise<void> {
    const nextAttempt = (i: number) => (records.get(i)?.attempt ?? 1) + 1;
    const byAttempt = new Map<number, number[]>();
    for (const i of retried) byAttempt.set(nextAttempt(i), [...(byAttempt.get(nextAttempt(i)) ?? []), i]);
    for (const [attempt, list] of byAttempt) {
      await this.publisher.publish(
        Topics.workflowEvents,
        FanOutRetryV1,
        { stepPath, branches: list, attempt },
        { correlationId: workflowId, causedBy: cause },
      );
    }
    for (const i of retried) {
      const next = nextAttempt(i);
      // Through the counts too: the branch leaves `failed` for `pending` at its next attempt.
      await this.recordBranch(
        workflowId,
        stepPath,
        `aggregator:retry:${workflowId}:${stepPath}:${i}:${next}`,
        i,
        next,
        'pending',
        [
          {
            op: 'hset',
            key: branchesKey(workflowId, stepPath),
            field: String(i),
            value: JSON.stringify({
              inputId: records.get(i)?.inputId ?? '',
              status: 'pending',
              attempt: next,
            } satisfies BranchRecord),
          },
        ],
      );
    }
  }

  private async fail({ cause, workflowId, stepPath, branches }: Join, decision: Decision): Promise<void> {
    await this.publisher.publish(
      Topics.workflowEvents,
      FanOutFailedV1,
      { stepPath, reason: decision.reason ?? 'fan-out failed', failed: failedIndexes(branches) },
      { correlationId: workflowId, causedBy: cause },
    );
    this.log.warn(`fan-out ${workflowId} ${stepPath} failed: ${decision.reason}`);
  }

  private async complete({ cause, workflowId, stepPath, spec, branches }: Join, decision: Decision): Promise<void> {
    const used = selectBranches(branches, decision.used);
    const { strategy } = compiled(spec);
    const output =
      strategy.type === 'combine'
        ? this.skills
            .require(spec.skill)
            .combine(used.map((b) => ({ inputId: b.inputId ?? String(b.branchIndex), output: b.output ?? {} })))
        : { ...aggregate(strategy, used) };
    await this.publisher.publish(
      Topics.workflowEvents,
      FanOutCompletedV1,
      { stepPath, output, used: decision.used, failed: failedIndexes(branches) },
      { correlationId: workflowId, causedBy: cause },
    );
    this.log.log(
      `fan-out ${workflowId} ${stepPath} completed from ${decision.used.length}/${spec.branchCount} branches`,
    );
  }
}

const failedIndexes = (branches: readonly BranchResult[]): number[] =>
  branches.filter((b) => b.status === 'failed').map((b) => b.branchIndex);
