import { MemoryStateStore, type StateStore } from '@agent-mesh/state';
import { validateWorkflowSpec, type WorkflowSpec } from '@agent-mesh/contracts';
import { WorkflowState, type BranchView, type TimelineEntry } from './workflow-state';

/** A store that counts its calls, over the real memory driver. */
function counting(store: StateStore): { store: StateStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

describe('WorkflowState branch projection', () => {
  const entry = (detail: string): TimelineEntry => ({
    at: new Date().toISOString(),
    type: 'task.completed',
    source: 'worker@w1',
    stepPath: 'root',
    detail,
  });
  const branch = (index: number, status: 'completed' | 'failed', attempt: number): BranchView => ({
    stepPath: 'root',
    index,
    inputId: `in-${index}`,
    status,
    attempt,
  });

  it('projects a result with its timeline entry in one call, once per task, never over a later attempt; others are late', async () => {
    const { store, calls } = counting(new MemoryStateStore());
    const workflows = new WorkflowState(store);
    await store.apply(workflows.initBranchOps('wf', 'root', ['in-0', 'in-1', 'in-2']));
    calls.clear();

    const result = (task: string, event: string) => ({ taskId: `wf:root:${task}`, eventId: event });
    expect(await workflows.recordBranch('wf', result('0:1', 'e1'), branch(0, 'failed', 1), entry('e1'))).toBe(
      'recorded',
    );
    expect([...calls]).toEqual([['recordSlot', 1]]); // one round trip per result
    // redelivered: nothing, and not late
    expect(await workflows.recordBranch('wf', result('0:1', 'e1'), branch(0, 'failed', 1), entry('e1'))).toBe(
      'recorded',
    );
    await workflows.recordBranch('wf', result('0:2', 'e2'), branch(0, 'completed', 2), entry('e2')); // the retry's result
    // a late result of attempt 1 (another event of its task): stale, late
    expect(await workflows.recordBranch('wf', result('0:1', 'e3'), branch(0, 'failed', 1), entry('e3'))).toBe('late');
    await workflows.recordBranch('wf', result('0:1', 'e3'), branch(0, 'failed', 1), entry('e3')); // ... redelivered
    await workflows.recordBranch('wf', result('2:1', 'e4'), branch(2, 'failed', 1), entry('e4'));
    // a second result of the same task (the real one after its deadline failed it): counted once, late
    expect(await workflows.recordBranch('wf', result('2:1', 'e5'), branch(2, 'completed', 1), entry('e5'))).toBe(
      'late',
    );

    const view = await workflows.branches('wf', 'root');
    expect(view.map((b) => [b.index, b.status, b.attempt])).toEqual([
      [0, 'completed', 2],
      [1, 'pending', 1],
      [2, 'failed', 1],
    ]);
    // branch 2 failed, 1 has no result yet: only 0 (its retry's) is a completed one
    expect(await workflows.completedBranches('wf', 'root', [2, 1, 0])).toEqual([false, false, true]);
    expect(await workflows.branchCounts('wf', 'root')).toEqual({ completed: 1, failed: 1 });
    // Every event once on the timeline, the stale one included.
    const timeline = await store.lrange('orchestrator:wf:wf:timeline', 0, -1);
    const entries = timeline.map((raw) => JSON.parse(raw) as TimelineEntry);
    expect(entries.map((e) => [e.detail, e.late ?? false])).toEqual([
      ['e1', false],
      ['e2', false],
      ['e3', true],
      ['e4', false],
      ['e5', true],
    ]);
  });
});

describe('WorkflowState spec cache', () => {
  const specOf = (n: number, textChars: number): WorkflowSpec =>
    validateWorkflowSpec({
      name: `w${n}`,
      step: { kind: 'task', skill: 'keywords', input: { id: `doc-${n}`, text: 'x'.repeat(textChars) } },
    });

  it('stays within its bounds however many workflows begin, and still answers for the evicted ones', async () => {
    const workflows = new WorkflowState(new MemoryStateStore());
    for (let n = 0; n < 700; n++) await workflows.begin(`wf-${n}`, specOf(n, 20), new Date().toISOString(), 'event');
    expect(workflows.specCacheSize().entries).toBeLessThanOrEqual(512);

    // Large specs: the character budget, not the count, bounds the cache.
    for (let n = 0; n < 100; n++)
      await workflows.begin(`big-${n}`, specOf(n, 200_000), new Date().toISOString(), 'event');
    expect(workflows.specCacheSize().chars).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(workflows.specCacheSize().entries).toBeLessThan(100);

    // Evicted specs are read back from the store.
    expect((await workflows.spec('wf-0'))?.name).toBe('w0');
    expect((await workflows.spec('big-0'))?.name).toBe('w0');
  });
});

describe('WorkflowState spec read back', () => {
  it('keeps a stored spec with fields of a newer version (it came by event), instead of refusing it', async () => {
    const store = new MemoryStateStore();
    const spec = validateWorkflowSpec({ step: { kind: 'task', skill: 'keywords', input: { id: 'a', text: 'alpha' } } });
    await new WorkflowState(store).begin('wf', spec, new Date().toISOString(), 'event');
    const stored = JSON.parse((await store.hget('orchestrator:wf:wf', 'spec')) ?? '{}') as Record<string, unknown>;
    await store.apply([
      { op: 'hset', key: 'orchestrator:wf:wf', field: 'spec', value: JSON.stringify({ ...stored, priority: 'high' }) },
    ]);
    // A restarted orchestrator: nothing cached, the spec is read back from the store.
    expect((await new WorkflowState(store).spec('wf'))?.step.kind).toBe('task');
    // The HTTP API stays strict.
    expect(() => validateWorkflowSpec({ ...stored, priority: 'high' })).toThrow(/priority/);
  });
});
