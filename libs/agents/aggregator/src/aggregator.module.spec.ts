import { Module, type INestApplication } from '@nestjs/common';
import { MemoryBroker, type BusMessage, type EventBus } from '@agent-mesh/bus';
import {
  createMeshEventRegistry,
  envelopeProperties,
  FanOutStartedV1,
  qualifyTopic,
  TaskCompletedV1,
  TaskFailedV1,
  Topics,
  type AggregationStrategySpec,
  type EventEnvelope,
  type EventRegistry,
  type FanOutCompleted,
  type FanOutFailed,
  type FanOutPolicySpec,
  type FanOutRetry,
  type FanOutStarted,
  type TaskCompleted,
  type TaskFailed,
  type TopicNaming,
} from '@agent-mesh/contracts';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import { createDefaultSkillRegistry, type SkillOutput } from '@agent-mesh/skills';
import {
  MemoryStateStore,
  type ApplyOnceResult,
  type ChainResult,
  type OnceStep,
  type ReserveResult,
  type SlotWrite,
  type SlotWriteResult,
  type StateOp,
  type StateOpResult,
  type StateStore,
  type WindowClaim,
} from '@agent-mesh/state';
import { AggregatorModule } from './aggregator.module';

/*
 * The aggregator's protocol: the orchestrator announces a join with `fanout.started` on
 * task.results ahead of its tasks; workers' task.completed / task.failed (carrying stepPath and
 * attempt) follow on the same topic; the aggregator answers on workflow.events with
 * fanout.completed, fanout.failed or fanout.retry. Driven here with hand-made events.
 */

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
const origin = { source: 'worker@test', region: 'test' };
const orchestratorOrigin = { source: 'orchestrator@test', region: 'test' };
const TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4736';
const STEP = 'root.stages.1';

const documents = [
  {
    id: 'tides',
    text: 'The tide rose quickly. Fishermen hauled their boats above the tide line before the storm tide.',
  },
  {
    id: 'orchard',
    text: 'Apple trees need pruning in winter. Pruned apple trees give larger apples and healthier branches.',
  },
  {
    id: 'library',
    text: 'The new library opened downtown. Readers praised the quiet library rooms and the friendly staff.',
  },
  { id: 'harbour', text: 'Ferries left the harbour at dawn. The harbour master counted every ferry twice.' },
  { id: 'garden', text: 'The community garden grew beans and tomatoes. Neighbours shared the garden tools.' },
];

type Outcome = EventEnvelope<FanOutCompleted | FanOutFailed | FanOutRetry>;

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What the keywords skill itself says for each document (the expected values are computed, not copied). */
async function keywordsOutputs(): Promise<{ inputId: string; output: SkillOutput }[]> {
  const skill = createDefaultSkillRegistry().require('keywords');
  const signal = new AbortController().signal;
  return Promise.all(
    documents.map(async (d) => ({
      inputId: d.id,
      output: await skill.run({ id: d.id, text: d.text, params: { top: 4 } }, { signal }),
    })),
  );
}

function combineOf(outputs: readonly { inputId: string; output: SkillOutput }[]): SkillOutput {
  return createDefaultSkillRegistry().require('keywords').combine(outputs);
}

/**
 * A real MemoryStateStore that counts what the aggregator asks of it: calls per method and the
 * hash fields `hgetall` returns. `failOnce(method)` makes the next call of that method throw, as
 * a crash of the aggregator at that point would (the result is then redelivered).
 */
class CountingStateStore implements StateStore {
  readonly driver = 'memory';
  readonly calls = new Map<string, number>();
  fieldsRead = 0;
  private failing: string | undefined;

  constructor(private readonly store: MemoryStateStore) {}

  /** Calls of every method. */
  total(): number {
    return [...this.calls.values()].reduce((sum, n) => sum + n, 0);
  }

  reset(): void {
    this.calls.clear();
    this.fieldsRead = 0;
  }

  failOnce(method: keyof StateStore): void {
    this.failing = method;
  }

  private count(method: keyof StateStore): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    if (this.failing === method) {
      this.failing = undefined;
      throw new Error(`injected: the aggregator stops before ${method}`);
    }
  }

  async applyOnce(marker: string, ops: readonly StateOp[], markerTtlSeconds?: number): Promise<ApplyOnceResult> {
    this.count('applyOnce');
    return this.store.applyOnce(marker, ops, markerTtlSeconds);
  }
  async applyOnceChain(steps: readonly OnceStep[], markerTtlSeconds?: number): Promise<ChainResult> {
    this.count('applyOnceChain');
    return this.store.applyOnceChain(steps, markerTtlSeconds);
  }
  async recordSlot(write: SlotWrite): Promise<SlotWriteResult> {
    this.count('recordSlot');
    return this.store.recordSlot(write);
  }
  async reserve(claims: readonly WindowClaim[]): Promise<ReserveResult> {
    return this.store.reserve(claims);
  }
  async apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]> {
    this.count('apply');
    return this.store.apply(ops);
  }
  async get(key: string): Promise<string | null> {
    this.count('get');
    return this.store.get(key);
  }
  async hget(key: string, field: string): Promise<string | null> {
    this.count('hget');
    return this.store.hget(key, field);
  }
  async hmget(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    this.count('hmget');
    this.fieldsRead += fields.length;
    return this.store.hmget(key, fields);
  }
  async hgetall(key: string): Promise<Record<string, string>> {
    this.count('hgetall');
    const hash = await this.store.hgetall(key);
    this.fieldsRead += Object.keys(hash).length;
    return hash;
  }
  async lrange(key: string, start: number, stop: number): Promise<string[]> {
    this.count('lrange');
    return this.store.lrange(key, start, stop);
  }
  async smembers(key: string): Promise<string[]> {
    this.count('smembers');
    return this.store.smembers(key);
  }
  async zpage(key: string, page: Parameters<StateStore['zpage']>[1]): Promise<string[]> {
    this.count('zpage');
    return this.store.zpage(key, page);
  }
  async zcard(key: string): Promise<number> {
    this.count('zcard');
    return this.store.zcard(key);
  }
  async keys(pattern: string): Promise<string[]> {
    this.count('keys');
    return this.store.keys(pattern);
  }
  ping(): Promise<boolean> {
    return this.store.ping();
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

describe('AggregatorModule on a memory bus', () => {
  let broker: MemoryBroker;
  let client: EventBus;
  let state: CountingStateStore;
  let app: INestApplication;
  let registry: EventRegistry;
  let outputs: { inputId: string; output: SkillOutput }[];

  beforeAll(async () => {
    outputs = await keywordsOutputs();
  });

  beforeEach(async () => {
    broker = new MemoryBroker();
    client = broker.connect();
    state = new CountingStateStore(new MemoryStateStore());
    registry = createMeshEventRegistry();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'aggregator',
          broker,
          stateStore: state,
          env: { MESH_TRANSPORT: 'memory', MESH_INSTANCE_ID: 'agg-1', MESH_REGION: 'test', REDIS_URL: '' },
        }),
        AggregatorModule,
      ],
    })
    class AppModule {}
    app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
  });

  afterEach(async () => {
    await app.close();
    await client.close();
    broker.shutdown();
  });

  async function readAll(shortTopic: string): Promise<BusMessage[]> {
    const reader = await client.createReader({ topic: qualifyTopic(naming, shortTopic), startMessageId: 'earliest' });
    const out: BusMessage[] = [];
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(100);
      if (message) out.push(message);
    }
    await reader.close();
    return out;
  }

  /** Everything the aggregator published on workflow.events for the workflow. */
  async function outcomes(workflowId: string): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (const message of await readAll(Topics.workflowEvents)) {
      const decoded = registry.decode(message.payload);
      if (!decoded.ok) throw new Error(`undecodable: ${decoded.reason}`);
      if (decoded.envelope.correlationId === workflowId) out.push(decoded.envelope as Outcome);
    }
    return out;
  }

  async function first(workflowId: string, type: string): Promise<Outcome> {
    return eventually(type, async () => (await outcomes(workflowId)).find((e) => e.type === type));
  }

  async function publish(envelope: EventEnvelope<object>): Promise<void> {
    await client.publish(qualifyTopic(naming, Topics.taskResults), {
      payload: registry.encode(envelope),
      key: envelope.correlationId,
      properties: envelopeProperties(envelope),
    });
  }

  function started(
    workflowId: string,
    branchCount: number,
    policy: FanOutPolicySpec,
    strategy: AggregationStrategySpec = { type: 'combine' },
  ): EventEnvelope<FanOutStarted> {
    return registry.create(
      FanOutStartedV1,
      { stepPath: STEP, skill: 'keywords', branchCount, policy, strategy },
      orchestratorOrigin,
      {
        correlationId: workflowId,
      },
    );
  }

  interface ResultOptions {
    readonly attempt?: number;
    readonly branchCount?: number;
    readonly taskId?: string;
    readonly worker?: string;
  }

  const taskIdOf = (workflowId: string, index: number, attempt: number) => `${workflowId}:${STEP}:${index}:${attempt}`;

  function completed(
    workflowId: string,
    index: number,
    output: SkillOutput,
    options: ResultOptions = {},
  ): EventEnvelope<TaskCompleted> {
    const attempt = options.attempt ?? 1;
    return registry.create(
      TaskCompletedV1,
      {
        taskId: options.taskId ?? taskIdOf(workflowId, index, attempt),
        branchIndex: index,
        branchCount: options.branchCount ?? 3,
        skill: 'keywords',
        stepPath: STEP,
        attempt,
        inputId: documents[index].id,
        output,
        durationMs: 5,
        worker: options.worker ?? 'worker@w-1',
      },
      origin,
      { correlationId: workflowId, traceparent: `00-${TRACE_ID}-${String(index + 1).padStart(16, '0')}-01` },
    );
  }

  function failed(
    workflowId: string,
    index: number,
    error: string,
    options: ResultOptions = {},
  ): EventEnvelope<TaskFailed> {
    const attempt = options.attempt ?? 1;
    return registry.create(
      TaskFailedV1,
      {
        taskId: options.taskId ?? taskIdOf(workflowId, index, attempt),
        branchIndex: index,
        branchCount: options.branchCount ?? 3,
        skill: 'keywords',
        stepPath: STEP,
        attempt,
        inputId: documents[index].id,
        error,
        worker: options.worker ?? 'worker@w-2',
      },
      origin,
      { correlationId: workflowId },
    );
  }

  function settled(): Promise<true> {
    return eventually('the aggregator to settle task.results', async () =>
      broker.backlog(qualifyTopic(naming, Topics.taskResults), 'aggregator') === 0 ? true : undefined,
    );
  }

  it('completes with the skill’s combine in branch order, counting a duplicate result (same task id) once', async () => {
    const workflowId = 'wf-join-1';
    await publish(started(workflowId, 3, { type: 'fail-fast' }));
    // arrival 2, 0, (0 again: same task id, new event id, another worker and output), 1
    const sequence = [
      completed(workflowId, 2, outputs[2].output),
      completed(workflowId, 0, outputs[0].output),
      completed(workflowId, 0, { keywords: [{ term: 'duplicate', score: 1 }] }, { worker: 'worker@w-9' }),
      completed(workflowId, 1, outputs[1].output),
    ];
    expect(new Set(sequence.map((e) => e.id)).size).toBe(sequence.length);
    for (const event of sequence) await publish(event);

    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    // one more duplicate after the join must not publish again
    await publish(completed(workflowId, 1, outputs[1].output));
    await settled();

    expect(await outcomes(workflowId)).toHaveLength(1);
    expect(outcome.data).toEqual({
      stepPath: STEP,
      output: combineOf(outputs.slice(0, 3)),
      used: [0, 1, 2],
      failed: [],
    });
    expect(outcome.source).toBe('aggregator@agg-1');
    // caused by the result that completed the join, continuing its trace
    expect(outcome.causationId).toBe(sequence[3].id);
    expect(outcome.traceparent?.split('-')[1]).toBe(TRACE_ID);
    // three results counted, not four (or five)
    expect(await state.hget(`aggregator:join:${workflowId}:${STEP}`, 'seq')).toBe('3');
    expect(await readAll(Topics.deadLetter)).toEqual([]);
  });

  it('publishes nothing while branches are missing, nor for results of a step it was never told to join', async () => {
    await publish(started('wf-wait', 3, { type: 'fail-fast' }));
    await publish(completed('wf-wait', 0, outputs[0].output));
    await publish(completed('wf-wait', 2, outputs[2].output));
    // a task step's result (its task id is not a branch's): no fanout.started for it
    await publish(completed('wf-task', 0, outputs[0].output, { branchCount: 1, taskId: `wf-task:${STEP}:1` }));
    await settled();
    expect(await outcomes('wf-wait')).toEqual([]);
    expect(await outcomes('wf-task')).toEqual([]);
  });

  it('counts branch results that came before their join was recorded (fanout.started failed once): they are nacked until it is', async () => {
    const workflowId = 'wf-early';
    await publish(completed(workflowId, 0, outputs[0].output));
    await publish(completed(workflowId, 1, outputs[1].output));
    await publish(started(workflowId, 2, { type: 'fail-fast' }));
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    await settled();
    expect(outcome.data.used).toEqual([0, 1]);
    expect(await outcomes(workflowId)).toHaveLength(1);
    expect(await readAll(Topics.deadLetter)).toEqual([]);
  });

  it('fail-fast: one failed branch fails the fan-out, naming it', async () => {
    const workflowId = 'wf-ff';
    await publish(started(workflowId, 3, { type: 'fail-fast' }));
    await publish(completed(workflowId, 0, outputs[0].output));
    await publish(failed(workflowId, 1, 'SkillInputError: keywords: input orchard: text is empty'));
    const outcome = (await first(workflowId, 'fanout.failed')) as EventEnvelope<FanOutFailed>;
    await publish(completed(workflowId, 2, outputs[2].output));
    await settled();
    expect(await outcomes(workflowId)).toHaveLength(1);
    expect(outcome.data.stepPath).toBe(STEP);
    expect(outcome.data.failed).toEqual([1]);
    expect(outcome.data.reason).toContain('orchard');
    expect(outcome.data.reason).toContain('text is empty');
  });

  it('quorum 3 of 5: completes from the first 3 completed branches, without waiting for the rest', async () => {
    const workflowId = 'wf-quorum';
    await publish(started(workflowId, 5, { type: 'quorum', k: 3 }));
    await publish(completed(workflowId, 0, outputs[0].output, { branchCount: 5 }));
    await publish(failed(workflowId, 1, 'Error: boom', { branchCount: 5 }));
    await publish(completed(workflowId, 3, outputs[3].output, { branchCount: 5 }));
    await settled();
    expect(await outcomes(workflowId)).toEqual([]); // 2 completed < k

    await publish(completed(workflowId, 4, outputs[4].output, { branchCount: 5 }));
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    await publish(completed(workflowId, 2, outputs[2].output, { branchCount: 5 })); // late: already decided
    await settled();
    expect(await outcomes(workflowId)).toHaveLength(1);
    expect(outcome.data).toEqual({
      stepPath: STEP,
      output: combineOf([outputs[0], outputs[3], outputs[4]]),
      used: [0, 3, 4],
      failed: [1],
    });
  });

  it('quorum out of reach: fails once completed + pending < k', async () => {
    const workflowId = 'wf-quorum-x';
    await publish(started(workflowId, 5, { type: 'quorum', k: 3 }));
    await publish(failed(workflowId, 0, 'Error: zero', { branchCount: 5 }));
    await publish(completed(workflowId, 1, outputs[1].output, { branchCount: 5 }));
    await publish(failed(workflowId, 2, 'Error: two', { branchCount: 5 }));
    await settled();
    expect(await outcomes(workflowId)).toEqual([]); // 1 completed + 2 pending = 3: still reachable
    await publish(failed(workflowId, 4, 'Error: four', { branchCount: 5 }));
    const outcome = (await first(workflowId, 'fanout.failed')) as EventEnvelope<FanOutFailed>;
    expect(outcome.data.failed).toEqual([0, 2, 4]);
    expect(outcome.data.reason).toContain('k=3');
  });

  it('a join whose policy does not compile (quorum k above the branches) fails the fan-out at once and counts no result', async () => {
    const workflowId = 'wf-bad-policy';
    await publish(started(workflowId, 2, { type: 'quorum', k: 3 }));
    const outcome = (await first(workflowId, 'fanout.failed')) as EventEnvelope<FanOutFailed>;
    expect(outcome.data).toEqual({
      stepPath: STEP,
      reason: expect.stringContaining('policy.k: quorum needs k between 1 and the 2 inputs'),
      failed: [],
    });
    await publish(completed(workflowId, 0, outputs[0].output, { branchCount: 2 }));
    await publish(completed(workflowId, 1, outputs[1].output, { branchCount: 2 }));
    await settled();
    expect(await outcomes(workflowId)).toHaveLength(1);
  });

  it('retry-branch: publishes the retry decision once, even when the failure is delivered twice, then completes', async () => {
    const workflowId = 'wf-retry';
    await publish(started(workflowId, 2, { type: 'retry-branch', maxRetries: 2 }));
    await publish(completed(workflowId, 0, outputs[0].output, { branchCount: 2 }));
    const failure = failed(workflowId, 1, 'Error: flaky', { branchCount: 2 });
    await publish(failure);
    await first(workflowId, 'fanout.retry');
    // the same failure again (a redelivery: same task id, new event id)
    await publish(failed(workflowId, 1, 'Error: flaky', { branchCount: 2 }));
    await settled();
    const retries = (await outcomes(workflowId)).filter((e) => e.type === 'fanout.retry');
    expect(retries).toHaveLength(1);
    expect(retries[0].data).toEqual({ stepPath: STEP, branches: [1], attempt: 2 });
    expect(retries[0].causationId).toBe(failure.id);

    await publish(completed(workflowId, 1, outputs[1].output, { branchCount: 2, attempt: 2 }));
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    expect(outcome.data).toEqual({ stepPath: STEP, output: combineOf(outputs.slice(0, 2)), used: [0, 1], failed: [] });
  });

  it('ignores a late result of an attempt a retry has replaced', async () => {
    const workflowId = 'wf-late';
    await publish(started(workflowId, 2, { type: 'retry-branch', maxRetries: 1 }));
    await publish(completed(workflowId, 0, outputs[0].output, { branchCount: 2 }));
    await publish(failed(workflowId, 1, 'Error: slow worker gave up', { branchCount: 2 }));
    await first(workflowId, 'fanout.retry');

    // attempt 1 answers after all: under its own task id, and under another one
    const stale = { keywords: [{ term: 'stale', score: 1 }] };
    await publish(completed(workflowId, 1, stale, { branchCount: 2, attempt: 1 }));
    await publish(
      completed(workflowId, 1, stale, { branchCount: 2, attempt: 1, taskId: `${taskIdOf(workflowId, 1, 1)}:late` }),
    );
    await settled();
    expect((await outcomes(workflowId)).map((e) => e.type)).toEqual(['fanout.retry']); // branch 1 still waits for attempt 2

    await publish(completed(workflowId, 1, outputs[1].output, { branchCount: 2, attempt: 2 }));
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    expect(outcome.data.output).toEqual(combineOf(outputs.slice(0, 2)));
    expect(JSON.stringify(outcome.data.output)).not.toContain('stale');
  });

  it('retry-branch exhausted: fails after maxRetries + 1 attempts', async () => {
    const workflowId = 'wf-exhausted';
    await publish(started(workflowId, 2, { type: 'retry-branch', maxRetries: 1 }));
    await publish(completed(workflowId, 0, outputs[0].output, { branchCount: 2 }));
    await publish(failed(workflowId, 1, 'Error: once', { branchCount: 2 }));
    await first(workflowId, 'fanout.retry');
    await publish(failed(workflowId, 1, 'Error: twice', { branchCount: 2, attempt: 2 }));
    const outcome = (await first(workflowId, 'fanout.failed')) as EventEnvelope<FanOutFailed>;
    await settled();
    expect((await outcomes(workflowId)).map((e) => e.type)).toEqual(['fanout.retry', 'fanout.failed']);
    expect(outcome.data.failed).toEqual([1]);
    expect(outcome.data.reason).toContain('2 attempts');
    expect(outcome.data.reason).toContain('twice');
  });

  it('costs O(n) for a fan-out of n branches: one state call per result, every branch read once', async () => {
    const workflowId = 'wf-wide';
    const n = 100;
    await publish(started(workflowId, n, { type: 'fail-fast' }, { type: 'all' }));
    await settled();
    state.reset();
    for (let i = 0; i < n; i++) {
      await publish(
        registry.create(
          TaskCompletedV1,
          {
            taskId: taskIdOf(workflowId, i, 1),
            branchIndex: i,
            branchCount: n,
            skill: 'keywords',
            stepPath: STEP,
            attempt: 1,
            inputId: `doc-${i}`,
            output: { rank: i },
            durationMs: 1,
            worker: 'worker@w-1',
          },
          origin,
          { correlationId: workflowId },
        ),
      );
    }
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    await settled();
    expect(outcome.data.used).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(outcome.data.output).toEqual({
      type: 'all',
      outputs: Array.from({ length: n }, (_, i) => ({ branchIndex: i, inputId: `doc-${i}`, output: { rank: i } })),
    });
    // Re-reading every branch on every result would be ~n²/2 = 5,050 fields and ~5n calls.
    expect(state.calls.get('recordSlot')).toBe(n);
    expect(state.calls.get('hgetall')).toBe(1);
    expect(state.fieldsRead).toBe(n);
    expect(state.total()).toBeLessThanOrEqual(n + 2); // + the branches read once + the decided flag
  });

  it('keeps the counts right through a retry: failed → pending at the next attempt → completed', async () => {
    const workflowId = 'wf-counts';
    const counts = () => state.hgetall(`aggregator:join:${workflowId}:${STEP}:counts`);
    await publish(started(workflowId, 3, { type: 'retry-branch', maxRetries: 1 }));
    await publish(completed(workflowId, 0, outputs[0].output));
    await publish(failed(workflowId, 1, 'Error: flaky'));
    await first(workflowId, 'fanout.retry');
    await settled();
    expect(await counts()).toEqual({ completed: '1', failed: '0', pending: '1' });
    // a redelivered failure of attempt 1 changes nothing
    await publish(failed(workflowId, 1, 'Error: flaky'));
    await publish(completed(workflowId, 1, outputs[1].output, { attempt: 2 }));
    await settled();
    expect(await counts()).toEqual({ completed: '2', failed: '0', pending: '0' });
    expect((await outcomes(workflowId)).map((e) => e.type)).toEqual(['fanout.retry']);
    await publish(completed(workflowId, 2, outputs[2].output));
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    expect(outcome.data).toEqual({
      stepPath: STEP,
      output: combineOf(outputs.slice(0, 3)),
      used: [0, 1, 2],
      failed: [],
    });
    expect(await state.hgetall(`aggregator:join:${workflowId}:${STEP}:states`)).toEqual({
      '0': '1:completed',
      '1': '2:completed',
      '2': '1:completed',
    });
  });

  it('finishes the join on redelivery when it stopped between counting the last result and deciding', async () => {
    const workflowId = 'wf-crash';
    await publish(started(workflowId, 3, { type: 'fail-fast' }));
    await publish(completed(workflowId, 0, outputs[0].output));
    await publish(completed(workflowId, 1, outputs[1].output));
    await settled();
    // the last result is counted, then the handler dies before it reads the branches
    state.failOnce('hgetall');
    const last = completed(workflowId, 2, outputs[2].output);
    await publish(last);
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    await settled();
    expect(outcome.data.output).toEqual(combineOf(outputs.slice(0, 3)));
    expect(outcome.causationId).toBe(last.id); // the redelivery of the same event
    expect(await outcomes(workflowId)).toHaveLength(1);
    // counted once although delivered twice
    expect(await state.hget(`aggregator:join:${workflowId}:${STEP}`, 'seq')).toBe('3');
    expect(await state.hgetall(`aggregator:join:${workflowId}:${STEP}:counts`)).toEqual({ completed: '3' });
  });

  it('decides a join announced before branches were counted (no countsBranches in its spec) on every result', async () => {
    const workflowId = 'wf-legacy';
    await state.apply([
      {
        op: 'hset',
        key: `aggregator:join:${workflowId}:${STEP}`,
        field: 'spec',
        value: JSON.stringify({
          skill: 'keywords',
          branchCount: 2,
          policy: { type: 'fail-fast' },
          strategy: { type: 'combine' },
        }),
      },
      // branch 0 recorded before the upgrade: in the branches hash, not counted
      {
        op: 'hset',
        key: `aggregator:join:${workflowId}:${STEP}:branches`,
        field: '0',
        value: JSON.stringify({
          inputId: documents[0].id,
          status: 'completed',
          attempt: 1,
          output: outputs[0].output,
          seq: 1,
        }),
      },
    ]);
    await publish(completed(workflowId, 1, outputs[1].output, { branchCount: 2 }));
    const outcome = (await first(workflowId, 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    expect(outcome.data).toEqual({ stepPath: STEP, output: combineOf(outputs.slice(0, 2)), used: [0, 1], failed: [] });
  });

  it('joins interleaved workflows independently', async () => {
    await publish(started('wf-x', 3, { type: 'fail-fast' }));
    await publish(started('wf-y', 3, { type: 'fail-fast' }));
    for (const index of [1, 0, 2]) {
      await publish(completed('wf-x', index, outputs[index].output));
      await publish(completed('wf-y', 2 - index, outputs[2 - index].output));
    }
    const x = (await first('wf-x', 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    const y = (await first('wf-y', 'fanout.completed')) as EventEnvelope<FanOutCompleted>;
    expect(x.data.output).toEqual(combineOf(outputs.slice(0, 3)));
    expect(y.data.output).toEqual(combineOf(outputs.slice(0, 3)));
  });
});
