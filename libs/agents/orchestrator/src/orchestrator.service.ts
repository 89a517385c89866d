import { Inject, Injectable } from '@nestjs/common';
import {
  Topics,
  uuidv7,
  WorkflowCancelRequestedV1,
  WorkflowSubmittedV1,
  type FanOutWorkflowRequest,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { SKILL_REGISTRY, STATE_STORE } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { WorkflowEngine } from './engine/workflow-engine';
import { WorkflowState, type WorkflowStatus, type WorkflowSummary, type WorkflowView } from './engine/workflow-state';

/** The plain fan-out request (`{ skill, inputs }`) as a workflow spec. */
export function fanOutSpec(request: FanOutWorkflowRequest): WorkflowSpec {
  return { step: { kind: 'fan-out', skill: request.skill, inputs: request.inputs, params: request.params } } as WorkflowSpec;
}

/**
 * Accepts workflows and answers for them. A submission is recorded and published as
 * `workflow.submitted`; everything after that happens by consuming events (WorkflowEngine).
 */
@Injectable()
export class OrchestratorService {
  readonly workflows: WorkflowState;
  readonly engine: WorkflowEngine;
  readonly publisher: MeshPublisher;

  constructor(publisher: MeshPublisher, @Inject(STATE_STORE) state: StateStore, @Inject(SKILL_REGISTRY) skills: SkillRegistry) {
    this.publisher = publisher.as('orchestrator');
    this.workflows = new WorkflowState(state);
    this.engine = new WorkflowEngine(this.workflows, this.publisher, skills);
  }

  async submit(spec: WorkflowSpec): Promise<string> {
    const workflowId = uuidv7();
    // The event's id and time are fixed here so its timeline entry is written with the acceptance.
    const id = uuidv7();
    const occurredAt = new Date();
    const submitted = { at: occurredAt.toISOString(), type: WorkflowSubmittedV1.type, source: this.publisher.source, stepPath: 'root', detail: spec.name };
    // Recorded and published at once (the 202 waits for both): acceptance writes only what
    // begin() leaves alone (hsetnx of the status) or writes the same (spec, index), so it may land
    // after the workflow started; the submit → first task path loses a Redis round trip.
    await Promise.all([
      this.workflows.accept(workflowId, spec, occurredAt.toISOString(), [submitted]),
      this.publisher.publish(Topics.workflowEvents, WorkflowSubmittedV1, { spec }, { correlationId: workflowId, id, occurredAt }),
    ]);
    return workflowId;
  }

  get(workflowId: string): Promise<WorkflowView | undefined> {
    return this.workflows.view(workflowId);
  }

  list(status?: WorkflowStatus, limit?: number): Promise<WorkflowSummary[]> {
    return this.workflows.list(status, limit);
  }

  async cancel(workflowId: string, reason: string): Promise<void> {
    await this.publisher.publish(Topics.workflowEvents, WorkflowCancelRequestedV1, { reason }, { correlationId: workflowId });
  }
}
