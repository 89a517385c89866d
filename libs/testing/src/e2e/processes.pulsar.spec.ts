import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { spawnAgent, type SpawnedAgent } from '../agent-process';
import { eventually } from '../in-process-mesh';
import { RedisFixture } from '../redis-fixture';

const WORKSPACE = join(__dirname, '../../../..');
const ROLES = ['orchestrator', 'aggregator', 'market-maker', 'saga-coordinator', 'worker'] as const;

interface WorkflowBody {
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
  const namespace = `e2e-${randomBytes(4).toString('hex')}`;
  const admin = new PulsarAdmin({ webUrl: env.webUrl });
  const agents: SpawnedAgent[] = [];
  let orchestrator: SpawnedAgent;

  const start = async (app: string, instance: string) => {
    const agent = await spawnAgent(app, {
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: env.webUrl,
      PULSAR_TENANT: env.tenant,
      PULSAR_NAMESPACE: namespace,
      MESH_REGION: 'e2e',
      MESH_INSTANCE_ID: instance,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.keyPrefix,
    });
    agents.push(agent);
    return agent;
  };

  const submit = async (skill: string, inputs: { id: string; text: string }[]): Promise<WorkflowBody> => {
    const response = await fetch(`${orchestrator.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ skill, inputs }),
    });
    expect(response.status).toBe(202);
    const { workflowId } = (await response.json()) as { workflowId: string };
    return eventually(
      `workflow ${workflowId} to complete`,
      async () => {
        const body = (await (await fetch(`${orchestrator.url}/workflows/${workflowId}`)).json()) as WorkflowBody;
        if (body.status === 'failed') throw new Error(`workflow failed: ${JSON.stringify(body)}`);
        return body.status === 'completed' ? body : undefined;
      },
      60_000,
    );
  };

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await redis.connect(); // fails clearly when Redis is absent
    for (const app of ROLES) execFileSync(process.execPath, ['tools/build-app.js', app], { cwd: WORKSPACE, stdio: 'pipe' });
    await admin.ensureNamespace(env.tenant, namespace, { retention: { minutes: 60, sizeMB: 100 } });
    orchestrator = await start('orchestrator', 'orch-1');
    await Promise.all([start('aggregator', 'agg-1'), start('market-maker', 'mm-1'), start('saga-coordinator', 'saga-1'), start('worker', 'w1')]);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await admin.deleteNamespace(env.tenant, namespace, { force: true }).catch(() => undefined);
    await redis.cleanup();
  }, 120_000);

  it('serves /health on every role, on the pulsar-ws driver', async () => {
    for (const agent of agents) {
      const health = (await (await fetch(`${agent.url}/health`)).json()) as { status: string; role: string; transport: string };
      expect(health).toMatchObject({ status: 'ok', role: agent.app, transport: 'pulsar-ws' });
    }
  });

  it('completes a fan-out submitted over HTTP, aggregated like the skill itself would', async () => {
    const inputs = texts.map((text, i) => ({ id: `doc-${i}`, text }));
    const workflow = await submit('keywords', inputs);
    const skill = createDefaultSkillRegistry().require('keywords');
    const signal = new AbortController().signal;
    const outputs = await Promise.all(inputs.map(async (i) => ({ inputId: i.id, output: await skill.run(i, { signal }) })));
    expect(workflow.result).toEqual(skill.combine(outputs));
    expect(new Set(workflow.branches.map((b) => b.worker))).toEqual(new Set(['worker@w1']));
  }, 90_000);

  it('shares the tasks between two worker processes', async () => {
    await start('worker', 'w2');
    const inputs = Array.from({ length: 40 }, (_, i) => ({ id: `n-${i}`, text: `${texts[i % texts.length]} Item ${i}.` }));
    const workflow = await submit('sentiment', inputs);
    const perWorker = new Map<string, number>();
    for (const b of workflow.branches) perWorker.set(String(b.worker), (perWorker.get(String(b.worker)) ?? 0) + 1);
    expect([...perWorker.keys()].sort()).toEqual(['worker@w1', 'worker@w2']);
    expect([...perWorker.values()].reduce((a, b) => a + b, 0)).toBe(40);
  }, 90_000);

  it('stops every process cleanly on SIGTERM', async () => {
    const codes = await Promise.all(agents.map((a) => a.stop()));
    expect(codes).toEqual(agents.map(() => 0));
  }, 90_000);
});
