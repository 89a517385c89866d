import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { WorkflowView } from '@agent-mesh/agents/orchestrator';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { PulsarNamespace, RedisFixture, WorkflowClient } from '@agent-mesh/testing';
import type { AgentProcess } from '@agent-mesh/topology';
import { SuiteAgents } from './support/suite-agents';

const WORKSPACE = join(__dirname, '../../..');

/*
 * An approval outlives its orchestrator: the waiting step is in Redis and the decision is an
 * event on workflow.events, so an orchestrator process killed (SIGKILL) while a person thinks,
 * and started again, takes the decision and finishes the workflow.
 */
describeWithPulsar('an approval waiting through an orchestrator restart (separate processes, Pulsar, Redis)', (env) => {
  const redis = new RedisFixture();
  const namespace = new PulsarNamespace(env, 'e2e');
  const mesh = new SuiteAgents({
    pulsar: env,
    redisUrl: redis.url,
    env: { ...namespace.meshEnv(), REDIS_KEY_PREFIX: redis.keyPrefix },
  });
  let orchestrator: AgentProcess;
  let client: WorkflowClient;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect(); // fails clearly when Redis is absent
    for (const app of ['orchestrator', 'worker'])
      execFileSync(process.execPath, ['tools/build-app.js', app], { cwd: WORKSPACE, stdio: 'pipe' });
    await namespace.create();
    orchestrator = await mesh.start('orchestrator-e2e');
    await mesh.start('worker-e2e');
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await mesh.stopAll();
    await namespace.delete();
    await redis.cleanup();
  }, 120_000);

  it('is decided on the orchestrator started after the one it waited on was killed', async () => {
    const id = await client.submit({
      step: {
        kind: 'chain',
        stages: [
          { step: { kind: 'approval', prompt: 'Go ahead?' } },
          { step: { kind: 'task', skill: 'keywords', input: { id: 'doc', text: 'bees visit flowers for nectar' } } },
        ],
      },
    });
    await client.awaitingApproval(id, 'root.stages.0');

    expect(await orchestrator.kill('SIGKILL')).toBeNull();
    await orchestrator.start(60_000);

    // The new process knows the waiting step from Redis.
    await client.awaitingApproval(id, 'root.stages.0');
    const decided = await client.decide(id, 'root.stages.0', { approve: true, comment: 'after the restart' });
    expect(decided.status).toBe(202);
    const workflow = await client.finished<WorkflowView>(id);
    expect(workflow.status).toBe('completed');
    expect(workflow.steps.find((s) => s.path === 'root.stages.0')?.output).toMatchObject({
      approved: true,
      comment: 'after the restart',
    });
    expect(workflow.result).toHaveProperty('keywords');
  });
});
