import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { eventually, PulsarNamespace, RedisFixture, WorkflowClient } from '@agent-mesh/testing';
import { SUITE_REGION, SuiteAgents } from './support/suite-agents';

const WORKSPACE = join(__dirname, '../../..');
const ROLES = ['orchestrator', 'aggregator', 'market-maker', 'saga-coordinator', 'worker'] as const;

interface WorkflowBody {
  id: string;
  status: string;
  result?: Record<string, unknown>;
  branches: { inputId: string; worker?: string; output?: Record<string, unknown> }[];
}

const texts = [
  'Solar panels on the school roof now cover most of the building’s daytime power.',
  'The river flooded the lower fields twice this spring, ruining the early crops.',
  'Volunteers repaired the old footbridge, and the village celebrated with a fair.',
  'A new bus line links the hospital to the station every fifteen minutes.',
];

describeWithPulsar('agents as separate processes on a real Pulsar broker and Redis', (env) => {
  const redis = new RedisFixture();
  const namespace = new PulsarNamespace(env, 'e2e');
  // The launcher's plan of one region with two workers; the second joins in a test below.
  const mesh = new SuiteAgents({
    pulsar: env,
    redisUrl: redis.url,
    workers: 2,
    env: { ...namespace.meshEnv(), REDIS_KEY_PREFIX: redis.keyPrefix },
  });
  let client: WorkflowClient;

  const submit = async (skill: string, inputs: { id: string; text: string }[]): Promise<WorkflowBody> => {
    const { status, json } = await client.post({ skill, inputs });
    expect(status).toBe(202);
    const workflow = await client.finished<WorkflowBody>(String(json['workflowId']), 60_000);
    if (workflow.status !== 'completed') throw new Error(`workflow ${workflow.status}: ${JSON.stringify(workflow)}`);
    return workflow;
  };

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect(); // fails clearly when Redis is absent
    for (const app of ROLES)
      execFileSync(process.execPath, ['tools/build-app.js', app], { cwd: WORKSPACE, stdio: 'pipe' });
    await namespace.create();
    const orchestrator = await mesh.start('orchestrator-e2e');
    client = new WorkflowClient(orchestrator.url);
    await Promise.all(
      ['aggregator-e2e', 'market-maker-e2e', 'saga-coordinator-e2e', 'worker-e2e-1'].map((name) => mesh.start(name)),
    );
  }, 120_000);

  afterAll(async () => {
    await mesh.stopAll();
    await namespace.delete();
    await redis.cleanup();
  }, 120_000);

  it('serves /health on every role, on the pulsar-ws driver', async () => {
    for (const agent of mesh.started) {
      const health = (await (await fetch(`${agent.url}/health`)).json()) as {
        status: string;
        role: string;
        transport: string;
      };
      expect(health).toMatchObject({ status: 'ok', transport: 'pulsar-ws' });
      expect(`${health.role}-${SUITE_REGION}`).toBe(agent.plan.service);
    }
  });

  it('completes a fan-out submitted over HTTP, aggregated like the skill itself would', async () => {
    const inputs = texts.map((text, i) => ({ id: `doc-${i}`, text }));
    const workflow = await submit('keywords', inputs);
    const skill = createDefaultSkillRegistry().require('keywords');
    const signal = new AbortController().signal;
    const outputs = await Promise.all(
      inputs.map(async (i) => ({ inputId: i.id, output: await skill.run(i, { signal }) })),
    );
    expect(workflow.result).toEqual(skill.combine(outputs));
    expect(new Set(workflow.branches.map((b) => b.worker))).toEqual(new Set(['worker@worker-e2e-1']));
  }, 90_000);

  it('shares the tasks between two worker processes', async () => {
    await mesh.start('worker-e2e-2');
    const inputs = Array.from({ length: 40 }, (_, i) => ({
      id: `n-${i}`,
      text: `${texts[i % texts.length]} Item ${i}.`,
    }));
    const done = await submit('sentiment', inputs);
    // Branch results reach the orchestrator's projection on task.results, which may trail the
    // completion on workflow.events by a moment: wait until every branch shows its worker.
    const workflow = await eventually('every branch to show its worker', async () => {
      const view = await client.get<WorkflowBody>(done.id);
      return view.branches.length === 40 && view.branches.every((b) => b.worker) ? view : undefined;
    });
    const perWorker = new Map<string, number>();
    for (const b of workflow.branches) perWorker.set(String(b.worker), (perWorker.get(String(b.worker)) ?? 0) + 1);
    expect([...perWorker.keys()].sort()).toEqual(['worker@worker-e2e-1', 'worker@worker-e2e-2']);
    expect([...perWorker.values()].reduce((a, b) => a + b, 0)).toBe(40);
  }, 90_000);

  it('stops every process cleanly on SIGTERM', async () => {
    const codes = await mesh.stopAll();
    expect(codes).toEqual(mesh.started.map(() => 0));
  }, 90_000);
});
