import { Controller, type INestApplication } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { MemoryBroker, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  NonRetryableError,
  qualifyTopic,
  TaskAssignedV1,
  Topics,
  type AgentHeartbeat,
  type EventEnvelope,
  type TaskAssigned,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { MeshPublisher, MeshTransportModule, MeshTransportServer, OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { BrokerStatsSampler, replicationDirections } from './broker-stats.sampler';
import { HeartbeatPublisher } from './heartbeat';
import { MeshMetrics } from './mesh-metrics';
import { MeshMetricsModule } from './mesh-metrics.module';
import type { MeshMetricsOptions } from './options';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const TOPIC = 'tasks.metrics-test';

/** Succeeds for input `ok`, fails for `flaky` (retryable, twice: retried then dead-lettered) and `bad` (not retryable). */
@Controller()
class Handlers {
  @OnMeshEvent(TaskAssignedV1, {
    topic: TOPIC,
    subscription: 'metrics',
    retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10, jitter: 0 },
  })
  handle(@Payload() event: EventEnvelope<TaskAssigned>): void {
    if (event.data.input.id === 'flaky') throw new Error('try again');
    if (event.data.input.id === 'bad') throw new NonRetryableError('never');
  }
}

const options: MeshMetricsOptions = {
  role: 'worker',
  instanceId: 'w-1',
  region: 'test',
  naming,
  heartbeatMs: 0, // beats and samples are taken by hand here
  statsMs: 0,
  skills: ['keywords'],
};

function task(id: string): TaskAssigned {
  return { taskId: `wf:${id}`, branchIndex: 0, branchCount: 1, skill: 'keywords', input: { id, text: 'some text' } };
}

/** The value of one series (labels included in `labels`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('MeshMetricsModule on the memory bus', () => {
  let broker: MemoryBroker;
  let bus: EventBus;
  let app: INestApplication;
  let metrics: MeshMetrics;

  beforeEach(async () => {
    broker = new MemoryBroker();
    bus = broker.connect();
    const moduleRef = await Test.createTestingModule({
      imports: [
        MeshTransportModule.forRoot({
          bus,
          registry: createMeshEventRegistry(),
          naming,
          origin: { source: 'worker@w-1', region: 'test' },
        }),
        MeshMetricsModule.forRootAsync({ useFactory: () => options }),
      ],
      controllers: [Handlers],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice({ strategy: app.get(MeshTransportServer) });
    await app.startAllMicroservices();
    await app.init();
    metrics = app.get(MeshMetrics);
  });

  afterEach(async () => {
    await app.close();
    broker.shutdown();
  });

  async function publishAll(): Promise<void> {
    const publisher = app.get(MeshPublisher);
    for (const id of ['ok', 'flaky', 'bad'])
      await publisher.publish(TOPIC, TaskAssignedV1, task(id), { correlationId: 'wf' });
    await bus.publish(qualifyTopic(naming, TOPIC), { payload: 'not json' });
    await waitFor('every message settled', async () => {
      const text = await metrics.text();
      return sample(text, 'mesh_messages_total', { type: 'task.assigned', outcome: 'dead_lettered' }) === 2;
    });
  }

  it('counts each message by outcome, times handlers and publishes, labels every series with the agent', async () => {
    await publishAll();
    const text = await metrics.text();
    const where = { topic: TOPIC, subscription: 'metrics', type: 'task.assigned' };
    expect(sample(text, 'mesh_messages_total', { ...where, outcome: 'acked' })).toBe(1);
    expect(sample(text, 'mesh_messages_total', { ...where, outcome: 'retried' })).toBe(1);
    expect(sample(text, 'mesh_messages_total', { ...where, outcome: 'dead_lettered' })).toBe(2);
    expect(sample(text, 'mesh_messages_total', { topic: TOPIC, type: 'undecodable', outcome: 'dead_lettered' })).toBe(
      1,
    );
    // ok, flaky twice, bad: four handler runs; the undecodable one never reached a handler.
    expect(sample(text, 'mesh_handler_duration_seconds_count', { type: 'task.assigned' })).toBe(4);
    expect(sample(text, 'mesh_publish_duration_seconds_count', { topic: TOPIC, outcome: 'ok' })).toBe(3);
    expect(sample(text, 'mesh_in_flight', { role: 'worker', agent: 'worker@w-1', region: 'test' })).toBe(0);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it("puts the same in the agent's heartbeat, and publishes it on mesh.agents", async () => {
    await publishAll();
    const heartbeats = app.get(HeartbeatPublisher);
    expect(heartbeats.heartbeat()).toMatchObject({
      agentId: 'worker@w-1',
      role: 'worker',
      region: 'test',
      pid: process.pid,
      skills: ['keywords'],
      counters: { handled: 1, failed: 3, deadLettered: 3, inFlight: 0 },
      byType: [
        { type: 'task.assigned', handled: 1, failed: 3, deadLettered: 2 },
        { type: 'undecodable', handled: 0, failed: 0, deadLettered: 1 },
      ],
    });
    const reader = await bus.createReader({ topic: qualifyTopic(naming, Topics.agents), startMessageId: 'earliest' });
    heartbeats.onApplicationBootstrap(); // heartbeatMs 0: publishes nothing by itself
    expect(await reader.hasMessageAvailable()).toBe(false);
    await heartbeats.publish();
    const beat = JSON.parse((await reader.readNext(1000))!.payload.toString()) as EventEnvelope<AgentHeartbeat>;
    expect(beat).toMatchObject({
      type: 'agent.heartbeat',
      version: 1,
      source: 'worker@w-1',
      data: { agentId: 'worker@w-1' },
    });
    await reader.close();
  });

  it('samples the memory broker: backlog per subscription, dead letters, delivery rate; gauges and mesh.stats follow', async () => {
    const sampler = app.get(BrokerStatsSampler);
    const first = await sampler.sampleAndPublish();
    await publishAll();
    const second = (await sampler.sampleAndPublish())!;
    expect(first?.broker).toBe('memory');
    expect(second.deadLetters).toBe(3); // flaky, bad and the undecodable one wait on mesh.dlq
    const metricsSub = second.subscriptions.find((s) => s.topic === TOPIC && s.subscription === 'metrics');
    expect(metricsSub).toMatchObject({ backlog: 0, consumers: 1 });
    expect(metricsSub!.msgRateOut).toBeGreaterThan(0);
    expect(second.subscriptions).toContainEqual(
      expect.objectContaining({ topic: Topics.deadLetter, subscription: 'mesh-dlq', backlog: 3 }),
    );
    const text = await metrics.text();
    expect(sample(text, 'mesh_dead_letters')).toBe(3);
    expect(sample(text, 'mesh_subscription_backlog', { topic: Topics.deadLetter, subscription: 'mesh-dlq' })).toBe(3);
    const reader = await bus.createReader({ topic: qualifyTopic(naming, Topics.stats), startMessageId: 'earliest' });
    const published: unknown[] = [];
    while (await reader.hasMessageAvailable())
      published.push(JSON.parse((await reader.readNext(1000))!.payload.toString()));
    await reader.close();
    expect(published).toHaveLength(2);
    expect(published[1]).toMatchObject({ type: 'broker.stats', data: { deadLetters: 3 } });
  });

  it('shows mesh_workflows from the source the orchestrator gives, read on each scrape', async () => {
    let running = 2;
    metrics.countWorkflowsWith(async () => ({ running, completed: 5 }));
    expect(sample(await metrics.text(), 'mesh_workflows', { status: 'running' })).toBe(2);
    running = 0;
    const text = await metrics.text();
    expect([
      sample(text, 'mesh_workflows', { status: 'running' }),
      sample(text, 'mesh_workflows', { status: 'completed' }),
    ]).toEqual([0, 5]);
  });

  it('shows geo-replication per topic and direction; a topic gone drops out; the health view sums each direction', async () => {
    const row = (topic: string, to: string, backlog: number, delaySeconds: number, connected: boolean) => ({
      topic: `persistent://agentmesh/mesh/${topic}`,
      from: 'us-east',
      to,
      backlog,
      msgRateOut: 0,
      delaySeconds,
      connected,
    });
    metrics.replicationSampled([
      row('workflow.events', 'eu-west', 30, 12, false),
      row('task.results', 'eu-west', 0, 0, true),
    ]);
    let text = await metrics.text();
    const events = { topic: 'workflow.events', from: 'us-east', to: 'eu-west' };
    expect([
      sample(text, 'mesh_geo_replication_backlog', events),
      sample(text, 'mesh_geo_replication_delay_seconds', events),
      sample(text, 'mesh_geo_replication_connected', events),
      sample(text, 'mesh_geo_replication_connected', { topic: 'task.results' }),
    ]).toEqual([30, 12, 0, 1]);
    metrics.replicationSampled([row('task.results', 'eu-west', 0, 0, true)]);
    text = await metrics.text();
    expect(sample(text, 'mesh_geo_replication_backlog', events)).toBeUndefined();

    expect(
      replicationDirections([
        row('workflow.events', 'eu-west', 30, 12, false),
        row('task.results', 'eu-west', 5, 3, true),
        row('workflow.events', 'ap-south', 0, 0, true),
      ]),
    ).toEqual([
      { from: 'us-east', to: 'ap-south', backlog: 0, delaySeconds: 0, connected: true, topics: 1 },
      { from: 'us-east', to: 'eu-west', backlog: 35, delaySeconds: 12, connected: false, topics: 2 },
    ]);
  });
});
