import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import type { TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import type { EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  MarketAskV1,
  MarketBidV1,
  MarketExpiryCheckV1,
  MarketWindowCloseV1,
  qualifyTopic,
  Topics,
  type EventDefinition,
  type EventEnvelope,
  type MarketAsk,
  type MarketAskExpired,
  type MarketBid,
  type MarketFill,
  type TaskCompleted,
} from '@agent-mesh/contracts';
import { createDefaultSkillRegistry, type Skill, type SkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore, type StateOp, type StateStore } from '@agent-mesh/state';
import { FaultyStore, type StoreWrite, type WriteFault } from '@agent-mesh/state/testing';
import {
  eventually,
  FaultyBus,
  InProcessMesh,
  startAgents,
  WorkflowClient,
  type AgentProcess,
} from '@agent-mesh/testing';
import { CHEAP, decodeAll, DEAR, MARKET_TEXT } from './support/expectations';
import { BrokenSkill, CountSkill, HoldSkill, sleep } from './support/test-skills';

/*
 * Market-based allocation end to end on the memory bus: an orchestrator, a market maker and two
 * workers as separate "processes". The workers price bids by the documented formula
 *   price = round2(base × BID_PRICE_FACTOR × (1 + textLength / 1000) × (1 + load))
 * with base 1 for the test skills here; every expected price below is computed from it by hand.
 *
 * The 200-character text: size = 1 + 200/1000 = 1.2.
 *   worker@cheap (factor 0.5): idle 0.5 × 1.2 = 0.6, busy with one task 0.6 × 2 = 1.2
 *   worker@dear  (factor 0.8): idle 0.8 × 1.2 = 0.96
 */
const TEXT = MARKET_TEXT; // 200 characters, 40 words

const registry = createMeshEventRegistry();

describe('market: workers bid, the market maker fills, the winner works (memory bus)', () => {
  const mesh = new InProcessMesh();
  const count = new CountSkill((outputs) => ({ outputs: outputs.length }));
  const hold = new HoldSkill();
  const broken = new BrokenSkill();
  let client: WorkflowClient;

  /** Each process its own registry (like separate processes), holding the same test skills. */
  const skills = (): SkillRegistry => {
    const r = createDefaultSkillRegistry();
    for (const skill of [count, hold, broken]) r.register(skill);
    return r;
  };

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      mesh,
      [
        'orchestrator',
        { role: 'market-maker', instanceId: 'mm-1' },
        // BID_PRICE_FACTOR is read when the worker starts: set only around the start of one worker.
        { role: 'worker', instanceId: 'cheap', processEnv: { BID_PRICE_FACTOR: '0.5' } },
        { role: 'worker', instanceId: 'dear', processEnv: { BID_PRICE_FACTOR: '0.8' } },
      ],
      () => ({ skills: skills() }),
    );
    client = new WorkflowClient(orchestrator.url);
  });

  afterAll(async () => {
    hold.release();
    await sleep(50);
    await mesh.stopAll();
  });

  const submit = (step: Record<string, unknown>): Promise<string> =>
    client.submit({ step: { kind: 'market', input: { id: 'doc-1', text: TEXT }, ...step } });
  const entries = (v: WorkflowView, type: string): TimelineEntry[] => v.timeline.filter((e) => e.type === type);

  const bidsFor = async (askId: string) =>
    decodeAll<MarketBid>(await mesh.readAll(Topics.marketBids), 'market.bid').filter((b) => b.data.askId === askId);
  const fillsFor = async (askId: string) =>
    decodeAll<MarketFill>(await mesh.readAll(Topics.marketFills), 'market.fill').filter((f) => f.data.askId === askId);
  const resultsOf = async (workflowId: string) =>
    decodeAll<TaskCompleted>(await mesh.readAll(Topics.taskResults), 'task.completed').filter(
      (r) => r.correlationId === workflowId,
    );
  const priceOf = (bids: EventEnvelope<MarketBid>[], workerId: string) =>
    bids.find((b) => b.data.workerId === workerId)?.data.price;

  it('the cheaper worker wins (the dearer bid does not cross the budget) and does the work', async () => {
    const id = await submit({ skill: 'count', budget: 0.7, expireAfterMs: 5000 });
    const workflow = await client.finished(id);
    const askId = `${id}:root:ask-1`;

    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ words: 40 });
    expect(workflow.steps[0]).toMatchObject({
      path: 'root',
      kind: 'market',
      status: 'completed',
      output: { words: 40 },
    });

    // both workers bid, each from its own factor
    const bids = await eventually('both bids', async () =>
      (await bidsFor(askId)).length === 2 ? bidsFor(askId) : undefined,
    );
    expect(priceOf(bids, CHEAP)).toBe(0.6);
    expect(priceOf(bids, DEAR)).toBe(0.96);
    expect(bids.every((b) => b.data.bidId === `${askId}:${b.data.workerId}` && b.data.market === 'count')).toBe(true);

    const fills = await fillsFor(askId);
    expect(fills).toHaveLength(1);
    expect(fills[0].data).toMatchObject({
      workerId: CHEAP,
      price: 0.6,
      bidId: `${askId}:${CHEAP}`,
      stepPath: 'root',
      input: { id: 'doc-1', text: TEXT },
    });
    expect(fills[0].source).toBe('market-maker@mm-1');

    const results = await resultsOf(id);
    expect(results).toHaveLength(1);
    expect(results[0].data).toMatchObject({
      taskId: `${askId}:fill`,
      stepPath: 'root',
      attempt: 1,
      worker: CHEAP,
      output: { words: 40 },
    });

    expect(entries(workflow, 'market.ask')).toHaveLength(1);
    expect(entries(workflow, 'market.fill')).toEqual([
      expect.objectContaining({ stepPath: 'root', detail: `${CHEAP} at 0.6` }),
    ]);
    expect(entries(workflow, 'market.ask-expired')).toHaveLength(0);
  });

  it('a busy worker bids higher: while the cheap worker holds a task, the dearer one wins the next ask', async () => {
    const held = await submit({ skill: 'hold', budget: 0.7, expireAfterMs: 5000 });
    await eventually('the cheap worker to be busy', async () => (hold.running === 1 ? true : undefined));
    const heldFill = (await fillsFor(`${held}:root:ask-1`))[0];
    expect(heldFill.data).toMatchObject({ workerId: CHEAP, price: 0.6 });

    const id = await submit({ skill: 'count', budget: 1, expireAfterMs: 5000 });
    const workflow = await client.finished(id);
    const askId = `${id}:root:ask-1`;
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ words: 40 });
    const bids = await eventually('both bids', async () =>
      (await bidsFor(askId)).length === 2 ? bidsFor(askId) : undefined,
    );
    expect(priceOf(bids, CHEAP)).toBe(1.2); // load 1 doubles 0.6: above the budget of 1
    expect(priceOf(bids, DEAR)).toBe(0.96);
    expect((await fillsFor(askId)).map((f) => [f.data.workerId, f.data.price])).toEqual([[DEAR, 0.96]]);
    expect((await resultsOf(id))[0].data.worker).toBe(DEAR);

    hold.release();
    const first = await client.finished(held);
    expect(first.status).toBe('completed');
    expect(first.result).toEqual({ held: true });
    expect((await resultsOf(held))[0].data.worker).toBe(CHEAP);
  });

  it('an ask no bid crosses expires, is re-priced, and the re-priced ask fills', async () => {
    // ask 1 at 0.5: nobody crosses (0.6, 0.96). ask 2 at round2(0.5 × 1.5) = 0.75: 0.6 crosses.
    const id = await submit({
      skill: 'count',
      budget: 0.5,
      expireAfterMs: 300,
      reprice: { factor: 1.5, maxBudget: 5, times: 2 },
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ words: 40 });
    expect(entries(workflow, 'market.ask').map((e) => e.detail)).toEqual([
      'ask 1 for count, budget 0.5',
      'ask 2 for count, budget 0.75',
    ]);
    expect(entries(workflow, 'market.ask-expired')).toEqual([
      expect.objectContaining({ detail: `${id}:root:ask-1 at budget 0.5` }),
    ]);
    expect(await fillsFor(`${id}:root:ask-1`)).toHaveLength(0);
    expect((await fillsFor(`${id}:root:ask-2`)).map((f) => [f.data.workerId, f.data.price])).toEqual([[CHEAP, 0.6]]);
    expect(entries(workflow, 'market.fill')).toHaveLength(1);
  });

  it('an ask that never fills fails the step: no bid within budget', async () => {
    const id = await submit({ skill: 'count', budget: 0.3, expireAfterMs: 200 });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('failed');
    expect(workflow.reason).toContain('no bid within budget 0.3 before the ask expired (1 ask)');
    expect(workflow.steps[0]).toMatchObject({ path: 'root', status: 'failed' });
    expect(entries(workflow, 'market.fill')).toHaveLength(0);
    expect(entries(workflow, 'market.ask-expired')).toHaveLength(1);
    expect(await resultsOf(id)).toHaveLength(0);
  });

  it('answers 400 naming step.bidWindowMs for a window out of bounds or not shorter than the ask’s life', async () => {
    for (const bidWindowMs of [0, 1.5, 60_001, 5000]) {
      const { status, json } = await client.post({
        step: {
          kind: 'market',
          skill: 'count',
          input: { id: 'doc-1', text: TEXT },
          budget: 1,
          expireAfterMs: 5000,
          bidWindowMs,
        },
      });
      expect([bidWindowMs, status]).toEqual([bidWindowMs, 400]);
      expect((json['errors'] as { field: string }[]).map((e) => e.field)).toEqual(['step.bidWindowMs']);
    }
  });

  it('the winner’s failure fails the step with the skill’s error', async () => {
    const id = await submit({ skill: 'broken', budget: 0.7, expireAfterMs: 5000 });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('failed');
    expect(workflow.reason).toContain('cannot work on doc-1');
    expect((await fillsFor(`${id}:root:ask-1`)).map((f) => f.data.workerId)).toEqual([CHEAP]);
  });
});

describe('the best bid wins on the memory mesh: three workers priced differently, all within budget', () => {
  const mesh = new InProcessMesh();
  const count = new CountSkill((outputs) => ({ outputs: outputs.length }));
  let client: WorkflowClient;
  const MID = 'worker@mid';

  beforeAll(async () => {
    const [orchestrator] = await startAgents(
      mesh,
      [
        'orchestrator',
        { role: 'market-maker', instanceId: 'mm-1' },
        // the dearest starts (and subscribes) first, the cheapest last: its bids need not come first
        { role: 'worker', instanceId: 'dear', processEnv: { BID_PRICE_FACTOR: '0.8' } },
        { role: 'worker', instanceId: 'mid', processEnv: { BID_PRICE_FACTOR: '0.65' } },
        { role: 'worker', instanceId: 'cheap', processEnv: { BID_PRICE_FACTOR: '0.5' } },
      ],
      () => {
        const skills = createDefaultSkillRegistry();
        skills.register(count);
        return { skills };
      },
    );
    client = new WorkflowClient(orchestrator.url);
  });

  afterAll(async () => {
    await mesh.stopAll();
  });

  it('every ask goes to the cheapest bid (0.6 of 0.6, 0.78 and 0.96, budget 1), in the default bidding window', async () => {
    const ids = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        client.submit({
          step: {
            kind: 'market',
            skill: 'count',
            input: { id: `doc-${n}`, text: TEXT },
            budget: 1,
            expireAfterMs: 10_000,
          },
        }),
      ),
    );
    for (const id of ids) {
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('completed');
      const askId = `${id}:root:ask-1`;
      const bids = decodeAll<MarketBid>(await mesh.readAll(Topics.marketBids), 'market.bid').filter(
        (b) => b.data.askId === askId,
      );
      // 0.5 × 1.2, 0.65 × 1.2, 0.8 × 1.2: every bid crosses the budget of 1
      expect(Object.fromEntries(bids.map((b) => [b.data.workerId, b.data.price]))).toEqual({
        [CHEAP]: 0.6,
        [MID]: 0.78,
        [DEAR]: 0.96,
      });
      const fills = decodeAll<MarketFill>(await mesh.readAll(Topics.marketFills), 'market.fill').filter(
        (f) => f.data.askId === askId,
      );
      expect(fills.map((f) => [f.data.workerId, f.data.price])).toEqual([[CHEAP, 0.6]]);
      expect(workflow.timeline.filter((e) => e.type === 'market.ask-expired')).toHaveLength(0);
    }
  });
});

describe('a winner that dies after its fill: the step’s deadline re-opens the ask (memory bus)', () => {
  const mesh = new InProcessMesh();
  /** The cheap worker's `count`: it takes the task and never reports (the process is killed meanwhile). */
  let hung = 0;
  let unhang!: () => void;
  const hang = new Promise<void>((resolve) => (unhang = resolve));
  const hanging: Skill = {
    name: 'count',
    description: 'takes the task and never finishes (test)',
    run: async () => {
      hung++;
      await hang;
      return { words: 0 };
    },
    combine: (outputs) => ({ outputs: outputs.length }),
  };
  const registryWith = (skill: Skill): SkillRegistry => {
    const r = createDefaultSkillRegistry();
    r.register(skill);
    return r;
  };
  let client: WorkflowClient;
  let cheap: AgentProcess;

  beforeAll(async () => {
    const started = await startAgents(mesh, [
      { role: 'orchestrator', skills: registryWith(new CountSkill()) },
      { role: 'market-maker', instanceId: 'mm-1', skills: registryWith(new CountSkill()) },
      { role: 'worker', instanceId: 'cheap', processEnv: { BID_PRICE_FACTOR: '0.5' }, skills: registryWith(hanging) },
      {
        role: 'worker',
        instanceId: 'dear',
        processEnv: { BID_PRICE_FACTOR: '0.8' },
        skills: registryWith(new CountSkill()),
      },
    ]);
    client = new WorkflowClient(started[0].url);
    cheap = started[2];
  });

  afterAll(async () => {
    unhang();
    await mesh.stopAll();
  });

  it('the cheap winner is killed mid-task; at the step’s deadline a new attempt asks again and the dear worker does it', async () => {
    const id = await client.submit({
      step: {
        kind: 'market',
        skill: 'count',
        input: { id: 'doc-d', text: TEXT },
        budget: 1,
        expireAfterMs: 5000,
        deadlineMs: 1500,
      },
    });
    await eventually('the cheap worker to take the task', async () => (hung === 1 ? true : undefined));
    await cheap.crash();

    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ words: 40 });
    expect(workflow.steps[0]).toMatchObject({ path: 'root', status: 'completed', attempt: 2 });
    expect(workflow.timeline.filter((e) => e.type === 'market.ask').map((e) => e.detail)).toEqual([
      'ask 1 for count, budget 1',
      'ask 1 of attempt 2 for count, budget 1',
    ]);
    const fills = decodeAll<MarketFill>(await mesh.readAll(Topics.marketFills), 'market.fill').filter(
      (f) => f.correlationId === id,
    );
    expect(fills.map((f) => [f.data.askId, f.data.workerId, f.data.attempt])).toEqual([
      [`${id}:root:ask-1`, CHEAP, undefined],
      [`${id}:root:attempt-2:ask-1`, DEAR, 2],
    ]);
    const results = decodeAll<TaskCompleted>(await mesh.readAll(Topics.taskResults), 'task.completed').filter(
      (r) => r.correlationId === id,
    );
    expect(results.map((r) => [r.data.worker, r.data.attempt])).toEqual([[DEAR, 2]]);
  });
});

/** A state store shared by successive market makers: a crashed process's close() must not close it. */
function shared(store: StateStore): StateStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return async () => undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('the market maker’s order book on the bus (test as owner and bidders)', () => {
  let mesh: InProcessMesh;
  let client: EventBus;
  let store: MemoryStateStore;
  const origin = { source: 'test@market', region: 'test' };

  beforeEach(async () => {
    mesh = new InProcessMesh();
    client = mesh.broker.connect();
    store = new MemoryStateStore();
  });

  afterEach(async () => {
    await client.close();
    await mesh.stopAll();
  });

  const startMarketMaker = (instanceId: string) =>
    mesh.start({
      role: 'market-maker',
      instanceId,
      modules: [MarketMakerModule],
      stateStore: shared(store),
      skills: createDefaultSkillRegistry(),
    });

  /** Publishes an order; `occurredAt` backdates it (an event made then, delivered now). */
  async function publish<T extends object>(
    topic: string,
    definition: EventDefinition<T>,
    data: T,
    key: string,
    occurredAt?: number,
  ): Promise<Buffer> {
    const created = registry.create(definition, data, origin, { correlationId: 'wf-m' });
    const envelope =
      occurredAt === undefined ? created : { ...created, occurredAt: new Date(occurredAt).toISOString() };
    const payload = registry.encode(envelope);
    await client.publish(qualifyTopic(mesh.naming, topic), { payload, key, properties: envelopeProperties(envelope) });
    return payload;
  }

  /** Publishes the same bytes again: what a redelivery looks like to the handler. */
  async function redeliver(topic: string, payload: Buffer, key: string): Promise<void> {
    await client.publish(qualifyTopic(mesh.naming, topic), { payload, key });
  }

  const ask = (askId: string, budget: number, inMs: number, extra: Partial<MarketAsk> = {}): MarketAsk => ({
    stepPath: 'root',
    askId,
    market: 'lonely',
    budget,
    expiresAt: Date.now() + inMs,
    input: { id: 'doc-m', text: 'some work' },
    params: { p: 1 },
    ...extra,
  });
  const bid = (askId: string, worker: string, price: number, estimatedMs = 100): MarketBid => ({
    bidId: `${askId}:${worker}`,
    askId,
    market: 'lonely',
    workerId: worker,
    price,
    estimatedMs,
    expiresAt: Date.now() + 10_000,
  });

  const settled = (shortTopic: string) =>
    eventually(`the market maker to settle ${shortTopic}`, async () =>
      mesh.broker.backlog(qualifyTopic(mesh.naming, shortTopic), 'market-maker') === 0 ? true : undefined,
    );
  const fills = async (askId: string) =>
    decodeAll<MarketFill>(await mesh.readAll(Topics.marketFills), 'market.fill').filter((f) => f.data.askId === askId);
  const expiries = async (askId: string) =>
    decodeAll<MarketAskExpired>(await mesh.readAll(Topics.marketFills), 'market.ask-expired').filter(
      (e) => e.data.askId === askId,
    );

  it('price-time priority: the ask takes the cheapest waiting bid, the earlier of equal prices, within maxEstimatedMs', async () => {
    await startMarketMaker('mm-a');
    // Bids that reach the market maker before their ask wait for it, in arrival order.
    await publish(Topics.marketBids, MarketBidV1, bid('pt', 'worker@z', 2), 'lonely');
    await publish(Topics.marketBids, MarketBidV1, bid('pt', 'worker@x', 1.5), 'lonely');
    await publish(Topics.marketBids, MarketBidV1, bid('pt', 'worker@y', 1.5), 'lonely');
    await publish(Topics.marketBids, MarketBidV1, bid('pt', 'worker@w', 1, 5000), 'lonely'); // cheapest, too slow
    await settled(Topics.marketBids);
    await publish(Topics.marketAsks, MarketAskV1, ask('pt', 3, 5000, { maxEstimatedMs: 1000 }), 'lonely');

    const [fill] = await eventually('the fill', async () => ((await fills('pt')).length > 0 ? fills('pt') : undefined));
    // x and y both ask 1.5 (the lowest price that meets maxEstimatedMs 1000); x came first.
    expect(fill.data).toEqual({
      fillId: `${encodeURIComponent('pt')}:${encodeURIComponent('pt:worker@x')}`,
      askId: 'pt',
      bidId: 'pt:worker@x',
      market: 'lonely',
      workerId: 'worker@x',
      price: 1.5,
      stepPath: 'root',
      input: { id: 'doc-m', text: 'some work' },
      params: { p: 1 },
    });
    expect(fill.correlationId).toBe('wf-m');
    await sleep(100);
    expect(await fills('pt')).toHaveLength(1);
  });

  it('fills once: a redelivered bid or ask and a later cheaper bid never make a second fill', async () => {
    await startMarketMaker('mm-b');
    const askBytes = await publish(Topics.marketAsks, MarketAskV1, ask('once', 3, 400), 'lonely');
    await settled(Topics.marketAsks);
    const bidBytes = await publish(Topics.marketBids, MarketBidV1, bid('once', 'worker@a', 2.5), 'lonely');
    await eventually('the fill', async () => ((await fills('once')).length > 0 ? true : undefined));

    await redeliver(Topics.marketBids, bidBytes, 'lonely');
    await redeliver(Topics.marketAsks, askBytes, 'lonely');
    await publish(Topics.marketBids, MarketBidV1, bid('once', 'worker@b', 1), 'lonely');
    await settled(Topics.marketBids);
    await settled(Topics.marketAsks);
    await sleep(500); // past the ask's expiry: a filled ask does not expire either

    const all = await fills('once');
    expect(all.map((f) => [f.data.workerId, f.data.price])).toEqual([['worker@a', 2.5]]);
    expect(await expiries('once')).toEqual([]);
    expect(decodeAll<object>(await mesh.readAll(Topics.timers), 'market.expiry-check')).toHaveLength(1);
    expect(await mesh.deadLetters()).toEqual([]);
  });

  it('an ask without a crossing bid expires once, and a bid after that is ignored', async () => {
    await startMarketMaker('mm-c');
    await publish(Topics.marketAsks, MarketAskV1, ask('late', 1, 200), 'lonely');
    await publish(Topics.marketBids, MarketBidV1, bid('late', 'worker@dear', 1.5), 'lonely'); // above the budget: rests
    const [expired] = await eventually('the expiry', async () =>
      (await expiries('late')).length > 0 ? expiries('late') : undefined,
    );
    expect(expired.data).toEqual({ askId: 'late', stepPath: 'root', market: 'lonely', budget: 1 });
    expect(expired.source).toBe('market-maker@mm-c');

    await publish(Topics.marketBids, MarketBidV1, bid('late', 'worker@cheap', 0.5), 'lonely');
    await settled(Topics.marketBids);
    await sleep(50);
    expect(await fills('late')).toEqual([]);
    expect(await expiries('late')).toHaveLength(1);
  });

  it('a restarted market maker rebuilds the resting orders from the StateStore', async () => {
    const first = await startMarketMaker('mm-1');
    await publish(Topics.marketAsks, MarketAskV1, ask('kept', 3, 10_000), 'lonely');
    await publish(Topics.marketBids, MarketBidV1, bid('kept', 'worker@dear', 4), 'lonely'); // rests: above the budget
    await publish(Topics.marketBids, MarketBidV1, bid('later', 'worker@early', 1), 'lonely'); // waits for its ask
    await settled(Topics.marketAsks);
    await settled(Topics.marketBids);
    expect(await fills('kept')).toEqual([]);
    await first.crash();

    await startMarketMaker('mm-2');
    await publish(Topics.marketBids, MarketBidV1, bid('kept', 'worker@cheap', 2), 'lonely');
    const [fill] = await eventually('the fill by the new market maker', async () =>
      (await fills('kept')).length > 0 ? fills('kept') : undefined,
    );
    expect(fill.source).toBe('market-maker@mm-2');
    expect(fill.data).toMatchObject({
      askId: 'kept',
      workerId: 'worker@cheap',
      price: 2,
      stepPath: 'root',
      input: { id: 'doc-m', text: 'some work' },
    });
    await sleep(50);
    expect(await fills('kept')).toHaveLength(1);

    // the bid that came before its ask, to the market maker that crashed, still meets the ask
    await publish(Topics.marketAsks, MarketAskV1, ask('later', 3, 10_000), 'lonely');
    const [early] = await eventually('the fill of the waiting bid', async () =>
      (await fills('later')).length > 0 ? fills('later') : undefined,
    );
    expect(early.data).toMatchObject({ workerId: 'worker@early', price: 1 });
    expect(early.source).toBe('market-maker@mm-2');
  });

  describe('the best bid wins: an ask with a bidding window', () => {
    /** Long enough that every bid published right after its ask is in the window, even on a busy machine. */
    const WINDOW_MS = 1500;
    const windowed = (askId: string, budget: number, extra: Partial<MarketAsk> = {}) =>
      ask(askId, budget, 30_000, { bidWindowMs: WINDOW_MS, ...extra });
    const windowClosed = (askId: string) =>
      eventually(`the window of ${askId} to close`, async () =>
        (await store.hget(`market:ask:${askId}`, 'window')) === 'closed' ? true : undefined,
      );
    const fillOf = async (askId: string) =>
      (
        await eventually(`the fill of ${askId}`, async () =>
          (await fills(askId)).length > 0 ? fills(askId) : undefined,
        )
      )[0];

    /** Three bids, every one within the budget of 3: w@cheap 1, w@mid 2, w@dear 2.5. */
    const prices: Record<string, number> = { 'worker@cheap': 1, 'worker@mid': 2, 'worker@dear': 2.5 };
    const orders: Record<string, string[]> = {
      'cheapest-last': ['worker@dear', 'worker@mid', 'worker@cheap'],
      'cheapest-first': ['worker@cheap', 'worker@dear', 'worker@mid'],
      'cheapest-between': ['worker@mid', 'worker@cheap', 'worker@dear'],
    };

    it('the cheapest of several bids within budget wins, whatever order they arrive in', async () => {
      await startMarketMaker('mm-w');
      // one ask per order, all open at once: each collects its three bids, then the window closes
      for (const name of Object.keys(orders))
        await publish(Topics.marketAsks, MarketAskV1, windowed(name, 3), 'lonely');
      await settled(Topics.marketAsks);
      for (const [name, workers] of Object.entries(orders))
        for (const worker of workers)
          await publish(Topics.marketBids, MarketBidV1, bid(name, worker, prices[worker]), 'lonely');
      await settled(Topics.marketBids);
      // nothing traded while the windows were open (a continuous book fills the first crossing bid)
      for (const name of Object.keys(orders)) expect(await store.hget(`market:ask:${name}`, 'window')).toBeNull();
      expect(decodeAll<MarketFill>(await mesh.readAll(Topics.marketFills), 'market.fill')).toEqual([]);

      for (const name of Object.keys(orders)) {
        const fill = await fillOf(name);
        expect([name, fill.data.workerId, fill.data.price]).toEqual([name, 'worker@cheap', 1]);
      }
      await sleep(50);
      for (const name of Object.keys(orders)) expect(await fills(name)).toHaveLength(1);
      expect(decodeAll<object>(await mesh.readAll(Topics.timers), 'market.window-close')).toHaveLength(3);
    });

    it('equal prices: the earlier bid wins; a bid over maxEstimatedMs does not count', async () => {
      await startMarketMaker('mm-t');
      await publish(Topics.marketAsks, MarketAskV1, windowed('tie', 3, { maxEstimatedMs: 1000 }), 'lonely');
      await settled(Topics.marketAsks);
      const now = Date.now();
      await publish(Topics.marketBids, MarketBidV1, bid('tie', 'worker@slow', 0.5, 5000), 'lonely', now - 20);
      await publish(Topics.marketBids, MarketBidV1, bid('tie', 'worker@z', 1.5), 'lonely', now - 10);
      await publish(Topics.marketBids, MarketBidV1, bid('tie', 'worker@a', 1.5), 'lonely', now - 5);
      const fill = await fillOf('tie');
      expect(fill.data).toMatchObject({ workerId: 'worker@z', price: 1.5, bidId: 'tie:worker@z' });
    });

    it('equal prices made in the same millisecond: the lower bidder id wins, whatever order they are handled in', async () => {
      // Handling order differs between live processing and a rebuild from the log; the choice must not.
      await startMarketMaker('mm-s');
      await publish(Topics.marketAsks, MarketAskV1, windowed('same-ms', 3), 'lonely');
      await settled(Topics.marketAsks);
      const madeAt = Date.now();
      for (const worker of ['worker@z', 'worker@m', 'worker@a'])
        await publish(Topics.marketBids, MarketBidV1, bid('same-ms', worker, 1.5), 'lonely', madeAt);
      const fill = await fillOf('same-ms');
      expect(fill.data).toMatchObject({ workerId: 'worker@a', price: 1.5, bidId: 'same-ms:worker@a' });
    });

    it('only a crossing bid opens the window; a bid after the close does not trade, however cheap', async () => {
      await startMarketMaker('mm-l');
      await publish(Topics.marketAsks, MarketAskV1, windowed('opens', 3, { bidWindowMs: 100 }), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('opens', 'worker@dear', 4), 'lonely'); // over budget
      await settled(Topics.marketAsks);
      await settled(Topics.marketBids);
      await sleep(300); // more than the window: a bid that does not cross opened none
      expect(await store.get('market:ask:opens:window')).toBeNull();
      expect(await fills('opens')).toEqual([]);

      await publish(Topics.marketBids, MarketBidV1, bid('opens', 'worker@mid', 2), 'lonely'); // crosses: opens it
      await windowClosed('opens');
      expect((await fillOf('opens')).data).toMatchObject({ workerId: 'worker@mid', price: 2 });
      await publish(Topics.marketBids, MarketBidV1, bid('opens', 'worker@late', 1), 'lonely');
      await settled(Topics.marketBids);
      await sleep(50);
      expect((await fills('opens')).map((f) => f.data.workerId)).toEqual(['worker@mid']);
      expect(await expiries('opens')).toEqual([]);
    });

    it('an ask no bid crosses expires as without a window', async () => {
      await startMarketMaker('mm-e');
      await publish(Topics.marketAsks, MarketAskV1, ask('none', 1, 400, { bidWindowMs: 100 }), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('none', 'worker@dear', 1.5), 'lonely');
      const [expired] = await eventually('the expiry', async () =>
        (await expiries('none')).length > 0 ? expiries('none') : undefined,
      );
      expect(expired.data).toEqual({ askId: 'none', stepPath: 'root', market: 'lonely', budget: 1 });
      expect(await fills('none')).toEqual([]);
      expect(decodeAll<object>(await mesh.readAll(Topics.timers), 'market.window-close')).toEqual([]);
    });

    it('the window’s close is a timer on the broker: a market maker that crashed during the window is replaced, and the new one fills', async () => {
      const first = await startMarketMaker('mm-x');
      await publish(Topics.marketAsks, MarketAskV1, windowed('durable', 3), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('durable', 'worker@dear', 2.5), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('durable', 'worker@cheap', 1), 'lonely');
      await settled(Topics.marketAsks);
      await settled(Topics.marketBids);
      await first.crash();

      await startMarketMaker('mm-y');
      const fill = await fillOf('durable');
      expect(fill.source).toBe('market-maker@mm-y');
      expect(fill.data).toMatchObject({ workerId: 'worker@cheap', price: 1 });
    });

    it('an expiry check handled before the window’s close (a busy timers topic) fills from the window, judged at its close', async () => {
      await startMarketMaker('mm-b');
      await publish(Topics.marketAsks, MarketAskV1, windowed('busy', 3), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('busy', 'worker@dear', 2.5), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('busy', 'worker@cheap', 1), 'lonely');
      await settled(Topics.marketAsks);
      await settled(Topics.marketBids);
      // the expiry check overtakes the window's close: a crossing bid came in time, so no expiry
      await publish(Topics.timers, MarketExpiryCheckV1, { askId: 'busy', market: 'lonely' }, 'lonely');
      expect((await fillOf('busy')).data).toMatchObject({ workerId: 'worker@cheap', price: 1 });
      await sleep(WINDOW_MS + 200); // past the scheduled close, which finds the ask settled
      expect(await expiries('busy')).toEqual([]);
      expect((await fills('busy')).map((f) => f.data.workerId)).toEqual(['worker@cheap']);
    });

    it('a bid queued behind a slow one while the window’s close falls due counts: the close is judged behind it on market.bids', async () => {
      // The bid that opens the window is handled slowly (its last write waits past the close);
      // the cheaper bid published right after it waits behind it on market.bids.
      const slowStore: StateStore = new Proxy(shared(store), {
        get(target, property) {
          if (property === 'apply')
            return async (ops: readonly StateOp[]) => {
              if (ops.some((op) => op.op === 'hset' && op.key === 'market:ask:queued' && op.field === 'windowTimer'))
                await sleep(800);
              return target.apply(ops);
            };
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      await mesh.start({
        role: 'market-maker',
        instanceId: 'mm-q',
        modules: [MarketMakerModule],
        stateStore: slowStore,
        skills: createDefaultSkillRegistry(),
      });
      await publish(Topics.marketAsks, MarketAskV1, windowed('queued', 3, { bidWindowMs: 200 }), 'lonely');
      await settled(Topics.marketAsks);
      await publish(Topics.marketBids, MarketBidV1, bid('queued', 'worker@dear', 2.5), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('queued', 'worker@cheap', 1), 'lonely');
      expect((await fillOf('queued')).data).toMatchObject({ workerId: 'worker@cheap', price: 1 });
    });

    it('a bid stored by a market maker of an older build (its time kept as `arrival`) still counts after the upgrade', async () => {
      const madeAt = Date.now();
      const legacy = { bid: bid('legacy', 'worker@old', 1), arrival: madeAt * 1000 + 7, cause: { id: 'bid-event' } };
      await store.apply([
        { op: 'hset', key: 'market:bids:legacy', field: 'legacy:worker@old', value: JSON.stringify(legacy) },
      ]);
      await startMarketMaker('mm-u');
      await publish(Topics.marketAsks, MarketAskV1, windowed('legacy', 3, { bidWindowMs: 200 }), 'lonely');
      expect((await fillOf('legacy')).data).toMatchObject({ workerId: 'worker@old', price: 1 });
    });

    describe('a crossing bid that came in time wins however late it is handled', () => {
      /** How long a failed handler's event waits before it comes again. */
      const RETRY_MS = 1000;
      /** A market maker whose store fails the first write `failing` picks, before it is written. */
      const startFailingOnce = async (instanceId: string, failing: (write: StoreWrite) => boolean) => {
        const failed: StoreWrite[] = [];
        await mesh.start({
          role: 'market-maker',
          instanceId,
          modules: [MarketMakerModule],
          stateStore: new FaultyStore(shared(store), (write): WriteFault => {
            if (failed.length > 0 || !failing(write)) return 'pass';
            failed.push(write);
            return 'before';
          }),
          wrapBus: (bus) => new FaultyBus(bus, { decide: () => 'pass', nackRedeliveryDelayMs: RETRY_MS }),
          skills: createDefaultSkillRegistry(),
        });
        return failed;
      };

      it('the bid was stored but opening its window failed, and the retry comes after the expiry: the expiry check opens the window and fills', async () => {
        const failed = await startFailingOnce('mm-r', (write) =>
          write.names.some((name) => name.startsWith('market:window:')),
        );
        await publish(Topics.marketAsks, MarketAskV1, ask('retried', 3, 400, { bidWindowMs: 100 }), 'lonely');
        await settled(Topics.marketAsks);
        await publish(Topics.marketBids, MarketBidV1, bid('retried', 'worker@cheap', 1), 'lonely');
        expect((await fillOf('retried')).data).toMatchObject({ workerId: 'worker@cheap', price: 1 });
        expect(failed).toHaveLength(1);
        await sleep(RETRY_MS + 200); // the retried bid comes, and finds the ask settled
        expect(await expiries('retried')).toEqual([]);
        expect(await fills('retried')).toHaveLength(1);
      });

      it('a bid made before the expiry but delivered after it (the expiry check not handled yet) opens the window at its own time and fills', async () => {
        // the expiry check's first try fails, so it is handled a second later
        const failed = await startFailingOnce('mm-d', (write) =>
          write.names.some((name) => name.startsWith('market:settled:')),
        );
        const posted = Date.now();
        await publish(Topics.marketAsks, MarketAskV1, ask('delayed', 3, 300, { bidWindowMs: 100 }), 'lonely');
        await settled(Topics.marketAsks);
        await eventually('the expiry check to fail once', async () => (failed.length > 0 ? true : undefined));
        // made 100 ms after the ask was posted, well before its expiry; delivered after it
        await publish(Topics.marketBids, MarketBidV1, bid('delayed', 'worker@cheap', 1), 'lonely', posted + 100);
        expect((await fillOf('delayed')).data).toMatchObject({ workerId: 'worker@cheap', price: 1 });
        await sleep(RETRY_MS + 200); // the retried expiry check finds the ask settled
        expect(await expiries('delayed')).toEqual([]);
        expect(await fills('delayed')).toHaveLength(1);
      });
    });

    it('two market makers and a window close delivered twice make one fill', async () => {
      await startMarketMaker('mm-p');
      await startMarketMaker('mm-q');
      await publish(Topics.marketAsks, MarketAskV1, windowed('twice', 3), 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('twice', 'worker@dear', 2.5), 'lonely');
      await settled(Topics.marketAsks);
      await settled(Topics.marketBids);
      // an early second close (a redelivery, or a timer handled by the other market maker) fills now
      const close = await publish(Topics.timers, MarketWindowCloseV1, { askId: 'twice', market: 'lonely' }, 'lonely');
      expect((await fillOf('twice')).data).toMatchObject({ workerId: 'worker@dear', price: 2.5 });
      await redeliver(Topics.timers, close, 'lonely');
      await publish(Topics.marketBids, MarketBidV1, bid('twice', 'worker@cheap', 1), 'lonely'); // late
      await settled(Topics.marketBids);
      await sleep(WINDOW_MS + 200); // past the scheduled close, which finds the ask settled
      expect((await fills('twice')).map((f) => f.data.workerId)).toEqual(['worker@dear']);
      expect(await mesh.deadLetters()).toEqual([]);
    });
  });
});
