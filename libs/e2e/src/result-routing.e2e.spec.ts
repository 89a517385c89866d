import { qualifyTopic, Topics, type EventEnvelope, type TaskCompleted, type TaskFailed } from '@agent-mesh/contracts';
import { type AgentProcess, InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { decodeAll, SOLVER_TEXT } from './support/expectations';

/*
 * Each task result reaches only the roles that use it (memory bus, every role running): a
 * fan-out's results go to task.results (orchestrator, aggregator); a saga's steps and
 * compensations reply on task.results.saga (saga coordinator); solver tasks on
 * task.results.solver-rounds (market maker). Before reply topics, every result went to all four.
 */
const BRANCHES = 10;
const TEXT = 'Bees visit flowers. Flowers feed bees. Bees make honey from the flowers they visit.';

const fanOut = (tag: string) => ({
  kind: 'fan-out',
  skill: 'keywords',
  inputs: Array.from({ length: BRANCHES }, (_, i) => ({ id: `${tag}-${i}`, text: `${TEXT} Branch ${i}.` })),
});
const saga = {
  kind: 'saga',
  steps: ['reserve', 'charge'].map((name) => ({
    name,
    action: { skill: 'keywords', input: { id: name, text: `${name} the order ${TEXT}` } },
    compensation: { skill: 'keywords', input: { id: `undo-${name}`, text: `undo ${name} ${TEXT}` } },
    deadlineMs: 10_000,
  })),
};
const solverRounds = {
  kind: 'solver-rounds',
  skill: 'estimate',
  input: { id: 'q', text: SOLVER_TEXT },
  solvers: 2,
  rounds: 2,
  strategy: { type: 'combine' },
};

type TaskResult = EventEnvelope<TaskCompleted | TaskFailed>;

describe('task results reach only the roles that use them (memory bus)', () => {
  const mesh = new InProcessMesh();
  let client: WorkflowClient;
  let sagaCoordinator: AgentProcess;
  let marketMaker: AgentProcess;

  beforeAll(async () => {
    const agents = await startAgents(mesh, [
      'orchestrator',
      'aggregator',
      'saga-coordinator',
      'market-maker',
      'worker',
      'worker',
    ]);
    client = new WorkflowClient(agents[0].url);
    [, , sagaCoordinator, marketMaker] = agents;
  });

  afterAll(() => mesh.stopAll());

  async function resultsOn(topic: string): Promise<TaskResult[]> {
    const messages = await mesh.readAll(topic);
    return [...decodeAll<TaskCompleted>(messages, 'task.completed'), ...decodeAll<TaskFailed>(messages, 'task.failed')];
  }
  const backlog = (topic: string, subscription: string) =>
    mesh.broker.backlog(qualifyTopic(mesh.naming, topic), subscription);

  it('puts a fan-out’s results on task.results, a saga’s on task.results.saga, solver rounds’ on task.results.solver-rounds', async () => {
    const [fanOutId, sagaId, solverId] = await Promise.all(
      [fanOut('f'), saga, solverRounds].map((step) => client.submit({ step })),
    );
    for (const id of [fanOutId, sagaId, solverId]) expect((await client.finished(id)).status).toBe('completed');

    const shared = await resultsOn(Topics.taskResults);
    expect(shared.map((r) => r.correlationId)).toEqual(Array.from({ length: BRANCHES }, () => fanOutId));
    const sagas = await resultsOn(Topics.sagaTaskResults);
    expect(sagas.map((r) => r.data.taskId).sort()).toEqual([
      `${sagaId}:root:saga:0:action`,
      `${sagaId}:root:saga:1:action`,
    ]);
    const solvers = await resultsOn(Topics.solverTaskResults);
    expect(solvers.map((r) => r.data.taskId).sort()).toEqual([
      `${solverId}:root:r1:s0`,
      `${solverId}:root:r1:s1`,
      `${solverId}:root:r2:s0`,
      `${solverId}:root:r2:s1`,
    ]);
  });

  it('gives the saga coordinator and the market maker no subscription on task.results: a fan-out run while they are down leaves them nothing', async () => {
    await sagaCoordinator.stop();
    await marketMaker.stop();
    // A stopped role's durable subscription keeps what is published meanwhile (the control):
    await client.submit({ step: saga });
    expect(backlog(Topics.sagaCommands, 'saga-coordinator')).toBe(1);

    const id = await client.submit({ step: fanOut('g') });
    expect((await client.finished(id)).status).toBe('completed');
    expect((await resultsOn(Topics.taskResults)).filter((r) => r.correlationId === id)).toHaveLength(BRANCHES);
    // ... so with a subscription on task.results they would hold the fan-out's results here.
    expect(backlog(Topics.taskResults, 'saga-coordinator')).toBe(0);
    expect(backlog(Topics.taskResults, 'market-maker-rounds')).toBe(0);
    expect(backlog(Topics.taskResults, 'aggregator')).toBe(0);
  });
});
