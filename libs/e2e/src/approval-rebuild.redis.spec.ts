import { InProcessMesh, RedisFixture, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';
import {
  comparable,
  deleteWorkflowKeys,
  replay,
  settled,
  stateOf,
  type RebuildMesh,
  type WorkflowState,
} from './support/rebuild-scenarios';

/*
 * Approval steps in the rebuild from the log (libs/replay): the decision is an event on
 * workflow.events, so a decided approval is rebuilt as it was, and one still waiting is rebuilt
 * waiting — and can be decided on the rebuilt state.
 */

const spec = (tag: string) => ({
  step: {
    kind: 'chain',
    stages: [
      { step: { kind: 'task', skill: 'count', input: { id: `${tag}-doc`, text: 'one two three' } } },
      { step: { kind: 'approval', prompt: `Approve ${tag}?` } },
      { step: { kind: 'task', skill: 'count', input: { id: `${tag}-after`, text: 'four five' } } },
    ],
  },
});

describe('approvals rebuilt from the log (memory bus, state in the real Redis)', () => {
  const redis = new RedisFixture();
  const meshOfProcesses = new InProcessMesh();
  const skills = new PatternSkills();
  let mesh: RebuildMesh;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      meshOfProcesses,
      ['orchestrator', 'aggregator', 'worker'],
      async (role) => ({
        skills: skills.registry(),
        stateStore: role === 'worker' ? undefined : await redis.connect(),
      }),
    );
    mesh = {
      client: new WorkflowClient(orchestrator.url, { timeoutMs: 20_000 }),
      skills,
      bus: meshOfProcesses.broker.connect(),
      naming: meshOfProcesses.naming,
      state: await redis.connect(),
      env: {},
      waitMs: 20_000,
      quietMs: 150,
    };
  });

  afterAll(async () => {
    skills.hang.release();
    await meshOfProcesses.stopAll();
    await redis.cleanup();
  });

  it('rebuilds a decided approval as it was, and a waiting one waiting, which is then decided', async () => {
    const { client } = mesh;
    const [decidedId, waitingId] = await Promise.all([client.submit(spec('decided')), client.submit(spec('waiting'))]);
    await client.awaitingApproval(decidedId, 'root.stages.1');
    await client.awaitingApproval(waitingId, 'root.stages.1');
    expect((await client.decide(decidedId, 'root.stages.1', { approve: true, comment: 'yes' })).status).toBe(202);
    expect((await client.finished(decidedId)).status).toBe('completed');

    const before = new Map<string, WorkflowState>();
    for (const id of [decidedId, waitingId]) before.set(id, await settled(mesh, id));
    for (const id of [decidedId, waitingId]) await deleteWorkflowKeys(mesh.state, id);
    const report = await replay(mesh, { workflow: [decidedId, waitingId] });

    expect(report.unsettled).toEqual([]);
    expect(report.unmatchedOutputs).toEqual([]);
    for (const id of [decidedId, waitingId])
      expect(comparable(await stateOf(mesh, id))).toEqual(comparable(before.get(id) as WorkflowState));

    const rebuilt = await client.awaitingApproval(waitingId, 'root.stages.1');
    expect(rebuilt.awaiting).toEqual({ what: 'approval', prompt: 'Approve waiting?' });
    expect((await client.decide(waitingId, 'root.stages.1', { approve: true })).status).toBe(202);
    const finished = await client.finished(waitingId);
    expect(finished.status).toBe('completed');
    expect(finished.steps.find((s) => s.path === 'root.stages.2')?.status).toBe('completed');
  });
});
