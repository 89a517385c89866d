import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { PulsarWsEventBus } from '@agent-mesh/bus';
import { qualifyTopic, Topics, type AgentHeartbeat, type BrokerStats, type EventEnvelope } from '@agent-mesh/contracts';
import {
  eventually,
  InProcessMesh,
  PulsarNamespace,
  startAgents,
  WORKFLOW_ROLES,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';
import { httpGet, scrape } from './support/scrape';

/*
 * Metrics, heartbeats and broker stats on the real broker (pulsar-ws): the orchestrator samples
 * the admin API, so the backlog of tasks.<skill> it reports is Pulsar's own figure.
 */

const FAST = { MESH_HEARTBEAT_MS: '300', MESH_STATS_MS: '300' };
const WORKERS = { topic: 'tasks.keywords', subscription: 'workers' };
const documents = ['north', 'south', 'east', 'west'].map((id) => ({ id, text: `The ${id} wind carried rain.` }));

describeWithPulsar('observability on a real Pulsar broker (pulsar-ws)', (env) => {
  const namespace = new PulsarNamespace(env, 'observability');
  const mesh = new InProcessMesh();
  const agents: AgentProcess[] = [];
  let client: WorkflowClient;
  let reading: PulsarWsEventBus;
  const agentEnv = () => ({ env: { ...namespace.meshEnv(), PULSAR_SERVICE_URL: '', ...FAST } });

  /** Every event on a topic of the namespace so far (a Reader from earliest). */
  async function events<T>(topic: string): Promise<EventEnvelope<T>[]> {
    const reader = await reading.createReader({
      topic: qualifyTopic(namespace.naming, topic),
      startMessageId: 'earliest',
    });
    const out: EventEnvelope<T>[] = [];
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(2000);
        if (message) out.push(JSON.parse(message.payload.toString('utf8')) as EventEnvelope<T>);
      }
    } finally {
      await reader.close();
    }
    return out;
  }

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
    reading = new PulsarWsEventBus({ webUrl: env.webUrl });
    agents.push(...(await startAgents(mesh, WORKFLOW_ROLES, agentEnv)));
    client = new WorkflowClient(agents[0].url, { timeoutMs: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await reading?.close();
    await mesh.stopAll();
    await namespace.delete();
  }, 60_000);

  it('serves the series on every role, and ready 200 with the bus connected', async () => {
    const workflow = await client.run({ skill: 'keywords', inputs: documents });
    expect(workflow.status).toBe('completed');
    for (const { role, url } of agents) {
      const ready = await httpGet(`${url}/health/ready`);
      expect([role, ready.status, JSON.parse(ready.text).info.bus]).toEqual([
        role,
        200,
        { status: 'up', driver: 'pulsar-ws', connection: 'connected' },
      ]);
      expect([role, await scrape(url, 'mesh_in_flight')]).toEqual([role, 0]);
      expect([role, await scrape(url, 'mesh_publish_duration_seconds_count', { topic: Topics.agents })]).toEqual([
        role,
        expect.any(Number),
      ]);
    }
    const handled = await Promise.all(
      agents
        .filter((a) => a.role === 'worker')
        .map((a) => scrape(a.url, 'mesh_messages_total', { ...WORKERS, type: 'task.assigned', outcome: 'acked' })),
    );
    expect(handled.reduce((sum, n) => (sum ?? 0) + (n ?? 0), 0)).toBe(documents.length);
    expect(await scrape(agents[0].url, 'mesh_workflows', { status: 'completed' })).toBe(1);
  });

  it('reports the backlog of tasks.<skill> rising while the workers are stopped and falling when one returns', async () => {
    const orchestrator = agents[0].url;
    const backlog = () => scrape(orchestrator, 'mesh_subscription_backlog', WORKERS);
    await eventually('a sample with no backlog', async () => ((await backlog()) === 0 ? true : undefined));

    for (const worker of agents.filter((a) => a.role === 'worker')) await worker.stop();
    const id = await client.submit({ skill: 'keywords', inputs: documents });
    await eventually(
      'the backlog of the 4 tasks',
      async () => ((await backlog()) === documents.length ? true : undefined),
      30_000,
    );
    const stats = (await events<BrokerStats>(Topics.stats)).map((e) => e.data);
    expect(stats.at(-1)).toMatchObject({ broker: 'pulsar', deadLetters: 0 });
    expect(stats.at(-1)!.subscriptions).toContainEqual(
      expect.objectContaining({ ...WORKERS, backlog: documents.length, consumers: 0 }),
    );

    agents.push(...(await startAgents(mesh, ['worker'], agentEnv)));
    expect((await client.finished(id)).status).toBe('completed');
    await eventually('the backlog drained', async () => ((await backlog()) === 0 ? true : undefined), 30_000);
  });

  it('keeps mesh.agents and mesh.stats an hour, whatever the namespace keeps', async () => {
    for (const topic of [Topics.agents, Topics.stats]) {
      const retention = await eventually(
        `the retention of ${topic}`,
        async () => (await namespace.admin.getTopicRetention(qualifyTopic(namespace.naming, topic))) ?? undefined,
      );
      expect([topic, retention]).toEqual([topic, { minutes: 60, sizeMB: -1 }]);
    }
  });

  it('carries every agent heartbeat on mesh.agents', async () => {
    const roles = await eventually('heartbeats from the orchestrator, the aggregator and a worker', async () => {
      const seen = new Set((await events<AgentHeartbeat>(Topics.agents)).map((e) => e.data.role));
      return ['orchestrator', 'aggregator', 'worker'].every((r) => seen.has(r)) ? seen : undefined;
    });
    expect([...roles].sort()).toEqual(['aggregator', 'orchestrator', 'worker']);
  });
});
