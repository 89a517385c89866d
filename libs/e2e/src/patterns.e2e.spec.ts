import { InProcessMesh, startAgents, WORKFLOW_ROLES, WorkflowClient, type AgentProcess } from '@agent-mesh/testing';
import { describePatternScenarios, PatternSkills, type PatternMesh } from './support/pattern-scenarios';
import { sleep } from './support/test-skills';

/*
 * The pattern scenarios (support/pattern-scenarios.ts) on the memory bus: an orchestrator, an
 * aggregator and two workers as separate "processes" on one memory broker. The same table runs
 * on the real broker in patterns.pulsar.spec.ts.
 */

describe('workflow patterns across agent processes (memory bus)', () => {
  const mesh = new InProcessMesh();
  const skills = new PatternSkills();
  const agents: AgentProcess[] = [];
  let client: WorkflowClient;

  beforeAll(async () => {
    agents.push(...(await startAgents(mesh, WORKFLOW_ROLES, (role) => ({ skills: skills.registry(role) }))));
    client = new WorkflowClient(agents[0].url, { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    skills.hang.release();
    await sleep(50);
    await mesh.stopAll();
  });

  describePatternScenarios((): PatternMesh => ({
    client,
    skills,
    agents,
    transport: 'memory',
    quietMs: 100,
    waitMs: 10_000,
  }));
});
