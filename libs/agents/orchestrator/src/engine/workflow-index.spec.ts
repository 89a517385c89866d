import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { uuidv7, validateWorkflowSpec, type WorkflowSpec } from '@agent-mesh/contracts';
import { MemoryStateStore, RedisStateStore, type StateStore } from '@agent-mesh/state';
import { WorkflowState, type WorkflowStatus } from './workflow-state';

const REDIS_URL = process.env['REDIS_URL'] || 'redis://127.0.0.1:6379';

const spec: WorkflowSpec = validateWorkflowSpec({
  step: {
    kind: 'chain',
    stages: [
      { step: { kind: 'fan-out', skill: 'keywords', inputs: [{ id: 'a', text: 'alpha' }] } },
      {
        step: {
          kind: 'blackboard',
          board: 'default',
          seed: [{ kind: 'question', text: 'why' }],
          sources: [{ name: 'indexer', skill: 'keywords', on: 'question', produces: 'keywords' }],
          until: { kind: 'keywords', count: 1 },
          maxEntries: 10,
        },
      },
    ],
  },
});

const drivers: [string, () => Promise<StateStore>][] = [
  ['memory', async () => new MemoryStateStore()],
  ['redis', () => RedisStateStore.connect({ url: REDIS_URL, keyPrefix: `test:${randomBytes(6).toString('hex')}:` })],
];

describe.each(drivers)('the workflow index and retention (%s)', (_driver, open) => {
  let store: StateStore;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    const keys = await store.keys('*');
    if (keys.length > 0) await store.apply(keys.map((key) => ({ op: 'del' as const, key })));
    await store.close();
  });

  /** A workflow accepted, begun, running and, unless `status` is running, ended so. */
  async function workflow(workflows: WorkflowState, status: WorkflowStatus): Promise<string> {
    const id = uuidv7();
    const at = new Date().toISOString();
    await workflows.accept(id, spec, at, [{ at, type: 'workflow.submitted', source: 'test' }]);
    await workflows.begin(id, spec, at, 'event');
    await store.apply(workflows.runningOps(id));
    const root = { path: 'root', kind: 'chain' as const, status: 'running' as const, attempt: 1, startedAt: at };
    await store.applyOnceChain([workflows.startWrite(id, root)]);
    await store.apply([
      ...workflows.initBranchOps(id, 'root.stages.0', ['a']),
      { op: 'rpush', key: `orchestrator:board:${id}:root.stages.1:entries`, value: '{}' },
    ]);
    if (status === 'running') return id;
    const outcome = status === 'completed' ? { result: { ok: true } } : { reason: 'r', status: status as 'failed' };
    await store.applyOnceChain([workflows.finishWorkflowWrite(id, spec, `end-${id}`, at, outcome)]);
    return id;
  }

  it('pages newest first with a cursor, per status, each workflow once', async () => {
    const workflows = new WorkflowState(store);
    const completed: string[] = [];
    const running: string[] = [];
    for (let i = 0; i < 5; i++) {
      completed.push(await workflow(workflows, 'completed'));
      running.push(await workflow(workflows, 'running'));
    }
    const pages: string[][] = [];
    let after: string | undefined;
    do {
      const page = await workflows.list({ status: 'completed', limit: 2, after });
      pages.push(page.workflows.map((w) => w.id));
      expect(page.workflows.every((w) => w.status === 'completed')).toBe(true);
      after = page.nextCursor;
    } while (after);
    expect(pages.flat()).toEqual([...completed].reverse());
    expect(pages.slice(0, 2).map((p) => p.length)).toEqual([2, 2]);

    expect((await workflows.list({ status: 'running', limit: 100 })).workflows.map((w) => w.id)).toEqual(
      [...running].reverse(),
    );
    const all = await workflows.list({ limit: 100 });
    expect(all.workflows).toHaveLength(10);
    expect(all.nextCursor).toBeUndefined();
  });

  it('counts the workflows per status; one begun before its acceptance was written counts as running only', async () => {
    const workflows = new WorkflowState(store);
    const before = await workflows.countByStatus();
    await workflow(workflows, 'completed');
    await workflow(workflows, 'failed');
    await workflow(workflows, 'running');
    // The submitting process's begin got in first: its acceptance lands after, in the accepted index.
    const raced = uuidv7();
    const at = new Date().toISOString();
    await workflows.begin(raced, spec, at, 'submit');
    await store.apply(workflows.runningOps(raced));
    await workflows.accept(raced, spec, at);
    expect(await store.zcard('orchestrator:index:accepted')).toBe(before.accepted + 1);

    const after = await workflows.countByStatus();
    const added = Object.fromEntries(
      Object.entries(after).map(([status, n]) => [status, n - before[status as WorkflowStatus]]),
    );
    expect(added).toEqual({
      accepted: 0,
      running: 2,
      completed: 1,
      failed: 1,
      compensated: 0,
      cancelled: 0,
      'timed-out': 0,
    });
  });

  it('lets an ended workflow’s keys expire after the retention period, and the sweep takes it out of the index', async () => {
    const workflows = new WorkflowState(store, 200);
    const ended = await workflow(workflows, 'failed');
    const alive = await workflow(workflows, 'running');
    const keysOf = (id: string) => store.keys(`orchestrator:*${id}*`);
    expect((await keysOf(ended)).length).toBeGreaterThan(3);
    expect(await workflows.sweepExpired()).toBe(0); // not yet due

    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await keysOf(ended)).toEqual([]); // steps, branches, timeline, board: all of them
    expect((await keysOf(alive)).length).toBeGreaterThan(0); // a running workflow never expires
    expect(await workflows.sweepExpired()).toBe(1);
    const ids = (await workflows.list({ limit: 1000 })).workflows.map((w) => w.id);
    expect(ids).toContain(alive);
    expect(ids).not.toContain(ended);
    expect(await store.zpage('orchestrator:index:failed', { limit: 1000, order: 'asc' })).not.toContain(ended);
  });
});

describe('WorkflowState.begin on a Redis that lost its scripts (the real Redis)', () => {
  it('still sees its own begin: the read that goes out with the write is not overtaken by the script sent again', async () => {
    const prefix = `test:${randomBytes(6).toString('hex')}:`;
    const store = await RedisStateStore.connect({ url: REDIS_URL, keyPrefix: prefix });
    const admin = new Redis(REDIS_URL);
    try {
      const workflows = new WorkflowState(store);
      const at = new Date().toISOString();
      for (let i = 0; i < 5; i++) {
        // As after a Redis restart or failover: EVALSHA answers NOSCRIPT, and the script goes again as EVAL.
        await admin.script('FLUSH');
        const begun = await workflows.begin(uuidv7(), spec, at, 'submit');
        expect(begun).toMatchObject({ runnable: true, firstBegun: 'submit', submitter: { announced: false } });
      }
    } finally {
      await admin.eval(`for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end`, 0, `${prefix}*`);
      admin.disconnect();
      await store.close();
    }
  });
});
