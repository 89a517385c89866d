import type { StepState, TimelineEntry, WorkflowView } from '@agent-mesh/agents/orchestrator';
import { PulsarWsEventBus, type BusMessage } from '@agent-mesh/bus';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import {
  qualifyTopic,
  Topics,
  type EventEnvelope,
  type MarketBid,
  type MarketFill,
  type SolverRoundCompleted,
  type TaskCompleted,
} from '@agent-mesh/contracts';
import { STATE_STORE } from '@agent-mesh/runtime';
import { createDefaultSkillRegistry, type SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import {
  type AgentProcess,
  type AgentRole,
  eventually,
  InProcessMesh,
  PulsarNamespace,
  RedisFixture,
  startAgent,
  WorkflowClient,
} from '@agent-mesh/testing';
import {
  CHEAP,
  decodeAll,
  DEAR,
  expectedBoardEntries,
  expectedRounds,
  MARKET_TEXT,
  SOLVER_TEXT,
  QUESTION,
  runDirectly,
  summarizeThenIndex,
  type Board,
} from './support/expectations';
import { terminalEvents } from './support/pattern-scenarios';
import { CountSkill, LedgerSkill, sleep } from './support/test-skills';

/*
 * The patterns that need the broker and Redis themselves (pulsar-ws), each ported from its
 * memory-bus suite (saga.redis, market.e2e, solver-rounds.e2e, blackboard.e2e): a saga
 * coordinator crashed mid-compensation, deadlines and ask expiries delivered late by the broker,
 * bids, fills and solver rounds read back from their topics, a board rebuilt from its topic, and
 * the durable subscriptions on task.results. The scenarios that run on both meshes are the table
 * of support/pattern-scenarios.ts (patterns.pulsar.spec.ts here). An orchestrator, an aggregator,
 * a market maker, a saga coordinator and two workers, each its own Nest app with its own
 * pulsar-ws connection, in a namespace of their own; the stateful roles keep their state in the
 * real Redis. Every expected value is computed by hand (or by running a skill directly), never
 * read back from the mesh.
 *
 * On Pulsar a bidder's subscriptions start at 'latest': every process starts before the first
 * workflow is submitted.
 */

const count = new CountSkill();
let ledgerStore: StateStore | undefined;
const ledger = new LedgerSkill({ store: () => ledgerStore });

/** Each process its own registry (like separate processes), holding the same test skills and the built-ins. */
function registry(): SkillRegistry {
  const skills = createDefaultSkillRegistry();
  for (const skill of [count, ledger]) skills.register(skill);
  return skills;
}

const doc = (id: string, text: string) => ({ id, text });

/*
 * Market prices, solver rounds and blackboard entries are computed by hand in ./support/expectations
 * (the same formulas as market.e2e, solver-rounds.e2e and blackboard.e2e).
 */

describeWithPulsar('more workflow patterns on a real Pulsar broker (pulsar-ws)', (env) => {
  const namespace = new PulsarNamespace(env, 'patterns-more');
  const redis = new RedisFixture();
  const mesh = new InProcessMesh();
  let observer: PulsarWsEventBus;
  let orchestrator: AgentProcess;
  let client: WorkflowClient;
  let coordinator: AgentProcess;
  /** The processes started by beforeAll. */
  const agents: AgentProcess[] = [];

  interface StartOptions {
    readonly instanceId?: string;
    readonly redis?: boolean;
    /** BID_PRICE_FACTOR of a worker: read from process.env when its bidder is built. */
    readonly factor?: string;
    /** Other settings read from process.env at start-up (the saga coordinator's). */
    readonly processEnv?: Record<string, string>;
  }

  const start = async (role: AgentRole, options: StartOptions = {}): Promise<AgentProcess> =>
    startAgent(mesh, {
      role,
      instanceId: options.instanceId,
      skills: registry(),
      stateStore: options.redis ? await redis.connect() : undefined,
      // PULSAR_SERVICE_URL blank: never the native driver, whatever the environment says
      env: { ...namespace.meshEnv(), PULSAR_SERVICE_URL: '', MESH_BOARDS: 'default,ideas' },
      processEnv: {
        ...options.processEnv,
        ...(options.factor === undefined ? {} : { BID_PRICE_FACTOR: options.factor }),
      },
    });
  // A failing compensation is tried 3 times, 200 ms then 400 ms apart (half of each jitter): delayed messages on timers.
  const startCoordinator = (instanceId: string) =>
    start('saga-coordinator', {
      instanceId,
      redis: true,
      processEnv: { SAGA_COMPENSATION_ATTEMPTS: '3', SAGA_COMPENSATION_BACKOFF_MS: '200' },
    });

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    ledgerStore = await redis.connect(); // fails clearly when Redis is absent
    await namespace.create();
    observer = new PulsarWsEventBus({ webUrl: env.webUrl });
    orchestrator = await start('orchestrator', { redis: true });
    client = new WorkflowClient(orchestrator.url, { timeoutMs: 30_000 });
    coordinator = await startCoordinator('saga-1');
    agents.push(
      orchestrator,
      coordinator,
      await start('aggregator', { redis: true }),
      await start('market-maker', { instanceId: 'mm-1', redis: true }),
      await start('worker', { instanceId: 'cheap', factor: '0.5' }),
      await start('worker', { instanceId: 'dear', factor: '0.8' }),
    );
  }, 60_000);

  afterAll(async () => {
    await mesh.stopAll();
    await observer?.close();
    await namespace.delete();
    await redis.cleanup();
  }, 60_000);

  const submit = (step: unknown): Promise<string> => client.submit({ step });
  const run = (step: unknown): Promise<WorkflowView> => client.run({ step });

  function stepAt(workflow: WorkflowView, path: string): StepState {
    const found = workflow.steps.find((s) => s.path === path);
    if (!found) throw new Error(`no step ${path} in ${workflow.steps.map((s) => s.path).join(', ')}`);
    return found;
  }

  const entries = (workflow: WorkflowView, type: string, stepPath?: string): TimelineEntry[] =>
    workflow.timeline.filter((e) => e.type === type && (stepPath === undefined || e.stepPath === stepPath));

  /** Every message on a topic of this namespace so far, read from the broker. */
  async function readAll(shortTopic: string): Promise<BusMessage[]> {
    const reader = await observer.createReader({
      topic: qualifyTopic(namespace.naming, shortTopic),
      startMessageId: 'earliest',
    });
    const messages: BusMessage[] = [];
    try {
      while (await reader.hasMessageAvailable()) {
        const message = await reader.readNext(2000);
        if (message) messages.push(message);
      }
    } finally {
      await reader.close();
    }
    return messages;
  }

  const ms = (entry: TimelineEntry | undefined): number => {
    if (!entry) throw new Error('no such timeline entry');
    return Date.parse(entry.at);
  };

  it('runs every agent on the pulsar-ws driver', async () => {
    const started = agents.map((a) => a.role);
    expect(started.sort()).toEqual([
      'aggregator',
      'market-maker',
      'orchestrator',
      'saga-coordinator',
      'worker',
      'worker',
    ]);
    for (const agent of agents) {
      const health = (await (await fetch(`${agent.url}/health`)).json()) as {
        status: string;
        role: string;
        transport: string;
      };
      expect(health).toMatchObject({ status: 'ok', role: agent.role, transport: 'pulsar-ws' });
    }
  });

  describe('sagas (state in the real Redis)', () => {
    const sagaStep = (effects: string, name: string, id: string, op: string, deadlineMs = 15_000) => ({
      name,
      action: { skill: 'ledger', input: { id, text: `${op} ${id}` }, params: { op, effects } },
      compensation: { skill: 'ledger', input: { id, text: `release ${id}` }, params: { op: 'release', effects } },
      deadlineMs,
    });
    const effectsOf = (key: string) => {
      if (!ledgerStore) throw new Error('no ledger store');
      return ledgerStore.lrange(key, 0, -1);
    };
    const sagaSteps = (workflow: WorkflowView) => entries(workflow, 'saga.step');

    it('runs every step in order and completes with their outputs', async () => {
      const fx = 'fx:saga-ok';
      const workflow = await run({
        kind: 'saga',
        steps: [sagaStep(fx, 'reserve-stock', 'ok-a', 'reserve'), sagaStep(fx, 'charge-card', 'ok-b', 'charge')],
      });
      expect(workflow.status).toBe('completed');
      expect(workflow.result).toEqual({
        outputs: { 'reserve-stock': { done: 'reserve:ok-a' }, 'charge-card': { done: 'charge:ok-b' } },
      });
      expect(await effectsOf(fx)).toEqual(['reserve:ok-a', 'charge:ok-b']);
      expect(ledger.calls.filter((c) => c.endsWith(':ok-a') || c.endsWith(':ok-b'))).toEqual([
        'reserve:ok-a',
        'charge:ok-b',
      ]);
    }, 60_000);

    it('compensates 2 then 1, each once, when step 3 of 4 fails — with the coordinator crashed between the compensations', async () => {
      const fx = 'fx:saga-crash';
      const doomed = coordinator;
      const releaseB = ledger.hold('release:cr-b'); // the first compensation waits until the coordinator is dead
      const id = await submit({
        kind: 'saga',
        steps: [
          sagaStep(fx, 'one', 'cr-a', 'reserve'),
          sagaStep(fx, 'two', 'cr-b', 'reserve'),
          sagaStep(fx, 'three', 'cr-c', 'fail'),
          sagaStep(fx, 'four', 'cr-d', 'reserve'),
        ],
      });

      await eventually(
        'the compensation of step two to start',
        async () => (ledger.calls.includes('release:cr-b') ? true : undefined),
        30_000,
      );
      await doomed.crash(); // its pulsar-ws client closes: whatever it has not acked goes back to the broker
      releaseB(); // step two's compensation finishes while no coordinator runs
      await eventually(
        'the effect of the first compensation',
        async () => ((await effectsOf(fx)).includes('release:cr-b') ? true : undefined),
        30_000,
      );
      expect(ledger.calls).not.toContain('release:cr-a'); // nobody to start the next one yet
      coordinator = await startCoordinator('saga-2');

      const workflow = await client.finished(id, 45_000);
      expect(workflow.status).toBe('compensated');
      expect(workflow.reason).toContain('step three failed');
      expect(workflow.reason).toContain('compensated two then one');
      // two reservations, then their releases in reverse order, each exactly once
      expect(await effectsOf(fx)).toEqual(['reserve:cr-a', 'reserve:cr-b', 'release:cr-b', 'release:cr-a']);
      expect(ledger.calls).not.toContain('reserve:cr-d');
      expect(ledger.calls.filter((c) => c === 'release:cr-a')).toHaveLength(1);
      expect(ledger.calls.filter((c) => c === 'release:cr-b')).toHaveLength(1);
      // who did what: the doomed coordinator started the undo of two, its successor finished it and undid one
      const steps = await eventually(
        'the saga step events on the timeline',
        async () => {
          const found = sagaSteps(await client.get(id));
          return found.some((e) => e.detail?.startsWith('one compensated')) ? found : undefined;
        },
        30_000,
      );
      const by = (prefix: string) => steps.filter((e) => e.detail?.startsWith(prefix)).map((e) => e.source);
      expect(by('two compensating')).toEqual(['saga-coordinator@saga-1']);
      expect(by('two compensated')).toEqual(['saga-coordinator@saga-2']);
      expect(by('one compensating')).toEqual(['saga-coordinator@saga-2']);
      expect(by('one compensated')).toEqual(['saga-coordinator@saga-2']);
      expect(by('four started')).toEqual([]);
    }, 90_000);

    it('compensates a step that finishes after its deadline (a message delivered late by the broker on timers) before the step it follows', async () => {
      const fx = 'fx:saga-deadline';
      const deadlineMs = 1500;
      const releaseB = ledger.hold('reserve:dl-b'); // slow's action takes effect only after its deadline
      const id = await submit({
        kind: 'saga',
        steps: [sagaStep(fx, 'one', 'dl-a', 'reserve'), sagaStep(fx, 'slow', 'dl-b', 'reserve', deadlineMs)],
      });
      await eventually(
        'the deadline of slow',
        async () =>
          sagaSteps(await client.get(id)).some((e) => e.detail?.startsWith('slow failed')) ? true : undefined,
        30_000,
      );
      expect((await client.get(id)).status).toBe('running'); // the undoing waits for slow's result
      expect(await effectsOf(fx)).toEqual(['reserve:dl-a']);
      releaseB();
      const workflow = await client.finished(id, 45_000);
      expect(workflow.status).toBe('compensated');
      expect(workflow.reason).toContain(`slow missed its deadline of ${deadlineMs} ms`);
      expect(workflow.reason).toContain('compensated slow then one');
      // the late effect undone first, then step one's: nothing is left applied
      expect(await effectsOf(fx)).toEqual(['reserve:dl-a', 'reserve:dl-b', 'release:dl-b', 'release:dl-a']);
      // The deadline came from the broker's delayed delivery: not before deadlineMs after the step started
      // (the timer is published just before the step's "started" event).
      const steps = sagaSteps(workflow);
      const started = ms(steps.find((e) => e.detail?.startsWith('slow started')));
      const missed = ms(steps.find((e) => e.detail?.startsWith('slow failed')));
      expect(missed - started).toBeGreaterThanOrEqual(deadlineMs - 100);
      expect(missed - started).toBeLessThan(deadlineMs + 10_000);
    }, 90_000);

    it('cancel ends the workflow cancelled, then the saga undoes what took effect — an action finishing after the cancel too', async () => {
      const fx = 'fx:saga-cancel';
      const releaseB = ledger.hold('reserve:cc-b');
      const id = await submit({
        kind: 'saga',
        steps: [sagaStep(fx, 'one', 'cc-a', 'reserve'), sagaStep(fx, 'two', 'cc-b', 'reserve')],
      });
      await eventually(
        'step one done and step two running',
        async () => (ledger.calls.includes('reserve:cc-b') ? true : undefined),
        30_000,
      );
      const cancel = await client.cancel(id, 'customer changed their mind');
      expect(cancel.status).toBe(202);
      const cancelled = await client.finished(id);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.reason).toContain('customer changed their mind');
      releaseB();
      await client.timeline(id, 'saga.compensated', 1);
      expect(await effectsOf(fx)).toEqual(['reserve:cc-a', 'reserve:cc-b', 'release:cc-b', 'release:cc-a']);
      const after = await client.get(id);
      expect(after.status).toBe('cancelled');
      expect(terminalEvents(after)).toEqual(['workflow.cancelled']);
    }, 60_000);

    it('retries a compensation that always fails (delayed by the broker), then ends the workflow failed naming what is left to undo', async () => {
      const fx = 'fx:saga-stuck';
      const stuck = {
        ...sagaStep(fx, 'two', 'st-b', 'reserve'),
        compensation: { skill: 'ledger', input: { id: 'st-b', text: 'x' }, params: { op: 'fail', effects: fx } },
      };
      const workflow = await run({
        kind: 'saga',
        steps: [sagaStep(fx, 'one', 'st-a', 'reserve'), stuck, sagaStep(fx, 'three', 'st-c', 'fail')],
      });
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('compensation of two failed 3 time(s)');
      expect(workflow.reason).toContain('left to undo: two, one');
      expect(ledger.calls.filter((c) => c === 'fail:st-b')).toHaveLength(3);
      const retries = sagaSteps(workflow).filter((e) => e.detail?.includes('failed (SkillInputError'));
      expect(retries.map((e) => e.detail?.split(':')[0])).toEqual(['two compensating', 'two compensating']);
      // nothing undone: step one waits for an operator, after two
      expect(await effectsOf(fx)).toEqual(['reserve:st-a', 'reserve:st-b']);
      expect(terminalEvents(workflow)).toEqual(['workflow.failed']);
    }, 60_000);
  });

  describe('market', () => {
    const bidsFor = async (askId: string) =>
      decodeAll<MarketBid>(await readAll(Topics.marketBids), 'market.bid').filter((b) => b.data.askId === askId);
    const fillsFor = async (askId: string) =>
      decodeAll<MarketFill>(await readAll(Topics.marketFills), 'market.fill').filter((f) => f.data.askId === askId);
    const priceOf = (bids: EventEnvelope<MarketBid>[], workerId: string) =>
      bids.find((b) => b.data.workerId === workerId)?.data.price;
    const marketStep = (inputId: string, extra: Record<string, unknown>) => ({
      kind: 'market',
      skill: 'count',
      input: doc(inputId, MARKET_TEXT),
      ...extra,
    });

    it('the cheaper worker wins (the dearer bid does not cross the budget) and does the work', async () => {
      const id = await submit(marketStep('mk-1', { budget: 0.7, expireAfterMs: 10_000 }));
      const workflow = await client.finished(id);
      const askId = `${id}:root:ask-1`;
      expect(workflow.status).toBe('completed');
      expect(workflow.result).toEqual({ words: 40 });
      expect(count.runs.filter((r) => r === 'mk-1')).toHaveLength(1);

      // both workers bid, each from its own factor: 0.5 × 1.2 and 0.8 × 1.2
      const bids = await eventually('both bids', async () => {
        const found = await bidsFor(askId);
        return found.length === 2 ? found : undefined;
      });
      expect(priceOf(bids, CHEAP)).toBe(0.6);
      expect(priceOf(bids, DEAR)).toBe(0.96);
      const fills = await fillsFor(askId);
      expect(fills.map((f) => [f.data.workerId, f.data.price, f.source])).toEqual([[CHEAP, 0.6, 'market-maker@mm-1']]);

      expect(entries(workflow, 'market.fill')).toEqual([
        expect.objectContaining({ stepPath: 'root', detail: `${CHEAP} at 0.6` }),
      ]);
      expect(entries(workflow, 'market.ask-expired')).toHaveLength(0);
      const done = await client.timeline(id, 'task.completed', 1);
      expect(done[0].detail).toBe(`mk-1 by ${CHEAP}`);
    }, 60_000);

    it('an ask no bid crosses expires (a late timer on the broker), is re-priced, and the re-priced ask fills', async () => {
      // ask 1 at 0.5: nobody crosses (0.6, 0.96). ask 2 at round2(0.5 × 1.5) = 0.75: 0.6 crosses. On a
      // loaded machine a bid can come after ask 2's expiry too; then ask 3 (1.13) is the one filled.
      const expireAfterMs = 3000;
      const id = await submit(
        marketStep('mk-2', { budget: 0.5, expireAfterMs, reprice: { factor: 1.5, maxBudget: 5, times: 2 } }),
      );
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('completed');
      expect(workflow.result).toEqual({ words: 40 });
      const asks = entries(workflow, 'market.ask').map((e) => e.detail);
      expect(asks.slice(0, 2)).toEqual(['ask 1 for count, budget 0.5', 'ask 2 for count, budget 0.75']);
      expect(asks.length).toBeLessThanOrEqual(3);
      const expired = entries(workflow, 'market.ask-expired');
      // every ask but the last expired, ask 1 first
      expect(expired.map((e) => e.detail)).toEqual(
        asks.slice(0, -1).map((_, i) => expect.stringMatching(new RegExp(`^${id}:root:ask-${i + 1} at budget `))),
      );
      // the expiry check is delivered by the broker at the ask's expiry, not at once
      const firstAsk = entries(workflow, 'market.ask')[0];
      expect(ms(expired[0]) - ms(firstAsk)).toBeGreaterThanOrEqual(expireAfterMs - 100);
      expect(await fillsFor(`${id}:root:ask-1`)).toHaveLength(0);
      expect((await bidsFor(`${id}:root:ask-1`)).map((b) => b.data.price).sort()).toEqual([0.6, 0.96]);
      const lastAsk = `${id}:root:ask-${asks.length}`;
      const fills = (await fillsFor(lastAsk)).map((f) => [f.data.workerId, f.data.price]);
      expect(fills).toHaveLength(1);
      // ask 2 (0.75): only the cheap bid crosses; ask 3 (1.13): both do, and the cheaper fills if it came
      // within the bidding window the first crossing bid opened (the best-bid tests are in market.e2e)
      const crossing =
        asks.length === 2
          ? [[CHEAP, 0.6]]
          : [
              [CHEAP, 0.6],
              [DEAR, 0.96],
            ];
      expect(crossing).toContainEqual(fills[0]);
      expect(entries(workflow, 'market.fill')).toHaveLength(1);
    }, 60_000);

    it('an ask that never fills fails the step: no bid within budget', async () => {
      const id = await submit(marketStep('mk-3', { budget: 0.3, expireAfterMs: 1000 }));
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('failed');
      expect(workflow.reason).toContain('no bid within budget 0.3 before the ask expired (1 ask)');
      expect(entries(workflow, 'market.fill')).toHaveLength(0);
      expect(entries(workflow, 'market.ask-expired')).toHaveLength(1);
      expect(count.runs).not.toContain('mk-3');
    }, 60_000);
  });

  it('solver rounds: 3 solvers × 3 rounds refine toward each other; the result is the compile of round 3', async () => {
    const expected = expectedRounds(3, 3);
    // Written out: round 1 [36, 18, 30]; round 2 [30, 25.5, 28.5]; round 3 [31.5, 23.63, 28.88]; median 28.88
    expect(expected.map((m) => [...m.values()])).toEqual([
      [36, 18, 30],
      [30, 25.5, 28.5],
      [31.5, 23.63, 28.88],
    ]);
    const id = await submit({
      kind: 'solver-rounds',
      skill: 'estimate',
      input: doc('q', SOLVER_TEXT),
      solvers: 3,
      rounds: 3,
      strategy: { type: 'combine' },
    });
    const workflow = await client.finished(id);
    expect(workflow.status).toBe('completed');
    expect(workflow.result).toEqual({ answer: 28.88, label: 'short', count: 3 });
    expect(workflow.steps[0]).toMatchObject({
      path: 'root',
      kind: 'solver-rounds',
      status: 'completed',
      output: workflow.result,
    });

    const rounds = decodeAll<SolverRoundCompleted>(await readAll(Topics.marketRounds), 'solver.round-completed')
      .filter((e) => e.correlationId === id)
      .sort((a, b) => a.data.round - b.data.round)
      .map((e) => new Map(e.data.answers.map((a) => [a.solver, Number(a.output['answer'])])));
    expect(rounds).toEqual(expected);
    const completed = await client.timeline(id, 'solver.round-completed', 3);
    expect(completed.map((e) => e.detail)).toEqual(['round 1: 3 answers', 'round 2: 3 answers', 'round 3: 3 answers']);
    expect(completed.every((e) => e.source === 'market-maker@mm-1')).toBe(true);
    // 3 solvers × 3 rounds, each once, on the rounds' own reply topic; none on task.results, so
    // the orchestrator's timeline has the rounds (above), not each answer.
    const answers = decodeAll<TaskCompleted>(await readAll(Topics.solverTaskResults), 'task.completed').filter(
      (r) => r.correlationId === id,
    );
    expect(answers.map((r) => r.data.taskId).sort()).toEqual(
      [1, 2, 3].flatMap((round) => [0, 1, 2].map((solver) => `${id}:root:r${round}:s${solver}`)).sort(),
    );
    expect(
      decodeAll<TaskCompleted>(await readAll(Topics.taskResults), 'task.completed').filter(
        (r) => r.correlationId === id,
      ),
    ).toEqual([]);
    expect(entries(await client.get(id), 'task.completed')).toEqual([]);
  }, 60_000);

  describe('blackboard', () => {
    const board = async (id: string, stepPath = 'root'): Promise<Board> => {
      const { status, json } = await client.request<Board>('GET', `/workflows/${id}/boards/${stepPath}`);
      if (status !== 200) throw new Error(`GET board answered ${status}: ${JSON.stringify(json)}`);
      return json;
    };

    it('question → summary → keywords: sources react until `until` holds; a lost board is rebuilt from the topic', async () => {
      const id = await submit(summarizeThenIndex);
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('completed');

      const summary = String((await runDirectly('summarize', 'seed-0', QUESTION))['summary']);
      const keywords = JSON.stringify(await runDirectly('keywords', 'summarizer:seed-0', summary));
      expect(summary.length).toBeGreaterThan(0);
      expect(summary).not.toBe(QUESTION);
      const expected = expectedBoardEntries(summary, keywords);
      expect(workflow.result).toEqual({ entries: expected, matched: [expected[2]] });
      const original = await board(id);
      expect(original).toEqual({
        workflowId: id,
        stepPath: 'root',
        board: 'ideas',
        entries: expected,
        counts: { question: 1, summary: 1, keywords: 1 },
      });
      expect(entries(workflow, 'task.assigned').map((e) => e.detail)).toEqual([
        'source summarizer (summarize) on seed-0',
        'source indexer (keywords) on summarizer:seed-0',
      ]);

      // the orchestrator loses the board; it is read back from blackboard.ideas on the broker
      const state = orchestrator.app.get<StateStore>(STATE_STORE);
      const keys = await state.keys(`orchestrator:board:${id}:*`);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      await state.apply(keys.map((key) => ({ op: 'del' as const, key })));
      expect(await board(id)).toEqual({ ...original, entries: [], counts: {} });
      const { status, json: rebuilt } = await client.request<Board>('POST', `/workflows/${id}/boards/root/rebuild`);
      expect(status).toBe(200);
      expect(rebuilt).toEqual(original);
      expect(await board(id)).toEqual(original);
    }, 60_000);

    it('fails a board that grows past maxEntries without meeting `until`', async () => {
      // forth: x → y, back: y → x, forever; nothing ever posts the `answer` that would end it.
      const id = await submit({
        kind: 'blackboard',
        board: 'ideas',
        seed: [{ kind: 'x', text: 'Ping pong never ends.' }],
        sources: [
          { name: 'forth', skill: 'summarize', on: 'x', produces: 'y', field: 'summary' },
          { name: 'back', skill: 'summarize', on: 'y', produces: 'x', field: 'summary' },
          { name: 'never', skill: 'summarize', on: 'answer', produces: 'answer', field: 'summary' },
        ],
        until: { kind: 'answer', count: 1 },
        maxEntries: 4,
      });
      const workflow = await client.finished(id);
      expect(workflow.status).toBe('failed');
      expect(stepAt(workflow, 'root').error).toBe(
        'board ideas has 5 entries, more than maxEntries 4, with 0 of 1 "answer" entry',
      );
      await sleep(500); // no task of the failed board posts anything more
      const { entries: posted, counts } = await board(id);
      expect(posted.map((e) => e.entryId)).toEqual([
        'seed-0',
        'forth:seed-0',
        'back:forth:seed-0',
        'forth:back:forth:seed-0',
        'back:forth:back:forth:seed-0',
      ]);
      expect(counts).toEqual({ x: 3, y: 2 });
    }, 60_000);
  });

  // Last: every flow above has run by now (sagas, market, solver rounds, blackboard).
  it('delivers each task result only to the roles that use it: no saga coordinator or market maker on task.results', async () => {
    const durableSubscriptions = async (topic: string): Promise<Record<string, number>> => {
      const stats = await namespace.admin.topicStats(qualifyTopic(namespace.naming, topic));
      // readers are non-durable subscriptions; the agents' are durable
      return Object.fromEntries(
        Object.entries(stats.subscriptions).flatMap(([name, sub]) =>
          sub.isDurable ? [[name, sub.msgOutCounter]] : [],
        ),
      );
    };
    const shared = await durableSubscriptions(Topics.taskResults);
    expect(Object.keys(shared).sort()).toEqual(['aggregator', 'orchestrator']);
    const sagas = await durableSubscriptions(Topics.sagaTaskResults);
    expect(Object.keys(sagas)).toEqual(['saga-coordinator']);
    expect(sagas['saga-coordinator']).toBeGreaterThan(0);
    const solvers = await durableSubscriptions(Topics.solverTaskResults);
    expect(Object.keys(solvers)).toEqual(['market-maker-rounds']);
    expect(solvers['market-maker-rounds']).toBeGreaterThanOrEqual(9);

    // and what is left on task.results is no saga's or solver's
    const results = await readAll(Topics.taskResults);
    const taskIds = [
      ...decodeAll<TaskCompleted>(results, 'task.completed'),
      ...decodeAll<TaskCompleted>(results, 'task.failed'),
    ].map((r) => r.data.taskId);
    expect(taskIds.length).toBeGreaterThan(0);
    expect(taskIds.filter((taskId) => /:saga:\d+:(action|compensation)$|:r\d+:s\d+$/.test(taskId))).toEqual([]);
  }, 60_000);
});
