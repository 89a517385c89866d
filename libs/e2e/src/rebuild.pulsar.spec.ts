import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import type { StateStore } from '@agent-mesh/state';
import { InProcessMesh, PulsarNamespace, RedisFixture, startAgents, WorkflowClient } from '@agent-mesh/testing';
import { PatternSkills } from './support/pattern-scenarios';
import { describeRebuild, type RebuildMesh } from './support/rebuild-scenarios';
import { sleep } from './support/test-skills';

/*
 * The rebuild from the log (support/rebuild-scenarios.ts) on the real broker, the roles' state in
 * the real Redis: every role its own Nest app with its own pulsar-ws connection and Redis
 * connection, in a namespace of their own. `mesh replay` connects as the command-line tool does,
 * from the settings alone (PULSAR_*, REDIS_URL, REDIS_KEY_PREFIX), and reads the log back from
 * the broker.
 */

describeWithPulsar('rebuild from the log on a real Pulsar broker (pulsar-ws, state in the real Redis)', (env) => {
  const namespace = new PulsarNamespace(env, 'rebuild');
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  // PULSAR_SERVICE_URL blank: never the native driver, whatever the environment says
  const meshEnv = () => ({ ...namespace.meshEnv(), PULSAR_SERVICE_URL: '', MESH_BOARDS: 'default,ideas' });
  let client: WorkflowClient;
  let state: StateStore;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
    const [orchestrator] = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'saga-coordinator', 'market-maker', 'worker', 'worker'],
      async (role) => ({
        skills: skills.registry(),
        env: meshEnv(),
        stateStore: role === 'worker' ? undefined : await redis.connect(),
      }),
    );
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 30_000 });
    state = await redis.connect();
  }, 60_000);

  afterAll(async () => {
    skills.hang.release();
    await sleep(200);
    await mesh.stopAll();
    await namespace.delete();
    await redis.cleanup();
  }, 60_000);

  describeRebuild((): RebuildMesh => ({
    client,
    skills,
    naming: namespace.naming,
    state,
    env: meshEnv(),
    replayEnv: { ...meshEnv(), REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix },
    waitMs: 30_000,
    quietMs: 500,
  }));
});
