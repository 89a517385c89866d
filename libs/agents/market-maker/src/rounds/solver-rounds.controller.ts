import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  SolverAnswersV1,
  SolverFailedV1,
  SolverRoundCompletedV1,
  SolverStartV1,
  TaskAssignedV1,
  TaskCompletedV1,
  TaskFailedV1,
  STEP_PATH_FRAGMENT,
  Topics,
  type EventEnvelope,
  type SolverAnswer,
  type SolverStart,
  type TaskCompleted,
  type TaskFailed,
  type TaskUsage,
} from '@agent-mesh/contracts';
import { MeshPublisher, OnMeshEvent, type MeshSubscriptionOptions } from '@agent-mesh/nest-pulsar';
import { MESH_CONFIG, STATE_STORE, type MeshConfig } from '@agent-mesh/runtime';
import { expireOps, type StateStore } from '@agent-mesh/state';

const ROUNDS: MeshSubscriptionOptions = {
  topic: Topics.marketRounds,
  subscription: 'market-maker-rounds',
  type: 'Key_Shared',
};
/**
 * The answers of the rounds' own solver tasks, and only those: every solver task names this
 * topic as its reply topic, so fan-out and other results never reach (or cost) the market maker.
 */
const RESULTS: MeshSubscriptionOptions = {
  topic: Topics.solverTaskResults,
  subscription: 'market-maker-rounds',
  type: 'Key_Shared',
};

/** `<workflowId>:<stepPath>:r<round>:s<solver>`. */
const TASK_ID = new RegExp(String.raw`^(.+):(${STEP_PATH_FRAGMENT}):r(\d+):s(\d+)$`);
export const solverTaskId = (workflowId: string, stepPath: string, round: number, solver: number): string =>
  `${workflowId}:${stepPath}:r${round}:s${solver}`;

/** `rounds:<wf>:<path>` (hash): `spec` (the SolverStart), `status`, `announced:<round>` flags. */
const runKey = (workflowId: string, stepPath: string) => `rounds:${workflowId}:${stepPath}`;
/** `rounds:<wf>:<path>:r<round>` (hash): solver index → RoundAnswer JSON. */
const answersKey = (workflowId: string, stepPath: string, round: number) =>
  `rounds:${workflowId}:${stepPath}:r${round}`;

type RunStatus = 'running' | 'completed' | 'failed';

interface RoundAnswer {
  readonly status: 'completed' | 'failed';
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  /** What its model calls used, announced with the round's answers (for the workflow's budget). */
  readonly usage?: TaskUsage;
}

/**
 * Solver rounds, run by the market maker. Round k assigns one task per solver on
 * `tasks.<skill>` (params: the step's params plus `round`, `solver` and `peers`, the outputs of
 * round k-1 — none in round 1). When every solver of the round has answered, the round is
 * announced (`solver.round-completed` on market.rounds) with the answers of the solvers that
 * completed — failed ones are left out, and a round where all failed ends the run with
 * `solver.failed` — and round k+1 starts from those answers. After the last round the answers
 * go to the aggregator (`solver.answers`). An answer carries its task's model usage, which the
 * orchestrator charges to the workflow when the round is announced. Solver tasks reply on `task.results.solver-rounds`,
 * which only the rounds consume: neither the aggregator nor the orchestrator uses the answers
 * one by one.
 *
 * The run lives in the StateStore: each answer is recorded once per task id, and a round's
 * announcement is repeated on every delivery until it is marked done, so a market maker that
 * crashed in between is finished by the redelivery.
 */
@Controller()
export class SolverRoundsController {
  private readonly log = new Logger('SolverRounds');
  private readonly publisher: MeshPublisher;

  constructor(
    publisher: MeshPublisher,
    @Inject(STATE_STORE) private readonly state: StateStore,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
  ) {
    this.publisher = publisher.as('market-maker');
  }

  @OnMeshEvent(SolverStartV1, ROUNDS)
  async onStart(@Payload() event: EventEnvelope<SolverStart>): Promise<void> {
    const workflowId = event.correlationId;
    const { stepPath } = event.data;
    const key = runKey(workflowId, stepPath);
    const { applied } = await this.state.applyOnce(`rounds:start:${workflowId}:${stepPath}`, [
      { op: 'hset', key, field: 'spec', value: JSON.stringify(event.data) },
      { op: 'hset', key, field: 'status', value: 'running' satisfies RunStatus },
    ]);
    const spec = JSON.parse((await this.state.hget(key, 'spec')) ?? JSON.stringify(event.data)) as SolverStart;
    // On a redelivery (the handler failed before, or half-way through, the publishes), every solver
    // of round 1 with no answer yet is assigned again — not only when none answered: the first
    // tasks out may have answered already. The task ids are stable, so an answer is counted once.
    const answered = applied ? {} : await this.state.hgetall(answersKey(workflowId, stepPath, 1));
    await this.assignRound(workflowId, spec, 1, [], event, (solver) => answered[String(solver)] === undefined);
  }

  @OnMeshEvent(TaskCompletedV1, RESULTS)
  async onTaskCompleted(@Payload() event: EventEnvelope<TaskCompleted>): Promise<void> {
    await this.onAnswer(event, { status: 'completed', output: event.data.output, usage: event.data.usage });
  }

  @OnMeshEvent(TaskFailedV1, RESULTS)
  async onTaskFailed(@Payload() event: EventEnvelope<TaskFailed>): Promise<void> {
    await this.onAnswer(event, { status: 'failed', error: event.data.error });
  }

  private async onAnswer(event: EventEnvelope<TaskCompleted | TaskFailed>, answer: RoundAnswer): Promise<void> {
    const match = TASK_ID.exec(event.data.taskId);
    if (!match) return; // not a solver's task (a defence: only solver tasks name this reply topic)
    const [, workflowId, stepPath, roundText, solverText] = match;
    const round = Number(roundText);
    const solver = Number(solverText);
    const run = await this.state.hgetall(runKey(workflowId, stepPath));
    if (!run['spec'] || run['status'] !== 'running') return;
    const spec = JSON.parse(run['spec']) as SolverStart;
    if (round > spec.rounds || solver >= spec.solvers) return;
    await this.state.applyOnce(`rounds:answer:${event.data.taskId}`, [
      {
        op: 'hset',
        key: answersKey(workflowId, stepPath, round),
        field: String(solver),
        value: JSON.stringify(answer),
      },
    ]);
    await this.closeRound(workflowId, spec, round, event);
  }

  /** Once every solver of the round answered: announces it and starts the next round (or ends). */
  private async closeRound(workflowId: string, spec: SolverStart, round: number, cause: EventEnvelope): Promise<void> {
    const key = runKey(workflowId, spec.stepPath);
    if ((await this.state.hget(key, `announced:${round}`)) === '1') return;
    const stored = await this.state.hgetall(answersKey(workflowId, spec.stepPath, round));
    const records = Array.from({ length: spec.solvers }, (_, i) => stored[String(i)]);
    if (records.some((r) => r === undefined)) return; // still waiting for a solver
    const answers: SolverAnswer[] = [];
    const errors: string[] = [];
    records.forEach((json, solver) => {
      const record = JSON.parse(json as string) as RoundAnswer;
      if (record.status === 'completed') answers.push({ solver, output: record.output ?? {}, usage: record.usage });
      else errors.push(`solver ${solver}: ${record.error ?? 'failed'}`);
    });
    const options = { correlationId: workflowId, causedBy: cause };
    const { stepPath } = spec;
    if (answers.length === 0) {
      const reason = `every solver failed in round ${round} of ${spec.rounds}: ${errors.join('; ')}`;
      this.log.warn(`solver rounds ${workflowId} ${stepPath}: ${reason}`);
      await this.publisher.publish(Topics.workflowEvents, SolverFailedV1, { stepPath, reason }, options);
      await this.finish(workflowId, stepPath, round, 'failed');
      return;
    }
    await this.publisher.publish(Topics.marketRounds, SolverRoundCompletedV1, { stepPath, round, answers }, options);
    if (round < spec.rounds) {
      await this.assignRound(
        workflowId,
        spec,
        round + 1,
        answers.map((a) => a.output),
        cause,
      );
      await this.finish(workflowId, stepPath, round);
      return;
    }
    await this.publisher.publish(
      Topics.marketRounds,
      SolverAnswersV1,
      { stepPath, skill: spec.skill, strategy: spec.strategy, answers },
      options,
    );
    await this.finish(workflowId, stepPath, round, 'completed');
  }

  /** Marks the round announced and, when the run ends with it, the run's end, its keys expiring after the retention. */
  private async finish(workflowId: string, stepPath: string, round: number, status?: RunStatus): Promise<void> {
    const key = runKey(workflowId, stepPath);
    const rounds = Array.from({ length: round }, (_, i) => answersKey(workflowId, stepPath, i + 1));
    await this.state.apply([
      { op: 'hset', key, field: `announced:${round}`, value: '1' },
      ...(status
        ? [
            { op: 'hset' as const, key, field: 'status', value: status },
            ...expireOps([key, ...rounds], this.config.workflowRetentionMs),
          ]
        : []),
    ]);
  }

  private async assignRound(
    workflowId: string,
    spec: SolverStart,
    round: number,
    peers: Record<string, unknown>[],
    cause: EventEnvelope,
    unanswered: (solver: number) => boolean = () => true,
  ): Promise<void> {
    for (let solver = 0; solver < spec.solvers; solver++) {
      if (!unanswered(solver)) continue;
      await this.publisher.publish(
        Topics.tasks(spec.skill),
        TaskAssignedV1,
        {
          taskId: solverTaskId(workflowId, spec.stepPath, round, solver),
          branchIndex: solver,
          branchCount: spec.solvers,
          skill: spec.skill,
          input: spec.input,
          params: { ...spec.params, round, solver, peers },
          stepPath: spec.stepPath,
          attempt: 1,
          replyTopic: Topics.solverTaskResults,
        },
        { correlationId: workflowId, causedBy: cause },
      );
    }
  }
}
