import { PulsarWsEventBus } from '@agent-mesh/bus';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import {
  AgentHeartbeatV1,
  BrokerStatsV1,
  createMeshEventRegistry,
  envelopeProperties,
  qualifyTopic,
  Topics,
  type AgentHeartbeat,
  type EventDefinition,
} from '@agent-mesh/contracts';
import {
  eventually,
  InProcessMesh,
  PulsarNamespace,
  RedisFixture,
  startAgents,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';
import { FollowingMeshProcess } from './support/mesh-cli-process';

const ANSI = new RegExp(String.fromCharCode(27));

/*
 * `mesh tail` and `mesh top` as real CLI processes reading the real broker, while agents (in this
 * process, on the pulsar-ws driver and Redis) run workflows; each CLI is stopped with Ctrl-C
 * (SIGINT) and must exit 0. Their output is a pipe: plain lines, one per event or change.
 */
describeWithPulsar('mesh tail and top (CLI processes on the real broker)', (env) => {
  const namespace = new PulsarNamespace(env, 'cli');
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  const registry = createMeshEventRegistry();
  let agents: AgentProcess[];
  let client: WorkflowClient;
  let bus: PulsarWsEventBus;
  let cliEnv: Record<string, string>;
  const running: FollowingMeshProcess[] = [];

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
    const meshEnv = {
      ...namespace.meshEnv(),
      PULSAR_SERVICE_URL: '',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.keyPrefix,
      // no worker serves `sentiment`: a workflow of it waits until cancelled
      WORKER_SKILLS: 'keywords,summarize',
      // heartbeats and broker stats often, for mesh top
      MESH_HEARTBEAT_MS: '500',
      MESH_STATS_MS: '1000',
    };
    agents = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], () => ({ env: meshEnv }));
    client = new WorkflowClient(agents[0].url, { timeoutMs: 30_000 });
    bus = new PulsarWsEventBus({ webUrl: env.webUrl });
    cliEnv = { ...namespace.meshEnv(), PULSAR_SERVICE_URL: '', MESH_API_URL: agents[0].url };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(running.map((cli) => cli.stop('SIGKILL').catch(() => undefined)));
    await bus?.close();
    await mesh.stopAll();
    await redis.cleanup();
    await namespace.delete();
  }, 60_000);

  async function follow(...args: string[]): Promise<FollowingMeshProcess> {
    const cli = new FollowingMeshProcess(args, cliEnv);
    running.push(cli);
    await eventually(
      `mesh ${args.join(' ')} to follow its topics`,
      async () => (/^following /m.test(cli.stderr) ? true : undefined),
      30_000,
    );
    return cli;
  }

  it("tail shows workflows' events as they flow, from workflow and task topics; --workflow only that one's", async () => {
    const parked = await client.submit({
      step: { kind: 'task', skill: 'sentiment', input: { id: 'p', text: 'calm' } },
    });
    const all = await follow('tail');
    const one = await follow('tail', '--workflow', parked);

    const done = await client.run<{ id: string; status: string }>({
      skill: 'keywords',
      inputs: [{ id: 'a', text: 'Bees visit flowers. Flowers feed bees.' }],
    });
    expect(done.status).toBe('completed');
    expect((await client.cancel(parked, 'the test is over')).status).toBe(202);
    expect((await client.finished(parked)).status).toBe('cancelled');
    await eventually(
      'both tails to show the ends',
      async () =>
        all.stdout.includes(`workflow.completed  ${done.id}`) && one.stdout.includes(`workflow.cancelled  ${parked}`)
          ? true
          : undefined,
      30_000,
    );
    const [allRun, oneRun] = await Promise.all([all.stop(), one.stop()]);
    expect(allRun.code).toBe(0);
    expect(oneRun.code).toBe(0);

    const time = String.raw`\d\d:\d\d:\d\d\.\d{3}`;
    const line = (topic: string, type: string, id: string) => new RegExp(`^${time}  ${topic}  ${type}  ${id}  `, 'm');
    expect(allRun.stdout).toMatch(line('workflow\\.events', 'workflow\\.submitted', done.id));
    expect(allRun.stdout).toMatch(line('tasks\\.keywords', 'task\\.assigned', done.id));
    expect(allRun.stdout).toMatch(line('task\\.results', 'task\\.completed', done.id));
    expect(allRun.stdout).toMatch(line('workflow\\.events', 'workflow\\.completed', done.id));
    expect(allRun.stdout).not.toMatch(ANSI);

    const lines = oneRun.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const shown of lines) expect(shown).toContain(`  ${parked}  `);
    expect(oneRun.stdout).toMatch(line('workflow\\.events', 'workflow\\.cancelled', parked));
  }, 120_000);

  it('top shows the agents from their heartbeats, their rate, and the backlog from the broker stats (given, and the running agents’ own)', async () => {
    const top = await follow('top');
    const started = new Date(Date.now() - 60_000).toISOString();
    const beat = (agentId: string, role: string, at: number, handled: number): AgentHeartbeat => ({
      agentId,
      role,
      region: 'test',
      pid: 4242,
      startedAt: started,
      at: new Date(at).toISOString(),
      counters: { handled, failed: 1, deadLettered: 0, inFlight: 2 },
      skills: role === 'worker' ? ['keywords'] : undefined,
    });
    const now = Date.now();
    await publish(AgentHeartbeatV1, Topics.agents, beat('worker@w-1', 'worker', now - 2000, 10), 'worker@w-1');
    await publish(
      AgentHeartbeatV1,
      Topics.agents,
      beat('orchestrator@o-1', 'orchestrator', now, 5),
      'orchestrator@o-1',
    );
    await publish(AgentHeartbeatV1, Topics.agents, beat('worker@w-1', 'worker', now, 50), 'worker@w-1');
    await publish(
      BrokerStatsV1,
      Topics.stats,
      {
        at: new Date(now).toISOString(),
        broker: 'pulsar',
        subscriptions: [
          { topic: 'tasks.keywords', subscription: 'workers', backlog: 7, msgRateOut: 3.5, consumers: 2 },
        ],
        deadLetters: 3,
      },
      'stats',
    );
    await eventually(
      'top to show the second heartbeat and the stats',
      async () => (/dead letters 3/.test(top.stdout) && /20\.0/.test(top.stdout) ? true : undefined),
      30_000,
    );
    // and the agents running here, from their own heartbeats and the orchestrator's stats
    await eventually(
      "top to show the running agents' own heartbeats",
      async () =>
        /^agent orchestrator@orchestrator-1 +orchestrator /m.test(top.stdout) &&
        /^agent worker@worker-3 +worker .* {2}skills keywords,summarize$/m.test(top.stdout) &&
        /^backlog tasks\.keywords \(workers\) +0 /m.test(top.stdout)
          ? true
          : undefined,
      30_000,
    );
    const run = await top.stop();
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(ANSI);
    // one line per change: the worker's first heartbeat (no rate yet), then its second (40 handled in 2 s)
    expect(run.stdout).toMatch(/^agent worker@w-1 +worker +test +10 +- +1 +0 +2 {2}skills keywords$/m);
    expect(run.stdout).toMatch(/^agent worker@w-1 +worker +test +50 +20\.0 +1 +0 +2 {2}skills keywords$/m);
    expect(run.stdout).toMatch(/^agent orchestrator@o-1 +orchestrator +test +5 +- +1 +0 +2$/m);
    expect(run.stdout).toMatch(/^backlog tasks\.keywords \(workers\) +7 +3\.5 +2$/m);
    expect(run.stdout).toMatch(/^dead letters 3$/m);
    expect(run.stdout.match(/^agent orchestrator@o-1 /gm)).toHaveLength(1);
  }, 120_000);

  async function publish<T extends object>(
    definition: EventDefinition<T>,
    topic: string,
    data: T,
    key: string,
  ): Promise<void> {
    const { envelope, payload } = registry.createEncoded(
      definition,
      data,
      { source: key, region: 'test' },
      { correlationId: key },
    );
    await bus.publish(qualifyTopic(namespace.naming, topic), {
      payload,
      key,
      properties: envelopeProperties(envelope),
    });
  }
});
