import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  ApprovalDecidedV1,
  describeError,
  STEP_PATH_PATTERN,
  Topics,
  uuidv7,
  WorkflowCancelRequestedV1,
  WorkflowSubmittedV1,
  type ApprovalDecision,
  type FanOutWorkflowRequest,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import { MeshMetrics } from '@agent-mesh/metrics';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import {
  MESH_CLOCK,
  MESH_CONFIG,
  SKILL_REGISTRY,
  STATE_STORE,
  type MeshClock,
  type MeshConfig,
} from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { WorkflowEngine, type BeginCause } from './engine/workflow-engine';
import { WorkflowState, type WorkflowPage, type WorkflowStatus, type WorkflowView } from './engine/workflow-state';

/** The plain fan-out request (`{ skill, inputs }`) as a workflow spec. */
export function fanOutSpec(request: FanOutWorkflowRequest): WorkflowSpec {
  return {
    step: { kind: 'fan-out', skill: request.skill, inputs: request.inputs, params: request.params },
  } as WorkflowSpec;
}

/** How long a begun workflow's local begin is remembered for its workflow.submitted (a bounded cache). */
const LOCAL_BEGINS = 1000;
/** How often ended workflows whose state expired are taken out of the index. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Accepts workflows and answers for them. A submission is recorded, published as
 * `workflow.submitted` and started at once, in this process (WorkflowEngine.begin): the run
 * does not wait for the event to come back over the broker. Consuming `workflow.submitted` is
 * the recovery path — it starts the workflow when this process died before it had (see
 * localBegin); everything after the start happens by consuming events.
 */
@Injectable()
export class OrchestratorService implements OnModuleInit, OnModuleDestroy {
  readonly workflows: WorkflowState;
  readonly engine: WorkflowEngine;
  readonly publisher: MeshPublisher;
  private readonly log = new Logger('OrchestratorService');
  private sweeper?: NodeJS.Timeout;
  /** This process's begins of the workflows it accepted: true once done, false if it failed. */
  private readonly begins = new Map<string, Promise<boolean>>();

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) state: StateStore,
    @Inject(SKILL_REGISTRY) skills: SkillRegistry,
    @Inject(MESH_CONFIG) config: MeshConfig,
    @Inject(MESH_CLOCK) clock: MeshClock,
    readonly metrics: MeshMetrics,
  ) {
    this.publisher = publisher.as('orchestrator');
    this.workflows = new WorkflowState(state, config.workflowRetentionMs);
    this.engine = new WorkflowEngine(this.workflows, this.publisher, skills, {
      workflowDeadlineMs: config.workflowDeadlineMs,
      now: () => clock.now(),
    });
    metrics.countWorkflowsWith(() => this.workflows.countByStatus());
  }

  async submit(spec: WorkflowSpec): Promise<string> {
    const workflowId = uuidv7();
    // The event's id, time and trace are fixed here: its timeline entry is written with the
    // acceptance, and the start below is caused by it as if it had come back over the broker.
    // Its publish's span is opened now (a child of the HTTP request's), so its traceparent is known.
    const trace = this.publisher.startPublish(Topics.workflowEvents, WorkflowSubmittedV1, {
      correlationId: workflowId,
    });
    const submitted = { id: uuidv7(), occurredAt: new Date().toISOString(), traceparent: trace.traceparent };
    const occurredAt = new Date(submitted.occurredAt);
    const entry = {
      at: submitted.occurredAt,
      type: WorkflowSubmittedV1.type,
      source: this.publisher.source,
      stepPath: 'root',
      detail: spec.name,
    };
    // Started now, alongside the acceptance and the event (the 202 does not wait for it):
    // acceptance writes only what begin() leaves alone (hsetnx of the status) or writes the
    // same (spec, index), so it may land after the workflow started. If this process dies
    // before the start is out, the event — published before the 202 — starts it elsewhere.
    this.beginLocally(workflowId, spec, submitted);
    await Promise.all([
      this.workflows.accept(workflowId, spec, submitted.occurredAt, [entry]),
      this.publisher.publish(
        Topics.workflowEvents,
        WorkflowSubmittedV1,
        { spec },
        { correlationId: workflowId, id: submitted.id, occurredAt, trace },
      ),
    ]);
    return workflowId;
  }

  /**
   * This process's begin of a workflow it accepted: resolves true once it is done (its start
   * recorded and published), false if it failed; undefined if this process did not begin it
   * (another instance did, or this one restarted since).
   */
  localBegin(workflowId: string): Promise<boolean> | undefined {
    return this.begins.get(workflowId);
  }

  private beginLocally(workflowId: string, spec: WorkflowSpec, cause: BeginCause): void {
    if (this.begins.size >= LOCAL_BEGINS) this.begins.clear(); // the event comes back within ms; older entries are not needed
    const begun = this.engine.begin(workflowId, spec, cause, { origin: 'submit' }).then(
      () => true,
      (error: unknown) => {
        // Not lost: workflow.submitted's handler starts it (it sees this begin failed).
        this.log.warn(
          `workflow ${workflowId}: starting it on submit failed (${error instanceof Error ? error.message : String(error)}); workflow.submitted will`,
        );
        return false;
      },
    );
    this.begins.set(workflowId, begun);
  }

  get(workflowId: string): Promise<WorkflowView | undefined> {
    return this.workflows.view(workflowId);
  }

  list(query: { status?: WorkflowStatus; limit: number; after?: string }): Promise<WorkflowPage> {
    return this.workflows.list(query);
  }

  onModuleInit(): void {
    // Housekeeping, not a deadline: ended workflows whose keys expired leave the index.
    this.sweeper = setInterval(() => {
      this.workflows
        .sweepExpired()
        .catch((error: unknown) => this.log.warn(`index sweep failed: ${describeError(error)}`));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /**
   * A decision on a waiting approval step, published as `approval.decided` (its handler ends the
   * step): `decided` once it is out; `unknown-workflow`; `not-waiting` when the step is no
   * approval waiting (ended, or its workflow did); `already-decided` when a decision on it is out.
   * `by`: who decided (the API's authenticated caller), when known.
   */
  async decide(
    workflowId: string,
    stepPath: string,
    decision: ApprovalDecision,
    by?: string,
  ): Promise<'decided' | 'unknown-workflow' | 'not-waiting' | 'already-decided'> {
    const [status, step] = await Promise.all([
      this.workflows.status(workflowId),
      STEP_PATH_PATTERN.test(stepPath) ? this.workflows.step(workflowId, stepPath) : undefined,
    ]);
    if (status === undefined) return 'unknown-workflow';
    const live = status === 'running' || status === 'accepted';
    if (!live || step?.status !== 'running' || step.awaiting?.what !== 'approval') return 'not-waiting';
    const { attempt } = step;
    if (!(await this.workflows.claimDecision(workflowId, stepPath, attempt))) return 'already-decided';
    try {
      await this.publisher.publish(
        Topics.workflowEvents,
        ApprovalDecidedV1,
        { stepPath, attempt, approve: decision.approve, comment: decision.comment, by },
        { correlationId: workflowId },
      );
    } catch (error) {
      await this.workflows.releaseDecision(workflowId, stepPath, attempt); // not out: it may be decided again
      throw error;
    }
    return 'decided';
  }

  async cancel(workflowId: string, reason: string): Promise<void> {
    await this.publisher.publish(
      Topics.workflowEvents,
      WorkflowCancelRequestedV1,
      { reason },
      { correlationId: workflowId },
    );
  }
}
