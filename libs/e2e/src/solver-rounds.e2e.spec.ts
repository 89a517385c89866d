import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import {
  createMeshEventRegistry,
  Topics,
  type EventEnvelope,
  type SolverRoundCompleted,
  type TaskCompleted,
  type TaskFailed,
} from '@agent-mesh/contracts';
import { createDefaultSkillRegistry, type SkillRegistry } from '@agent-mesh/skills';
import { InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { expectedRounds, SOLVER_TEXT } from './support/expectations';
import { PickySkill } from './support/test-skills';

/*
 * Solver rounds end to end on the memory bus: orchestrator, market maker (runs the rounds),
 * aggregator (compiles the last round) and two workers (run the solvers' tasks).
 *
 * The `estimate` skill's documented formula is computed by hand for TEXT (SOLVER_TEXT) in
 * ./support/expectations (expectedRounds).
 */
const TEXT = SOLVER_TEXT;

describe('solver rounds: the market maker runs the rounds, the aggregator compiles (memory bus)', () => {
  const mesh = new InProcessMesh();
  const registry = createMeshEventRegistry();
  let client: WorkflowClient;
  const skills = (): SkillRegistry => createDefaultSkillRegistry().register(new PickySkill());

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      mesh,
      ['orchestrator', 'market-maker', 'aggregator', 'worker', 'worker'],
      () => ({ skills: skills() }),
    );
    client = new WorkflowClient(orchestrator.url);
  });

  afterAll(() => mesh.stopAll());

  async function run(step: Record<string, unknown>): Promise<{ id: string; workflow: WorkflowView }> {
    const id = await client.submit({ step: { kind: 'solver-rounds', input: { id: 'q', text: TEXT }, ...step } });
    return { id, workflow: await client.finished(id) };
  }

  async function resultsOf(topic: string, id: string): Promise<EventEnvelope<TaskCompleted | TaskFailed>[]> {
    return (await mesh.readAll(topic))
      .map((m) => registry.decode(m.payload))
      .flatMap((d) =>
        d.ok && d.envelope.correlationId === id && d.envelope.type.startsWith('task.')
          ? [d.envelope as EventEnvelope<TaskCompleted | TaskFailed>]
          : [],
      );
  }

  /** The solver tasks' results, on the market maker's reply topic. */
  const solverResultsOf = (id: string) => resultsOf(Topics.solverTaskResults, id);
  /** Task results of the workflow on task.results (what the orchestrator and aggregator see). */
  const resultsOnTaskResults = (id: string) => resultsOf(Topics.taskResults, id);

  async function roundsOf(id: string): Promise<Map<number, number>[]> {
    const events = (await mesh.readAll(Topics.marketRounds))
      .map((m) => registry.decode(m.payload))
      .flatMap((d) =>
        d.ok && d.envelope.type === 'solver.round-completed' && d.envelope.correlationId === id
          ? [d.envelope as EventEnvelope<SolverRoundCompleted>]
          : [],
      )
      .sort((a, b) => a.data.round - b.data.round);
    return events.map((e) => new Map(e.data.answers.map((a) => [a.solver, Number(a.output['answer'])])));
  }

  it('3 solvers × 3 rounds: each round refines toward the others, and the result is the compile of round 3', async () => {
    const expected = expectedRounds(3, 3);
    // Written out: round 1 [36, 18, 30]; round 2 [30, 25.5, 28.5]; round 3 [31.5, 23.63, 28.88]; median 28.88
    expect(expected.map((m) => [...m.values()])).toEqual([
      [36, 18, 30],
      [30, 25.5, 28.5],
      [31.5, 23.63, 28.88],
    ]);

    const { id, workflow } = await run({ skill: 'estimate', solvers: 3, rounds: 3, strategy: { type: 'combine' } });
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ answer: 28.88, label: 'short', count: 3 });
    expect(workflow.steps[0]).toMatchObject({
      path: 'root',
      kind: 'solver-rounds',
      status: 'completed',
      output: workflow.result,
    });

    expect(await roundsOf(id)).toEqual(expected);
    const rounds = await client.timeline(id, 'solver.round-completed', 3);
    expect(rounds.map((e) => e.detail)).toEqual(['round 1: 3 answers', 'round 2: 3 answers', 'round 3: 3 answers']);
    expect(rounds.every((e) => e.stepPath === 'root' && e.source.startsWith('market-maker@'))).toBe(true);
    const completed = await client.timeline(id, 'solver.completed', 1);
    expect(completed[0].source.startsWith('aggregator@')).toBe(true);
    // 3 solvers × 3 rounds, each once, on the rounds' own reply topic; none on task.results, so
    // the orchestrator's timeline has the rounds (above), not each answer.
    const answers = await solverResultsOf(id);
    expect(
      answers
        .filter((r) => r.type === 'task.completed')
        .map((r) => r.data.taskId)
        .sort(),
    ).toEqual([1, 2, 3].flatMap((round) => [0, 1, 2].map((solver) => `${id}:root:r${round}:s${solver}`)).sort());
    expect(await resultsOnTaskResults(id)).toEqual([]);
    expect((await client.get(id)).timeline.filter((e) => e.type === 'task.completed')).toEqual([]);
  });

  it('compiles with a declared fan-out strategy: majority vote on the label', async () => {
    const { workflow } = await run({
      skill: 'estimate',
      solvers: 3,
      rounds: 2,
      strategy: { type: 'majority-vote', field: 'label' },
    });
    expect(workflow.status).toBe('completed');
    // round 2 [30, 25.5, 28.5]: all below 100 words → 'short' three times
    expect(workflow.result).toEqual({
      type: 'majority-vote',
      winner: 'short',
      votes: { '"short"': 3 },
      total: 3,
      abstained: 0,
    });
  });

  it('leaves a failed solver out of its round; the next round refines from the answers there are', async () => {
    const expected = expectedRounds(3, 3, [{ round: 2, solver: 1 }]);
    // round 2 [30, –, 28.5]; round 3: s0 (36 + 28.5)/2 = 32.25, s1 (18 + 29.25)/2 = 23.63, s2 (30 + 30)/2 = 30; median 30
    expect(expected.map((m) => [...m.entries()])).toEqual([
      [
        [0, 36],
        [1, 18],
        [2, 30],
      ],
      [
        [0, 30],
        [2, 28.5],
      ],
      [
        [0, 32.25],
        [1, 23.63],
        [2, 30],
      ],
    ]);
    const { id, workflow } = await run({ skill: 'picky', solvers: 3, rounds: 3, strategy: { type: 'combine' } });
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ answer: 30, label: 'short', count: 3 });
    expect(await roundsOf(id)).toEqual(expected);
    expect((await client.timeline(id, 'solver.round-completed', 3)).map((e) => e.detail)).toEqual([
      'round 1: 3 answers',
      'round 2: 2 answers',
      'round 3: 3 answers',
    ]);
  });

  it('fails the step when every solver of a round fails', async () => {
    const { id, workflow } = await run({
      skill: 'estimate',
      input: { id: 'q', text: '... !!! ???' },
      solvers: 3,
      rounds: 3,
      strategy: { type: 'combine' },
    });
    expect(workflow.status).toBe('failed');
    expect(workflow.reason).toContain('every solver failed in round 1 of 3');
    expect(workflow.reason).toContain('text has no words');
    expect(workflow.steps[0]).toMatchObject({ path: 'root', status: 'failed' });
    expect((await solverResultsOf(id)).filter((r) => r.type === 'task.failed')).toHaveLength(3);
    expect(await resultsOnTaskResults(id)).toEqual([]);
    expect(await roundsOf(id)).toEqual([]);
  });
});
