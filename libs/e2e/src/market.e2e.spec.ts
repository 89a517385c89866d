import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import type { TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import type { EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  MarketAskV1,
  MarketBidV1,
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
import { createDefaultSkillRegistry, type SkillRegistry } from '@agent-mesh/skills';
import { MemoryStateStore, type StateStore } from '@agent-mesh/state';
import { eventually, InProcessMesh, startAgents, WorkflowClient } from '@agent-mesh/testing';
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

  it('the winner’s failure fails the step with the skill’s error', async () => {
    const id = await submit({ skill: 'broken', budget: 0.7, expireAfterMs: 5000 });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('failed');
    expect(workflow.reason).toContain('cannot work on doc-1');
    expect((await fillsFor(`${id}:root:ask-1`)).map((f) => f.data.workerId)).toEqual([CHEAP]);
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

  async function publish<T extends object>(
    topic: string,
    definition: EventDefinition<T>,
    data: T,
    key: string,
  ): Promise<Buffer> {
    const envelope = registry.create(definition, data, origin, { correlationId: 'wf-m' });
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
});
