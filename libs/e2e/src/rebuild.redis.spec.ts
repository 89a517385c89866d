import type { StateStore } from '@agent-mesh/state';
import { eventually, InProcessMesh, RedisFixture, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';
import { describeRebuild, type RebuildMesh } from './support/rebuild-scenarios';
import { sleep } from './support/test-skills';

/*
 * The rebuild from the log (support/rebuild-scenarios.ts) on the memory bus, the roles' state in
 * the real Redis: an orchestrator, an aggregator, a saga coordinator, a market maker and two
 * workers, each a "process" with its own Redis connection. The same runs on the real broker in
 * rebuild.pulsar.spec.ts.
 */

const ENV = { MESH_BOARDS: 'default,ideas' };

describe('rebuild from the log (memory bus, state in the real Redis)', () => {
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  let client: WorkflowClient;
  let state: StateStore;

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'saga-coordinator', 'market-maker', 'worker', 'worker'],
      async (role) => ({
        skills: skills.registry(),
        env: ENV,
        stateStore: role === 'worker' ? undefined : await redis.connect(),
      }),
    );
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 20_000 });
    state = await redis.connect();
    await eventually('the mesh to answer', async () =>
      (await fetch(`${orchestrator.url}/health`)).ok ? true : undefined,
    );
  });

  afterAll(async () => {
    skills.hang.release();
    await sleep(100);
    await mesh.stopAll();
    await redis.cleanup();
  });

  describeRebuild((): RebuildMesh => ({
    client,
    skills,
    bus: mesh.broker.connect(),
    naming: mesh.naming,
    state,
    env: ENV,
    waitMs: 20_000,
    quietMs: 150,
  }));
});
