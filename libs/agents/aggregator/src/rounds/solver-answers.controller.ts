import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  describeError,
  SolverAnswersV1,
  SolverCompletedV1,
  SolverFailedV1,
  Topics,
  compileAggregationStrategy,
  type EventEnvelope,
  type SolverAnswers,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, SKILL_REGISTRY, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import { expireOps, type StateStore } from '@agent-mesh/state';
import { aggregate, type BranchResult } from '../strategies';

/** `aggregator:rounds:<wf>:<path>` (hash): `result` (Compiled JSON), `published` ('1'). */
const resultKey = (workflowId: string, stepPath: string) => `aggregator:rounds:${workflowId}:${stepPath}`;

type Compiled =
  { readonly ok: true; readonly output: Record<string, unknown> } | { readonly ok: false; readonly reason: string };

/**
 * Compiles the last round of a solver-rounds step (`solver.answers` on market.rounds) by its
 * declared strategy — `combine`: the skill's own combine over the answers in solver order;
 * otherwise the fan-out strategies (all, last-writer-wins, majority-vote, ranked-fusion) with
 * each solver as a branch — and publishes `solver.completed` (or `solver.failed` when the
 * answers cannot be compiled) on workflow.events. The result is recorded once and published
 * until marked published, so a redelivery never compiles twice.
 */
@Controller()
export class SolverAnswersController {
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

  @OnMeshEvent(SolverAnswersV1, { topic: Topics.marketRounds, subscription: 'aggregator-rounds', type: 'Key_Shared' })
  async onAnswers(@Payload() event: EventEnvelope<SolverAnswers>): Promise<void> {
    const workflowId = event.correlationId;
    const { stepPath } = event.data;
    const key = resultKey(workflowId, stepPath);
    await this.state.applyOnce(`aggregator:rounds:${workflowId}:${stepPath}`, [
      { op: 'hset', key, field: 'result', value: JSON.stringify(this.compile(event.data)) },
    ]);
    const record = await this.state.hgetall(key);
    if (record['published'] === '1' || !record['result']) return;
    const result = JSON.parse(record['result']) as Compiled;
    const options = { correlationId: workflowId, causedBy: event };
    if (result.ok) {
      await this.publisher.publish(
        Topics.workflowEvents,
        SolverCompletedV1,
        { stepPath, output: result.output },
        options,
      );
    } else {
      this.log.warn(`solver rounds ${workflowId} ${stepPath}: ${result.reason}`);
      await this.publisher.publish(Topics.workflowEvents, SolverFailedV1, { stepPath, reason: result.reason }, options);
    }
    await this.state.apply([
      { op: 'hset', key, field: 'published', value: '1' },
      ...expireOps([key], this.config.workflowRetentionMs),
    ]);
  }

  private compile({ skill, strategy, answers }: SolverAnswers): Compiled {
    const ordered = [...answers].sort((a, b) => a.solver - b.solver);
    try {
      const compiled = compileAggregationStrategy(strategy);
      if (compiled.type === 'combine') {
        const found = this.skills.get(skill);
        if (!found) return { ok: false, reason: `cannot combine the answers: the aggregator has no skill "${skill}"` };
        return {
          ok: true,
          output: found.combine(ordered.map((a) => ({ inputId: `solver-${a.solver}`, output: a.output }))),
        };
      }
      const branches: BranchResult[] = ordered.map((a) => ({
        branchIndex: a.solver,
        inputId: `solver-${a.solver}`,
        status: 'completed',
        output: a.output,
      }));
      return { ok: true, output: { ...aggregate(compiled, branches) } };
    } catch (error) {
      return { ok: false, reason: `cannot compile the answers by ${strategy.type}: ${describeError(error)}` };
    }
  }
}
