import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import {
  InProcessMesh,
  PulsarNamespace,
  startAgents,
  WORKFLOW_ROLES,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';
import { describePatternScenarios, PatternSkills, type PatternMesh } from './support/pattern-scenarios';
import { sleep } from './support/test-skills';

/*
 * The pattern scenarios (support/pattern-scenarios.ts) on the real broker: the same agent modules
 * as the memory-bus run (patterns.e2e.spec.ts), each its own Nest app with its own pulsar-ws
 * connection, in a namespace of their own. MeshRuntimeModule's env override selects the
 * transport; the harness's memory broker is passed too and must be ignored (connectEventBus uses
 * it for memory only). The scenarios that need the broker itself are in patterns-more.pulsar.spec.ts.
 */

describeWithPulsar('workflow patterns on a real Pulsar broker (pulsar-ws)', (env) => {
  const namespace = new PulsarNamespace(env, 'patterns');
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  const agents: AgentProcess[] = [];
  let client: WorkflowClient;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
    agents.push(
      ...(await startAgents(mesh, WORKFLOW_ROLES, (role) => ({
        skills: skills.registry(role),
        // PULSAR_SERVICE_URL blank: never the native driver, whatever the environment says
        env: { ...namespace.meshEnv(), PULSAR_SERVICE_URL: '' },
      }))),
    );
    client = new WorkflowClient(agents[0].url, { timeoutMs: 30_000 });
  }, 60_000);

  afterAll(async () => {
    skills.hang.release();
    await sleep(200);
    await mesh.stopAll();
    await namespace.delete();
  }, 60_000);

  describePatternScenarios((): PatternMesh => ({
    client,
    skills,
    agents,
    transport: 'pulsar-ws',
    quietMs: 500,
    waitMs: 30_000,
  }));
});
