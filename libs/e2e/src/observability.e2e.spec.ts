import { Topics, type AgentHeartbeat, type BrokerStats, type EventEnvelope } from '@agent-mesh/contracts';
import { eventually, InProcessMesh, startAgents, WorkflowClient, type AgentProcess } from '@agent-mesh/testing';
import { httpGet as get, sample, scrape } from './support/scrape';

/*
 * Observability on the memory bus: every role's /metrics, /health/live and /health/ready, the
 * heartbeats on mesh.agents and the orchestrator's broker stats on mesh.stats.
 */

const ROLES = ['orchestrator', 'aggregator', 'worker', 'market-maker', 'saga-coordinator'] as const;
const FAST = { MESH_HEARTBEAT_MS: '200', MESH_STATS_MS: '200' };
const documents = [
  { id: 'a', text: 'Tides rise and fall with the moon; fishermen watch the tide tables.' },
  { id: 'b', text: 'Apple trees want pruning in winter for larger apples.' },
  { id: 'c', text: 'The library opened downtown with quiet reading rooms.' },
];

async function events<T>(mesh: InProcessMesh, topic: string): Promise<EventEnvelope<T>[]> {
  return (await mesh.readAll(topic)).map((m) => JSON.parse(m.payload.toString('utf8')) as EventEnvelope<T>);
}

describe('observability (memory bus)', () => {
  let mesh: InProcessMesh;
  let agents: AgentProcess[];
  let client: WorkflowClient;
  const agent = (role: string) => agents.find((a) => a.role === role)!;

  beforeEach(async () => {
    mesh = new InProcessMesh();
    agents = await startAgents(mesh, ROLES, () => ({ env: FAST }));
    client = new WorkflowClient(agent('orchestrator').url);
  });

  afterEach(() => mesh.stopAll());

  it("serves every role's series on /metrics in Prometheus' text format", async () => {
    const workflow = await client.run({ skill: 'keywords', inputs: documents });
    expect(workflow.status).toBe('completed');
    for (const { role, url } of agents) {
      const { status, text, type } = await get(`${url}/metrics`);
      expect([role, status, type]).toEqual([role, 200, expect.stringContaining('text/plain')]);
      for (const series of [
        '# TYPE mesh_messages_total counter',
        '# TYPE mesh_handler_duration_seconds histogram',
        '# TYPE mesh_in_flight gauge',
        '# TYPE mesh_publish_duration_seconds histogram',
        '# TYPE mesh_skill_duration_seconds histogram',
        '# TYPE mesh_workflows gauge',
        '# TYPE mesh_subscription_backlog gauge',
        '# TYPE mesh_dead_letters gauge',
        '# TYPE process_cpu_user_seconds_total counter', // Node's defaults
        '# TYPE nodejs_eventloop_lag_seconds gauge',
      ])
        expect([role, text.includes(series)]).toEqual([role, true]);
      expect([role, sample(text, 'mesh_in_flight', { role })]).toEqual([role, 0]);
      // Every process publishes (heartbeats at least), so every one has a publish time.
      expect([
        role,
        sample(text, 'mesh_publish_duration_seconds_count', { topic: Topics.agents, outcome: 'ok' }),
      ]).toEqual([role, expect.any(Number)]);
    }
    const worker = (await get(`${agent('worker').url}/metrics`)).text;
    expect(sample(worker, 'mesh_skill_duration_seconds_count', { skill: 'keywords', outcome: 'ok' })).toBe(3);
    expect(
      sample(worker, 'mesh_messages_total', {
        topic: 'tasks.keywords',
        subscription: 'workers',
        type: 'task.assigned',
        outcome: 'acked',
      }),
    ).toBe(3);
    expect(sample(worker, 'mesh_handler_duration_seconds_count', { type: 'task.assigned' })).toBe(3);

    const orchestrator = (await get(`${agent('orchestrator').url}/metrics`)).text;
    expect(sample(orchestrator, 'mesh_workflows', { status: 'completed' })).toBe(1);
    expect(sample(orchestrator, 'mesh_workflows', { status: 'running' })).toBe(0);
    // The sampling role's gauges, set by its broker stats.
    const workers = { topic: 'tasks.keywords', subscription: 'workers' };
    await eventually('a broker sample in the orchestrator', async () =>
      (await scrape(agent('orchestrator').url, 'mesh_subscription_backlog', workers)) === 0 ? true : undefined,
    );
    expect(sample(orchestrator, 'mesh_dead_letters')).toBe(0);
    // Only the sampling role samples.
    expect(sample(worker, 'mesh_subscription_backlog', { topic: 'tasks.keywords' })).toBeUndefined();
  });

  it('publishes a heartbeat from every agent on mesh.agents, with what it handled', async () => {
    await client.run({ skill: 'keywords', inputs: documents });
    const latest = await eventually('heartbeats from every role, the worker having handled its 3 tasks', async () => {
      const beats = new Map<string, AgentHeartbeat>();
      for (const e of await events<AgentHeartbeat>(mesh, Topics.agents)) beats.set(e.data.role, e.data);
      return ROLES.every((r) => beats.has(r)) && (beats.get('worker')?.counters.handled ?? 0) >= 3 ? beats : undefined;
    });
    const worker = latest.get('worker')!;
    expect(worker).toMatchObject({
      agentId: `worker@${agent('worker').transport.origin.source.split('@')[1]}`,
      region: 'test',
      pid: process.pid,
      skills: expect.arrayContaining(['keywords']),
      counters: { failed: 0, deadLettered: 0, inFlight: 0 },
    });
    expect(worker.byType).toContainEqual({ type: 'task.assigned', handled: 3, failed: 0, deadLettered: 0 });
    expect(Date.parse(worker.at)).toBeGreaterThanOrEqual(Date.parse(worker.startedAt));
    expect(latest.get('orchestrator')!.skills).toBeUndefined();
  });

  it('publishes broker stats from the orchestrator only; the backlog of tasks.<skill> rises while no worker runs and falls when one is back', async () => {
    await agent('worker').stop();
    const id = await client.submit({ skill: 'keywords', inputs: documents });
    const backlog = () =>
      scrape(agent('orchestrator').url, 'mesh_subscription_backlog', {
        topic: 'tasks.keywords',
        subscription: 'workers',
      });
    await eventually('a backlog of 3 tasks', async () => ((await backlog()) === 3 ? true : undefined));
    const stats = (await events<BrokerStats>(mesh, Topics.stats)).map((e) => e.data);
    expect(stats.at(-1)).toMatchObject({ broker: 'memory', deadLetters: 0 });
    expect(stats.at(-1)!.subscriptions).toContainEqual(
      expect.objectContaining({ topic: 'tasks.keywords', subscription: 'workers', backlog: 3, consumers: 0 }),
    );
    expect(
      await scrape(agent('orchestrator').url, 'mesh_subscription_consumers', {
        topic: 'tasks.keywords',
        subscription: 'workers',
      }),
    ).toBe(0);
    const sources = new Set((await events<BrokerStats>(mesh, Topics.stats)).map((e) => e.source.split('@')[0]));
    expect([...sources]).toEqual(['orchestrator']);

    agents.push(...(await startAgents(mesh, ['worker'], () => ({ env: FAST }))));
    expect((await client.finished(id)).status).toBe('completed');
    await eventually('the backlog drained', async () => ((await backlog()) === 0 ? true : undefined));
  });

  it('opens /metrics and the probes without a key where MESH_API_KEYS guards the rest', async () => {
    const [guarded] = await startAgents(mesh, [
      { role: 'worker', env: { ...FAST, MESH_API_KEYS: 'a-key-of-sixteen-chars' } },
    ]);
    for (const path of ['/metrics', '/health/live', '/health/ready', '/health'])
      expect([path, (await get(`${guarded.url}${path}`)).status]).toEqual([path, 200]);
    expect((await get(`${guarded.url}/workflows`)).status).toBe(401);
  });

  it('answers /health/live and /health/ready, and ready 503 naming the bus once it is disconnected', async () => {
    const worker = agent('worker');
    expect(await get(`${worker.url}/health/live`)).toMatchObject({ status: 200 });
    const ready = await get(`${worker.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({
      status: 'ok',
      info: { bus: { status: 'up', driver: 'memory' }, state: { status: 'up', driver: 'memory' } },
    });
    expect((await get(`${worker.url}/health`)).status).toBe(200); // as before

    await worker.transport.bus.close();
    const notReady = await get(`${worker.url}/health/ready`);
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.text)).toMatchObject({
      status: 'error',
      error: { bus: { status: 'down', connection: 'disconnected' } },
      info: { state: { status: 'up' } },
    });
    expect((await get(`${worker.url}/health/live`)).status).toBe(200);
  });
});
