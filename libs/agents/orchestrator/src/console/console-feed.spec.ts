import 'reflect-metadata';
import { firstValueFrom, filter, take, toArray, type Subscription } from 'rxjs';
import { MemoryBroker, type EventBus } from '@agent-mesh/bus';
import {
  AgentHeartbeatV1,
  createMeshEventRegistry,
  DEFAULT_TOPIC_NAMING,
  envelopeProperties,
  qualifyTopic,
  Topics,
  StepStartedV1,
  type AgentHeartbeat,
} from '@agent-mesh/contracts';
import type { MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { ConsoleFeed, type ConsoleEvent } from './console-feed';

const origin = { source: 'test@1', region: 'test' };
const registry = createMeshEventRegistry();

function heartbeat(agentId: string, handled: number): AgentHeartbeat {
  return {
    agentId,
    role: 'worker',
    region: 'test',
    pid: 1,
    startedAt: '2026-12-03T07:00:00.000Z',
    at: new Date().toISOString(),
    counters: { handled, failed: 0, deadLettered: 0, inFlight: 0 },
  };
}

describe('ConsoleFeed', () => {
  const broker = new MemoryBroker();
  let bus: EventBus;
  let feed: ConsoleFeed;
  let opened: number;
  let closed: number;

  const publish = async (shortTopic: string, payload: Buffer, properties: Record<string, string>) =>
    bus.publish(qualifyTopic(DEFAULT_TOPIC_NAMING, shortTopic), { payload, properties });
  const publishHeartbeat = async (data: AgentHeartbeat) => {
    const { envelope, payload } = registry.createEncoded(AgentHeartbeatV1, data, origin, {
      correlationId: data.agentId,
    });
    await publish(Topics.agents, payload, envelopeProperties(envelope));
  };

  beforeEach(() => {
    bus = broker.connect();
    opened = 0;
    closed = 0;
    const createReader = bus.createReader.bind(bus);
    bus.createReader = async (options) => {
      const reader = await createReader(options);
      opened++;
      const close = reader.close.bind(reader);
      reader.close = async () => {
        closed++;
        await close();
      };
      return reader;
    };
    const transport = { bus, registry, naming: DEFAULT_TOPIC_NAMING, origin } as MeshTransportOptions;
    feed = new ConsoleFeed(transport);
  });
  afterEach(async () => {
    await feed.onApplicationShutdown();
    await bus.close();
  });
  afterAll(() => broker.shutdown());

  it('reads nothing while no console watches, and closes its readers when the last one leaves', async () => {
    expect(opened).toBe(0);
    const ready = (subscription: Subscription[], index: number) =>
      new Promise<void>((resolve) => {
        subscription[index] = feed.events().subscribe((event) => event.kind === 'ready' && resolve());
      });
    const watching: Subscription[] = [];
    await ready(watching, 0);
    await ready(watching, 1);
    expect(opened).toBe(3); // workflow.events, mesh.agents, mesh.stats — once for both consoles
    watching[0].unsubscribe();
    expect(closed).toBe(0);
    watching[1].unsubscribe();
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(3);
  });

  it('streams each workflow event as a change of its workflow, from the message properties', async () => {
    const events = firstValueFrom(
      feed.events().pipe(
        filter((e) => e.kind !== 'ready'),
        take(1),
      ),
    );
    await firstValueFrom(feed.events().pipe(filter((e) => e.kind === 'ready')));
    const { envelope, payload } = registry.createEncoded(
      StepStartedV1,
      { stepPath: 'root', kind: 'task', attempt: 1 },
      origin,
      {
        correlationId: '01a23ad8-bbb9-7611-85ba-6568e0f6f6da',
      },
    );
    await publish(Topics.workflowEvents, payload, envelopeProperties(envelope));
    expect(await events).toMatchObject({
      kind: 'workflow',
      workflowId: '01a23ad8-bbb9-7611-85ba-6568e0f6f6da',
      type: 'step.started',
      source: 'test@1',
    });
  });

  it('gives a console that joins later the latest heartbeat of each agent at once', async () => {
    const first = feed.events().subscribe();
    await firstValueFrom(feed.events().pipe(filter((e) => e.kind === 'ready')));
    const seen = firstValueFrom(
      feed.events().pipe(
        filter((e) => e.kind === 'agent'),
        take(3),
        toArray(),
      ),
    );
    await publishHeartbeat(heartbeat('worker@a', 1));
    await publishHeartbeat(heartbeat('worker@a', 5));
    await publishHeartbeat(heartbeat('worker@b', 2));
    await seen;
    const late = await firstValueFrom(
      feed.events().pipe(
        filter((e): e is Extract<ConsoleEvent, { kind: 'agent' }> => e.kind === 'agent'),
        take(2),
        toArray(),
      ),
    );
    expect(late.map((e) => [e.heartbeat.agentId, e.heartbeat.counters.handled])).toEqual([
      ['worker@a', 5],
      ['worker@b', 2],
    ]);
    first.unsubscribe();
  });

  it('passes over a message on mesh.agents that is not a valid heartbeat', async () => {
    const agents = firstValueFrom(
      feed.events().pipe(
        filter((e) => e.kind === 'agent'),
        take(1),
      ),
    );
    await firstValueFrom(feed.events().pipe(filter((e) => e.kind === 'ready')));
    await publish(Topics.agents, Buffer.from('{not json'), { 'mesh.event-type': 'agent.heartbeat' });
    await publishHeartbeat(heartbeat('worker@ok', 3));
    expect(await agents).toMatchObject({ kind: 'agent', heartbeat: { agentId: 'worker@ok' } });
  });
});
