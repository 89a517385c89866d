import { TaskCompletedV1, Topics, type EventEnvelope, type TaskCompleted } from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { createDefaultSkillRegistry, type Skill } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { eventually, InProcessMesh, RedisFixture, startAgent, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { GatedWordCount } from './support/test-skills';

function registryWith(skill: Skill) {
  return createDefaultSkillRegistry().register(skill);
}

interface WorkflowBody {
  status: string;
  result?: { inputs: string[]; words: number };
  branches: { worker?: string }[];
}

describe('a worker killed mid-task (real Redis)', () => {
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const stuck = new GatedWordCount(false);
  let state: StateStore;

  afterAll(async () => {
    stuck.release(); // the dead worker's handlers wake up and find their connection gone
    await mesh.stopAll();
    await redis.cleanup();
  });

  it('redelivers its tasks to another worker and counts every branch exactly once', async () => {
    state = await redis.connect();
    const [orchestrator, , doomed] = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', { role: 'worker', instanceId: 'doomed', skills: registryWith(stuck) }],
      async () => ({ stateStore: await redis.connect(), skills: registryWith(new GatedWordCount(true)) }),
    );
    const client = new WorkflowClient(orchestrator.url);

    const inputs = Array.from({ length: 6 }, (_, i) => ({ id: `doc-${i}`, text: 'word '.repeat(i + 1).trim() }));
    const workflowId = await client.submit({ skill: 'gated', inputs });

    // The doomed worker is the only one: it takes tasks and holds them, unacked.
    await eventually('tasks in flight on the doomed worker', async () => (stuck.started >= 4 ? true : undefined));
    const survivor = await startAgent(mesh, {
      role: 'worker',
      instanceId: 'survivor',
      stateStore: await redis.connect(),
      skills: registryWith(new GatedWordCount(true)),
    });
    await doomed.crash();

    const workflow = await client.finished<WorkflowBody>(workflowId);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ inputs: inputs.map((i) => i.id), words: 1 + 2 + 3 + 4 + 5 + 6 });
    expect(workflow.branches.map((b) => b.worker)).toEqual(inputs.map(() => 'worker@survivor'));
    // Each branch counted once: six results recorded in the join, one per task.
    expect(await state.hget(`aggregator:join:${workflowId}:root`, 'seq')).toBe('6');
    expect(Object.keys(await state.hgetall(`aggregator:join:${workflowId}:root:branches`))).toHaveLength(6);

    // A result delivered twice (a worker that published, then died before its ack) is counted once.
    const results = (await mesh.readAll(Topics.taskResults)).map(
      (m) => JSON.parse(m.payload.toString()) as EventEnvelope<TaskCompleted>,
    );
    const first = results.find((e) => e.correlationId === workflowId && e.type === 'task.completed');
    expect(first).toBeDefined();
    await survivor.app
      .get(MeshPublisher)
      .as('worker')
      .publish(Topics.taskResults, TaskCompletedV1, first!.data, { correlationId: workflowId });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await state.hget(`aggregator:join:${workflowId}:root`, 'seq')).toBe('6');
    const completions = (await mesh.readAll(Topics.workflowEvents))
      .map((m) => JSON.parse(m.payload.toString()) as EventEnvelope)
      .filter((e) => e.correlationId === workflowId && e.type === 'workflow.completed');
    expect(completions).toHaveLength(1);

    // The dead worker, woken up, cannot publish: nothing of it appears on the results topic.
    stuck.release();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const fromDoomed = (await mesh.readAll(Topics.taskResults)).filter(
      (m) => m.properties['mesh.source'] === 'worker@doomed',
    );
    expect(fromDoomed).toHaveLength(0);
  });
});
