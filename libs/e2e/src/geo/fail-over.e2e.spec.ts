import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventBus, SubscribeOptions } from '@agent-mesh/bus';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { createMeshEventRegistry, FanOutCompletedV1, Topics, uuidv7, WorkflowSubmittedV1 } from '@agent-mesh/contracts';
import { MeshPublisher } from '@agent-mesh/nest-pulsar';
import { adoptRegion, GeoAdminModule, WorkflowLogReaderModule } from '@agent-mesh/replay';
import { createDefaultSkillRegistry, SkillRegistry, type Skill } from '@agent-mesh/skills';
import { MemoryStateStore, type StateStore } from '@agent-mesh/state';
import { eventually, InProcessMesh, startAgents, WorkflowClient, type AgentProcess } from '@agent-mesh/testing';

/*
 * Fail-over and fail-back (docs/geo.md) on the memory bus: one memory broker stands for the
 * replicated log, each region has subscriptions of its own (as on two clusters) and one state
 * store for its roles (its Redis). us-east runs a fan-out and is lost with two of its three tasks
 * unfinished; eu-west adopts its workflows (adoptRegion: rebuild from the log, region.adopted,
 * re-issue what was outstanding) and finishes it, each task's effect once by task id. us-east
 * comes back: it never runs the adopted workflow again and homes new workflows at its next epoch.
 */

type Region = 'us-east' | 'eu-west';
const GEO = { MESH_GEO_PEER_WEB_URLS: 'http://127.0.0.1:1' };

function inRegion(region: Region): (bus: EventBus) => EventBus {
  return (bus) =>
    Object.assign(Object.create(bus) as EventBus, {
      subscribe: (options: SubscribeOptions, listener: Parameters<EventBus['subscribe']>[1]) =>
        bus.subscribe({ ...options, subscription: `${options.subscription}.${region}` }, listener),
    });
}

/** How a region's agents start: its region and geo settings, its own subscriptions and state store, the ledger's skills. */
function regionAgent(
  region: Region,
  state: StateStore,
  effects: Effects,
  {
    stall = () => false,
    wrapBus = inRegion(region),
    env = {},
  }: {
    stall?: (inputId: string) => boolean;
    wrapBus?: (bus: EventBus) => EventBus;
    env?: Record<string, string>;
  } = {},
) {
  return () => ({
    env: { MESH_REGION: region, ...GEO, ...env },
    wrapBus,
    stateStore: shared(state),
    skills: ledgerSkills(region, effects, stall),
  });
}

/** What `mesh geo fail-over --lost us-east` does in eu-west, on the memory mesh and eu-west's store. */
function eastAdoptedByWest(mesh: InProcessMesh, westState: StateStore): ReturnType<typeof adoptRegion> {
  return adoptRegion({
    bus: mesh.broker.connect(),
    state: westState,
    naming: mesh.naming,
    lost: 'us-east',
    adoptedBy: 'eu-west',
    requestedBy: 'test',
  });
}

/** A state store the region's processes share, closed by none of them (the region's Redis). */
function shared(store: StateStore): StateStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return async () => undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The effect ledger: task id → the regions whose skill run finished (an effect applied). */
type Effects = Map<string, Region[]>;

/** `keywords`, its effect recorded by task id; `stall` inputs never finish (the region is lost meanwhile). */
function ledgerSkills(region: Region, effects: Effects, stall: (inputId: string) => boolean): SkillRegistry {
  const keywords = createDefaultSkillRegistry().require('keywords');
  const recorded: Skill = {
    ...keywords,
    run: async (input, context) => {
      // Stalls until the worker gives up (its process is killed first).
      if (stall(input.id))
        await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason)));
      const output = await keywords.run(input, context);
      const taskId = context.taskId ?? `no task id: ${input.id}`;
      effects.set(taskId, [...(effects.get(taskId) ?? []), region]);
      return output;
    },
    combine: (outputs) => keywords.combine(outputs),
  };
  return new SkillRegistry([
    ...createDefaultSkillRegistry()
      .list()
      .filter((s) => s.name !== 'keywords'),
    recorded,
  ]);
}

describe('fail-over and fail-back between two regions (memory bus)', () => {
  const mesh = new InProcessMesh();
  const effects: Effects = new Map();
  const stores = { 'us-east': new MemoryStateStore(), 'eu-west': new MemoryStateStore() };

  const startRegion = (region: Region, stall: (inputId: string) => boolean = () => false) =>
    startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker'],
      regionAgent(region, stores[region], effects, { stall }),
    );

  afterAll(() => mesh.stopAll());

  it('eu-west adopts us-east’s running workflow and finishes it; us-east, back, leaves it and takes new work', async () => {
    const east = await startRegion('us-east', (id) => id !== 'doc-1');
    const west = await startRegion('eu-west');
    const eastClient = new WorkflowClient((east[0] as AgentProcess).url);
    const westClient = new WorkflowClient((west[0] as AgentProcess).url);

    const id = await eastClient.submit({
      name: 'lost half-way',
      step: {
        kind: 'fan-out',
        skill: 'keywords',
        inputs: [1, 2, 3].map((n) => ({ id: `doc-${n}`, text: `document number ${n} of the lost region` })),
      },
    });
    await eventually('us-east finished doc-1', async () => (effects.size === 1 ? true : undefined));
    // us-east is lost: its agents die with two tasks under way. eu-west's agents took none of them.
    for (const agent of east) await agent.crash();
    expect((await westClient.request('GET', `/workflows/${id}`)).status).toBe(404);

    const report = await eastAdoptedByWest(mesh, stores['eu-west']);
    expect(report).toMatchObject({ home: 'us-east', workflows: [id], reissuedTasks: 2 });

    const done = await westClient.finished(id);
    expect(done.status).toBe('completed');
    // Three tasks, each effect once: one in us-east before it was lost, two in eu-west after.
    expect([...effects.values()].map((regions) => regions.join()).sort()).toEqual(['eu-west', 'eu-west', 'us-east']);

    // us-east comes back (its subscriptions still hold the two tasks it never acked); its orchestrator
    // reads the log for workflows it does not run (as the apps do in a geo set).
    const back = [
      await mesh.start({
        role: 'orchestrator',
        modules: [OrchestratorModule, WorkflowLogReaderModule],
        env: { MESH_REGION: 'us-east', ...GEO },
        wrapBus: inRegion('us-east'),
        stateStore: shared(stores['us-east']),
        skills: ledgerSkills('us-east', effects, () => false),
      }),
      ...(await startAgents(mesh, ['aggregator', 'worker'], () => ({
        env: { MESH_REGION: 'us-east', ...GEO },
        wrapBus: inRegion('us-east'),
        stateStore: shared(stores['us-east']),
        skills: ledgerSkills('us-east', effects, () => false),
      }))),
    ];
    const backClient = new WorkflowClient((back[0] as AgentProcess).url);
    // Its Redis still said "running" for the adopted workflow: it answers the adopter's truth from the log.
    const seen = await backClient.request<Record<string, unknown>>('GET', `/workflows/${id}`);
    expect(seen.status).toBe(200);
    expect(seen.json).toMatchObject({ id, status: 'completed', readOnly: true, adoptedBy: 'eu-west' });
    const fresh = await backClient.run({
      step: { kind: 'task', skill: 'keywords', input: { id: 'after', text: 'a new workflow after fail-back' } },
    });
    expect(fresh.status).toBe('completed');
    const homes = (await mesh.readAll('workflow.events'))
      .map((m) => JSON.parse(m.payload.toString()) as { correlationId: string; home?: string })
      .filter((e) => e.correlationId === fresh.id)
      .map((e) => e.home);
    expect(new Set(homes)).toEqual(new Set(['us-east#1']));
    // The adopted workflow's tasks were not run again by the region that came back.
    expect([...effects.values()].flat().sort()).toEqual(['eu-west', 'eu-west', 'us-east', 'us-east']);
    // Nor did any of its agents publish anything of it (its Redis still holds what it knew when lost).
    const backSources = new Set(back.map((agent) => agent.transport.origin.source));
    for (const topic of ['workflow.events', 'task.results', 'tasks.keywords']) {
      const published = (await mesh.readAll(topic))
        .map((m) => JSON.parse(m.payload.toString()) as { correlationId: string; source: string })
        .filter((e) => e.correlationId === id && backSources.has(e.source));
      expect(published).toEqual([]);
    }
  }, 60_000);
});

describe('fail-over with a market ask open (memory bus)', () => {
  const mesh = new InProcessMesh();
  const effects: Effects = new Map();
  const stores = { 'us-east': new MemoryStateStore(), 'eu-west': new MemoryStateStore() };
  afterAll(() => mesh.stopAll());

  it('the adoption re-issues the open ask with its ask id and deadline; eu-west’s market fills it', async () => {
    const inRegionOf = (region: Region) => regionAgent(region, stores[region], effects);
    // us-east has no market maker: its ask and its worker's bid are in the log, unmatched, when it is lost.
    const east = await startAgents(mesh, ['orchestrator', 'aggregator', 'worker'], inRegionOf('us-east'));
    const west = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker', 'market-maker'],
      inRegionOf('eu-west'),
    );
    const id = await new WorkflowClient((east[0] as AgentProcess).url).submit({
      name: 'market lost with its ask open',
      // The ask lives longer than the test: only the re-issue brings it to eu-west's bidders in time.
      step: {
        kind: 'market',
        skill: 'keywords',
        input: { id: 'm-1', text: 'market work of the lost region' },
        budget: 50,
        expireAfterMs: 300_000,
      },
    });
    const asks = async () =>
      (await mesh.readAll('market.asks')).map(
        (m) =>
          JSON.parse(m.payload.toString()) as { correlationId: string; data: { askId: string; expiresAt: number } },
      );
    await eventually('us-east published its ask', async () =>
      (await asks()).some((a) => a.correlationId === id) ? true : undefined,
    );
    const bids = async () =>
      (await mesh.readAll('market.bids')).map((m) => JSON.parse(m.payload.toString()) as { correlationId: string });
    await eventually('us-east’s worker bid for it', async () =>
      (await bids()).some((b) => b.correlationId === id) ? true : undefined,
    );
    for (const agent of east) await agent.crash();
    // eu-west's market maker has passed over the bid (not its region's) before the adoption. A bid
    // of the lost region that reaches it only after (a late replication) would win the ask for a
    // worker that is gone: the market maker has to refuse other regions' bids (docs/geo.md).
    const bidTopic = `persistent://${mesh.naming.tenant}/${mesh.naming.namespace}/market.bids`;
    await eventually('eu-west’s market maker past the bid', async () =>
      mesh.broker.backlog(bidTopic, 'market-maker.eu-west') === 0 ? true : undefined,
    );

    const report = await eastAdoptedByWest(mesh, stores['eu-west']);
    expect(report).toMatchObject({ workflows: [id], reissuedAsks: 1 });
    // A late-replicated bid of us-east's (gone) worker, far cheaper than any of eu-west's, while the
    // re-issued ask collects bids: eu-west's market maker trades with its own region only.
    const [eastBid] = (await mesh.readAll('market.bids')).filter(
      (m) => (JSON.parse(m.payload.toString()) as { correlationId: string }).correlationId === id,
    );
    const late = JSON.parse(eastBid.payload.toString()) as {
      id: string;
      region: string;
      data: Record<string, unknown>;
    };
    expect(late.region).toBe('us-east');
    await mesh.broker.connect().publish(bidTopic, {
      payload: JSON.stringify({
        ...late,
        id: randomUUID(),
        data: {
          ...late.data,
          bidId: `${String(late.data['bidId'])}-late`,
          price: 0.001,
          expiresAt: Date.now() + 60_000,
        },
      }),
      key: eastBid.key,
      properties: eastBid.properties,
    });
    const done = await new WorkflowClient((west[0] as AgentProcess).url).finished(id);
    expect(done.status).toBe('completed');
    // The same ask, published twice (us-east's, then the re-issue), with the same deadline; filled once,
    // by eu-west's worker: the rebuild did not fill it with the bid of us-east's worker, which is gone.
    const ours = (await asks()).filter((a) => a.correlationId === id);
    expect(ours).toHaveLength(2);
    expect(ours[0].data.askId).toMatch(/:ask-1$/);
    expect(new Set(ours.map((a) => `${a.data.askId} ${a.data.expiresAt}`)).size).toBe(1);
    const fills = (await mesh.readAll('market.fills'))
      .map((m) => JSON.parse(m.payload.toString()) as { correlationId: string; type: string; data: { askId: string } })
      .filter((f) => f.correlationId === id);
    expect(fills.map((f) => [f.type, f.data.askId])).toEqual([['market.fill', ours[0].data.askId]]);
    expect(JSON.stringify(fills[0].data)).not.toContain('-late');
    expect([...effects.values()].flat()).toEqual(['eu-west']);
  }, 60_000);
});

/** A region whose agents hear of adoptions `lagMs` late (a busy agent, a slow `mesh.regions` reader). */
function hearingAdoptionsLate(region: Region, lagMs: number): (bus: EventBus) => EventBus {
  return (bus) => {
    const regional = inRegion(region)(bus);
    return Object.assign(Object.create(regional) as EventBus, {
      createReader: async (options: Parameters<EventBus['createReader']>[0]) => {
        const reader = await regional.createReader(options);
        if (!options.topic.endsWith('/mesh.regions')) return reader;
        return Object.assign(Object.create(reader) as typeof reader, {
          readNext: async (timeoutMs?: number) => {
            const message = await reader.readNext(timeoutMs);
            if (message) await sleep(lagMs);
            return message;
          },
        });
      },
    });
  };
}

describe('fail-over while a timer of the lost region falls due (memory bus)', () => {
  const mesh = new InProcessMesh();
  const effects: Effects = new Map();
  const stores = { 'us-east': new MemoryStateStore(), 'eu-west': new MemoryStateStore() };
  afterAll(() => mesh.stopAll());

  it('an expiry check due after the rebuild but before eu-west hears of the adoption still expires the ask', async () => {
    const setup = (region: Region, wrapBus: (bus: EventBus) => EventBus) =>
      regionAgent(region, stores[region], effects, { wrapBus });
    // us-east has no worker: its market maker records the ask and schedules its expiry check.
    const east = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'market-maker'],
      setup('us-east', inRegion('us-east')),
    );
    const west = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker', 'market-maker'],
      setup('eu-west', hearingAdoptionsLate('eu-west', 4_000)),
    );
    const id = await new WorkflowClient((east[0] as AgentProcess).url).submit({
      name: 'market lost while its expiry check is pending',
      // No bid crosses the first ask (keywords bids cost about 1): only its expiry moves the step on.
      step: {
        kind: 'market',
        skill: 'keywords',
        input: { id: 'm-3', text: 'market work of the lost region' },
        budget: 0.5,
        expireAfterMs: 1_500,
        reprice: { factor: 4, maxBudget: 10, times: 3 },
      },
    });
    await eventually('us-east’s market maker scheduled the ask’s expiry check', async () =>
      (await mesh.readAll('timers')).some(
        (m) => (JSON.parse(m.payload.toString()) as { correlationId: string }).correlationId === id,
      )
        ? true
        : undefined,
    );
    for (const agent of east) await agent.crash();
    // The rebuild leaves the check to fire live; it falls due while eu-west's agents have not heard
    // of the adoption yet, so they pass over it. The adoption publishes it again, homed in eu-west.
    const report = await eastAdoptedByWest(mesh, stores['eu-west']);
    expect(report).toMatchObject({ workflows: [id], reissuedAsks: 1 });
    expect(report.rebuild.pendingTimers.map((t) => t.message.properties?.['mesh.event-type']).sort()).toEqual([
      'market.expiry-check',
      'workflow.deadline',
    ]);
    const done = await new WorkflowClient((west[0] as AgentProcess).url).finished(id);
    expect(done.status).toBe('completed');
    const outcomes = (await mesh.readAll('market.fills'))
      .map((m) => JSON.parse(m.payload.toString()) as { correlationId: string; type: string; data: { askId: string } })
      .filter((f) => f.correlationId === id)
      .map((f) => `${f.type} ${f.data.askId.split(':').pop()}`);
    expect(outcomes).toEqual(['market.ask-expired ask-1', 'market.fill ask-2']);
    expect([...effects.values()].flat()).toEqual(['eu-west']);
  }, 60_000);
});

describe('fail-over with a market ask filled for a worker of the lost region (memory bus)', () => {
  const mesh = new InProcessMesh();
  const effects: Effects = new Map();
  const stores = { 'us-east': new MemoryStateStore(), 'eu-west': new MemoryStateStore() };
  afterAll(() => mesh.stopAll());

  it('the ask whose work has no result is re-issued and filled again in eu-west, its work done once by task id', async () => {
    const inRegionOf = (region: Region, stall: (inputId: string) => boolean) =>
      regionAgent(region, stores[region], effects, { stall });
    // us-east's market maker fills the ask for us-east's worker, which is lost before it reports the work.
    const east = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker', 'market-maker'],
      inRegionOf('us-east', () => true),
    );
    const west = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker', 'market-maker'],
      inRegionOf('eu-west', () => false),
    );
    const id = await new WorkflowClient((east[0] as AgentProcess).url).submit({
      name: 'market lost while its winner worked',
      step: {
        kind: 'market',
        skill: 'keywords',
        input: { id: 'm-2', text: 'market work of the lost region' },
        budget: 50,
        expireAfterMs: 300_000,
      },
    });
    type Fill = { correlationId: string; type: string; source: string; data: { askId: string; workerId: string } };
    const fills = async () =>
      (await mesh.readAll('market.fills'))
        .map((m) => JSON.parse(m.payload.toString()) as Fill)
        .filter((f) => f.correlationId === id);
    await eventually('us-east filled the ask', async () => ((await fills()).length === 1 ? true : undefined));
    for (const agent of east) await agent.crash();

    const report = await eastAdoptedByWest(mesh, stores['eu-west']);
    expect(report).toMatchObject({ workflows: [id], reissuedAsks: 1 });
    const done = await new WorkflowClient((west[0] as AgentProcess).url).finished(id);
    expect(done.status).toBe('completed');
    // Two fills of the one ask: us-east's (its worker gone), then eu-west's; the work done once, in eu-west.
    const both = await fills();
    expect(both.map((f) => f.data.askId)).toEqual([both[0].data.askId, both[0].data.askId]);
    expect(both.map((f) => f.source.split('@')[0])).toEqual(['market-maker', 'market-maker']);
    expect(both[0].data.workerId).not.toBe(both[1].data.workerId);
    expect([...effects.entries()]).toEqual([[`${both[0].data.askId}:fill`, ['eu-west']]]);
  }, 60_000);
});

describe('automatic fail-over on missed heartbeats (MESH_GEO_AUTO_FAILOVER_MS)', () => {
  const mesh = new InProcessMesh();
  const effects: Effects = new Map();
  const stores = { 'us-east': new MemoryStateStore(), 'eu-west': new MemoryStateStore() };
  afterAll(() => mesh.stopAll());

  it('eu-west adopts us-east once it is silent for the grace period: one of its two orchestrators, once', async () => {
    const beats = { MESH_HEARTBEAT_MS: '100' };
    const inRegionOf = (region: Region, stall: (inputId: string) => boolean) =>
      regionAgent(region, stores[region], effects, { stall, env: beats });
    const westOrchestrators = [];
    for (let n = 0; n < 2; n++)
      westOrchestrators.push(
        await mesh.start({
          ...inRegionOf('eu-west', () => false)(),
          role: 'orchestrator',
          modules: [OrchestratorModule, GeoAdminModule],
          env: { MESH_REGION: 'eu-west', ...GEO, ...beats, MESH_GEO_AUTO_FAILOVER_MS: '1000' },
        }),
      );
    await startAgents(
      mesh,
      ['aggregator', 'worker'],
      inRegionOf('eu-west', () => false),
    );
    const east = await startAgents(
      mesh,
      ['orchestrator', 'aggregator', 'worker'],
      inRegionOf('us-east', (inputId) => inputId !== 'doc-1'),
    );
    const id = await new WorkflowClient((east[0] as AgentProcess).url).submit({
      name: 'lost, adopted automatically',
      step: {
        kind: 'fan-out',
        skill: 'keywords',
        inputs: [1, 2, 3].map((n) => ({ id: `doc-${n}`, text: `document number ${n} of the lost region` })),
      },
    });
    await eventually('us-east finished doc-1', async () => (effects.size === 1 ? true : undefined));
    // Still beating: nothing adopted.
    expect(await mesh.readAll('mesh.regions')).toHaveLength(0);
    for (const agent of east) await agent.crash();

    const done = await new WorkflowClient((westOrchestrators[0] as AgentProcess).url).finished(id);
    expect(done.status).toBe('completed');
    expect([...effects.values()].map((regions) => regions.join()).sort()).toEqual(['eu-west', 'eu-west', 'us-east']);
    const adoptions = (await mesh.readAll('mesh.regions')).map(
      (m) => JSON.parse(m.payload.toString()) as { data: { region: string; adoptedBy: string; requestedBy: string } },
    );
    expect(adoptions.map((a) => a.data)).toEqual([
      {
        region: 'us-east',
        epoch: 0,
        adoptedBy: 'eu-west',
        requestedBy: expect.stringContaining('automatic fail-over'),
      },
    ]);
  }, 60_000);
});

describe('POST /admin/geo/fail-over (the orchestrator’s admin route)', () => {
  const mesh = new InProcessMesh();
  afterAll(() => mesh.stopAll());

  it('adopts the named region, refuses bad input naming the field, and a second adoption takes the next epoch', async () => {
    const orchestrator = await mesh.start({
      role: 'orchestrator',
      modules: [OrchestratorModule, GeoAdminModule],
      env: { MESH_REGION: 'eu-west', ...GEO },
    });
    const client = new WorkflowClient(orchestrator.url);
    const failOver = (body: unknown) => client.request<Record<string, unknown>>('POST', '/admin/geo/fail-over', body);
    for (const bad of [{}, { lost: 'us east' }, { lost: 'eu-west' }]) {
      const answer = await failOver(bad);
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.json)).toContain('lost');
    }
    expect(await failOver({ lost: 'us-east' })).toEqual({
      status: 200,
      json: {
        home: 'us-east',
        adoptedBy: 'eu-west',
        workflows: [],
        reissuedTasks: 0,
        reissuedAsks: 0,
        publishedOutputs: 0,
      },
    });
    expect((await failOver({ lost: 'us-east' })).json).toMatchObject({ home: 'us-east#1' });
  });
});

describe('an event of an adopted workflow that arrives before the workflow (memory bus)', () => {
  const mesh = new InProcessMesh();
  const westState = new MemoryStateStore();
  afterAll(() => mesh.stopAll());

  /** A publisher of `role` in `region`, as that region's agent publishes (what replication brings, for us-east). */
  const publisherOf = (region: Region, role: string) =>
    new MeshPublisher({
      bus: mesh.broker.connect(),
      registry: createMeshEventRegistry(),
      naming: mesh.naming,
      origin: { source: `${role}@${region}-1`, region },
    });

  it('eu-west’s orchestrator holds it back until the workflow.submitted arrives, then acts on it', async () => {
    // eu-west runs only an orchestrator: the fan-out's completion below stands for the one eu-west's
    // aggregator made from us-east's replicated results, and does not make again once the
    // workflow.submitted (replicated later, on fail-back) begins the workflow here.
    const [west] = await startAgents(mesh, ['orchestrator'], regionAgent('eu-west', westState, new Map()));
    await eastAdoptedByWest(mesh, westState);
    await eventually('eu-west to take us-east’s workflows', async () =>
      west.transport.homing?.takes('us-east') ? true : undefined,
    );

    const id = uuidv7();
    const home = 'us-east';
    const completion = { stepPath: 'root', output: { keywords: ['held', 'back'] }, used: [0, 1], failed: [] };
    await publisherOf('eu-west', 'aggregator').publish(Topics.workflowEvents, FanOutCompletedV1, completion, {
      correlationId: id,
      home,
    });
    await sleep(1_500);
    const inputs = [1, 2].map((n) => ({ id: `late-${n}`, text: `document ${n} that arrived whole` }));
    await publisherOf('us-east', 'orchestrator').publish(
      Topics.workflowEvents,
      WorkflowSubmittedV1,
      { spec: { name: 'arrived whole', step: { kind: 'fan-out', skill: 'keywords', inputs } } },
      { correlationId: id, home },
    );

    // Passed over (as before the hold-back), the completion was lost and the workflow waited for ever.
    const done = await new WorkflowClient(west.url).finished(id, 30_000);
    expect(done).toMatchObject({ status: 'completed', result: completion.output });
  }, 60_000);
});
