import type { SlotWrite, StateOp, StateStore } from '../state-store';
import { windowMember } from '../state-store';

/** How the shared spec gets a store of one driver. */
export interface StateStoreHarness {
  /** Opens a connected store; must reject (never skip) when the backend is unavailable. */
  open(): Promise<StateStore>;
  /** Removes everything the run wrote (called once, after all tests). */
  cleanup?(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The StateStore behaviour every driver must show. Call inside a `describe` per driver; each
 * test works under its own logical key namespace, so one store serves the whole suite.
 */
export function stateStoreConformance(harness: StateStoreHarness): void {
  let store: StateStore;
  let seq = 0;
  /** A fresh namespace per test: `t<n>:`. */
  let ns = '';
  const k = (name: string): string => `${ns}${name}`;

  beforeAll(async () => {
    store = await harness.open();
  });
  beforeEach(() => {
    ns = `t${++seq}:`;
  });
  afterAll(async () => {
    try {
      await harness.cleanup?.();
    } finally {
      await store?.close();
    }
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBe(true);
  });

  describe('applyOnce', () => {
    it('applies every op once and returns their results in order', async () => {
      const ops: StateOp[] = [
        { op: 'set', key: k('status'), value: 'running' },
        { op: 'hset', key: k('wf'), field: 'owner', value: 'alice' },
        { op: 'hincrby', key: k('wf'), field: 'steps', by: 2 },
        { op: 'rpush', key: k('log'), value: 'started' },
        { op: 'sadd', key: k('agents'), member: 'worker-1' },
      ];
      await expect(store.applyOnce(k('m1'), ops)).resolves.toEqual({ applied: true, results: ['OK', 1, 2, 1, 1] });
      expect(await store.get(k('status'))).toBe('running');
      expect(await store.hgetall(k('wf'))).toEqual({ owner: 'alice', steps: '2' });
      expect(await store.lrange(k('log'), 0, -1)).toEqual(['started']);
      expect(await store.smembers(k('agents'))).toEqual(['worker-1']);
    });

    it('does nothing on a second call with the same marker', async () => {
      const ops: StateOp[] = [
        { op: 'hincrby', key: k('wf'), field: 'n', by: 1 },
        { op: 'rpush', key: k('log'), value: 'x' },
        { op: 'set', key: k('s'), value: 'first' },
      ];
      expect((await store.applyOnce(k('m'), ops)).applied).toBe(true);
      const again = await store.applyOnce(k('m'), [...ops, { op: 'set', key: k('other'), value: 'y' }]);
      expect(again).toEqual({ applied: false, results: [] });
      expect(await store.hget(k('wf'), 'n')).toBe('1');
      expect(await store.lrange(k('log'), 0, -1)).toEqual(['x']);
      expect(await store.get(k('other'))).toBeNull();
    });

    it('records a marker for an empty batch', async () => {
      await expect(store.applyOnce(k('empty'), [])).resolves.toEqual({ applied: true, results: [] });
      await expect(store.applyOnce(k('empty'), [])).resolves.toEqual({ applied: false, results: [] });
    });

    it('forgets a marker after its TTL, so the batch applies again', async () => {
      const ops: StateOp[] = [{ op: 'hincrby', key: k('c'), field: 'n', by: 1 }];
      expect(await store.applyOnce(k('ttl'), ops, 1)).toEqual({ applied: true, results: [1] });
      expect((await store.applyOnce(k('ttl'), ops, 1)).applied).toBe(false);
      await sleep(1150);
      expect(await store.applyOnce(k('ttl'), ops, 1)).toEqual({ applied: true, results: [2] });
      expect(await store.hget(k('c'), 'n')).toBe('2');
    });

    it('applies exactly once under 50 concurrent calls with the same marker', async () => {
      const ops: StateOp[] = [
        { op: 'hincrby', key: k('wf'), field: 'count', by: 1 },
        { op: 'rpush', key: k('log'), value: 'once' },
      ];
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.applyOnce(k('race'), ops)));
      expect(outcomes.filter((o) => o.applied)).toEqual([{ applied: true, results: [1, 1] }]);
      expect(await store.hget(k('wf'), 'count')).toBe('1');
      expect(await store.lrange(k('log'), 0, -1)).toEqual(['once']);
    });

    it('is all-or-nothing: a failing op leaves no write and no marker behind', async () => {
      await store.apply([{ op: 'set', key: k('str'), value: 'plain' }]);
      const bad: StateOp[] = [
        { op: 'rpush', key: k('log'), value: 'a' },
        { op: 'hset', key: k('str'), field: 'f', value: 'v' },
      ];
      await expect(store.applyOnce(k('m'), bad)).rejects.toThrow(/WRONGTYPE op #2 \(hset\)/);
      expect(await store.lrange(k('log'), 0, -1)).toEqual([]);
      const fixed: StateOp[] = [{ op: 'rpush', key: k('log'), value: 'a' }];
      await expect(store.applyOnce(k('m'), fixed)).resolves.toEqual({ applied: true, results: [1] });
    });

    it('rejects invalid markers, TTLs and ops before writing anything', async () => {
      const ok: StateOp[] = [{ op: 'set', key: k('a'), value: 'v' }];
      await expect(store.applyOnce('', ok)).rejects.toThrow(/marker/);
      await expect(store.applyOnce(k('m'), ok, 0)).rejects.toThrow(/markerTtlSeconds/);
      await expect(store.applyOnce(k('m'), ok, 1.5)).rejects.toThrow(/markerTtlSeconds/);
      await expect(store.applyOnce(k('m'), [{ op: 'hincrby', key: k('h'), field: 'f', by: 0.5 }])).rejects.toThrow(
        /op #1 by/,
      );
      await expect(store.applyOnce(k('m'), [{ op: 'set', key: 'applied:x', value: 'v' }])).rejects.toThrow(/reserved/);
      const unknownOp = [{ op: 'lpush', key: k('l'), value: 'v' }] as unknown as StateOp[];
      await expect(store.applyOnce(k('m'), unknownOp)).rejects.toThrow(/unknown op "lpush"/);
      expect(await store.get(k('a'))).toBeNull();
      await expect(store.applyOnce(k('m'), ok)).resolves.toEqual({ applied: true, results: ['OK'] });
    });
  });

  describe('op results', () => {
    it('set: OK, and overwrites', async () => {
      expect(await store.apply([{ op: 'set', key: k('s'), value: 'a' }])).toEqual(['OK']);
      expect(await store.apply([{ op: 'set', key: k('s'), value: 'b' }])).toEqual(['OK']);
      expect(await store.get(k('s'))).toBe('b');
    });

    it('hset: 1 for a new field, 0 for an update', async () => {
      const results = await store.apply([
        { op: 'hset', key: k('h'), field: 'f', value: '1' },
        { op: 'hset', key: k('h'), field: 'f', value: '2' },
        { op: 'hset', key: k('h'), field: 'g', value: '3' },
      ]);
      expect(results).toEqual([1, 0, 1]);
      expect(await store.hgetall(k('h'))).toEqual({ f: '2', g: '3' });
    });

    it('hsetnx: 1 if set, 0 if the field existed (value kept)', async () => {
      const results = await store.apply([
        { op: 'hsetnx', key: k('h'), field: 'f', value: 'first' },
        { op: 'hsetnx', key: k('h'), field: 'f', value: 'second' },
      ]);
      expect(results).toEqual([1, 0]);
      expect(await store.hget(k('h'), 'f')).toBe('first');
    });

    it('hincrby: the new value, from 0 when absent, negative steps allowed', async () => {
      const results = await store.apply([
        { op: 'hincrby', key: k('h'), field: 'n', by: 5 },
        { op: 'hincrby', key: k('h'), field: 'n', by: -7 },
        { op: 'hset', key: k('h'), field: 'm', value: '40' },
        { op: 'hincrby', key: k('h'), field: 'm', by: 2 },
      ]);
      expect(results).toEqual([5, -2, 1, 42]);
      expect(await store.hget(k('h'), 'n')).toBe('-2');
    });

    it('hincrby: rejects a non-integer field and results beyond safe integers', async () => {
      await store.apply([{ op: 'hset', key: k('h'), field: 'word', value: 'abc' }]);
      await expect(store.apply([{ op: 'hincrby', key: k('h'), field: 'word', by: 1 }])).rejects.toThrow(
        /op #1 \(hincrby\): hash value is not an integer/,
      );
      await expect(
        store.apply([
          { op: 'hincrby', key: k('h'), field: 'big', by: Number.MAX_SAFE_INTEGER },
          { op: 'hincrby', key: k('h'), field: 'big', by: 1 },
        ]),
      ).rejects.toThrow(/op #2 \(hincrby\): result is outside the safe integer range/);
      expect(await store.hget(k('h'), 'big')).toBeNull();
    });

    it('rpush: the new list length', async () => {
      const results = await store.apply([
        { op: 'rpush', key: k('l'), value: 'a' },
        { op: 'rpush', key: k('l'), value: 'b' },
        { op: 'rpush', key: k('l'), value: 'c' },
      ]);
      expect(results).toEqual([1, 2, 3]);
      expect(await store.lrange(k('l'), 0, -1)).toEqual(['a', 'b', 'c']);
      expect(await store.lrange(k('l'), 1, 1)).toEqual(['b']);
      expect(await store.lrange(k('l'), -2, 99)).toEqual(['b', 'c']);
      expect(await store.lrange(k('l'), 2, 1)).toEqual([]);
    });

    it('sadd: 1 if added, 0 if already a member', async () => {
      const results = await store.apply([
        { op: 'sadd', key: k('set'), member: 'a' },
        { op: 'sadd', key: k('set'), member: 'a' },
        { op: 'sadd', key: k('set'), member: 'b' },
      ]);
      expect(results).toEqual([1, 0, 1]);
      expect((await store.smembers(k('set'))).sort()).toEqual(['a', 'b']);
    });

    it('del: 1 if the key existed, 0 otherwise, for any type', async () => {
      await store.apply([
        { op: 'set', key: k('s'), value: 'v' },
        { op: 'rpush', key: k('l'), value: 'v' },
      ]);
      const results = await store.apply([
        { op: 'del', key: k('s') },
        { op: 'del', key: k('s') },
        { op: 'del', key: k('l') },
        { op: 'del', key: k('never') },
      ]);
      expect(results).toEqual([1, 0, 1, 0]);
      expect(await store.get(k('s'))).toBeNull();
      expect(await store.lrange(k('l'), 0, -1)).toEqual([]);
    });

    it('zadd / zrem: 1 if added or removed, 0 otherwise; zpage pages in lexicographic order; zcard counts', async () => {
      const members = ['01', '02', '03', '04', '05'];
      const added = await store.apply(
        members.map((member) => ({ op: 'zadd' as const, key: k('z'), score: 0, member })),
      );
      expect(added).toEqual([1, 1, 1, 1, 1]);
      expect(await store.apply([{ op: 'zadd', key: k('z'), score: 0, member: '03' }])).toEqual([0]);
      expect(await store.zpage(k('z'), { limit: 2, order: 'desc' })).toEqual(['05', '04']);
      expect(await store.zpage(k('z'), { after: '04', limit: 2, order: 'desc' })).toEqual(['03', '02']);
      expect(await store.zpage(k('z'), { after: '02', limit: 2, order: 'desc' })).toEqual(['01']);
      expect(await store.zpage(k('z'), { after: '02', limit: 10, order: 'asc' })).toEqual(['03', '04', '05']);
      expect(
        await store.apply([
          { op: 'zrem', key: k('z'), member: '03' },
          { op: 'zrem', key: k('z'), member: '03' },
        ]),
      ).toEqual([1, 0]);
      expect(await store.zpage(k('z'), { limit: 10, order: 'asc' })).toEqual(['01', '02', '04', '05']);
      expect(await store.zpage(k('missing'), { limit: 10, order: 'asc' })).toEqual([]);
      expect([await store.zcard(k('z')), await store.zcard(k('missing'))]).toEqual([4, 0]);
      await expect(store.apply([{ op: 'zadd', key: k('z'), score: Number.NaN, member: 'x' }])).rejects.toThrow(/score/);
      await expect(store.zpage(k('z'), { limit: 0, order: 'asc' })).rejects.toThrow(/limit/);
    });

    it('pexpire: 1 when the key exists, which is gone after its time to live', async () => {
      await store.apply([{ op: 'hset', key: k('h'), field: 'f', value: 'v' }]);
      const results = await store.apply([
        { op: 'pexpire', key: k('h'), ms: 50 },
        { op: 'pexpire', key: k('never'), ms: 50 },
        { op: 'zadd', key: k('z'), score: 0, member: 'm' },
        { op: 'pexpire', key: k('z'), ms: 50 },
      ]);
      expect(results).toEqual([1, 0, 1, 1]);
      expect(await store.hget(k('h'), 'f')).toBe('v');
      await sleep(120);
      expect(await store.hgetall(k('h'))).toEqual({});
      expect(await store.zpage(k('z'), { limit: 10, order: 'asc' })).toEqual([]);
      expect(await store.keys(`${ns}*`)).toEqual([]);
      await expect(store.apply([{ op: 'pexpire', key: k('h'), ms: 0 }])).rejects.toThrow(
        /ms must be a positive integer/,
      );
    });

    it('sees earlier ops of the same batch (del then re-create as another type)', async () => {
      await store.apply([{ op: 'set', key: k('x'), value: 'string' }]);
      const results = await store.apply([
        { op: 'del', key: k('x') },
        { op: 'hset', key: k('x'), field: 'f', value: '1' },
        { op: 'hincrby', key: k('x'), field: 'f', by: 1 },
      ]);
      expect(results).toEqual([1, 1, 2]);
      expect(await store.hgetall(k('x'))).toEqual({ f: '2' });
    });

    it('apply with no ops returns no results', async () => {
      expect(await store.apply([])).toEqual([]);
    });
  });

  describe('reads', () => {
    it('return empty values for missing keys', async () => {
      expect(await store.get(k('none'))).toBeNull();
      expect(await store.hget(k('none'), 'f')).toBeNull();
      expect(await store.hgetall(k('none'))).toEqual({});
      expect(await store.lrange(k('none'), 0, -1)).toEqual([]);
      expect(await store.smembers(k('none'))).toEqual([]);
    });

    it('reject a read against a key of another type', async () => {
      await store.apply([{ op: 'rpush', key: k('l'), value: 'v' }]);
      await expect(store.get(k('l'))).rejects.toThrow(/WRONGTYPE/);
      await expect(store.hgetall(k('l'))).rejects.toThrow(/WRONGTYPE/);
      await expect(store.hmget(k('l'), ['f'])).rejects.toThrow(/WRONGTYPE/);
    });

    it('hmget: the named fields in order, null where absent', async () => {
      await store.apply([
        { op: 'hset', key: k('h'), field: 'a', value: '1' },
        { op: 'hset', key: k('h'), field: 'c', value: '3' },
      ]);
      expect(await store.hmget(k('h'), ['c', 'b', 'a', 'a'])).toEqual(['3', null, '1', '1']);
      expect(await store.hmget(k('h'), [])).toEqual([]);
      expect(await store.hmget(k('none'), ['a', 'b'])).toEqual([null, null]);
    });
  });

  describe('applyOnceChain', () => {
    const step = (marker: string, field: string, value: string) => ({
      marker: k(marker),
      ops: [{ op: 'hset' as const, key: k('h'), field, value }],
    });

    it('applies every step once, in order, with each step’s results', async () => {
      await expect(
        store.applyOnceChain([step('a', 'x', '1'), step('b', 'x', '2'), { marker: k('c'), ops: [] }]),
      ).resolves.toEqual({
        applied: 3,
        results: [[1], [0], []],
      });
      expect(await store.hgetall(k('h'))).toEqual({ x: '2' });
      // Each marker is recorded as applyOnce's would be.
      await expect(store.applyOnce(k('b'), [{ op: 'hset', key: k('h'), field: 'x', value: 'again' }])).resolves.toEqual(
        { applied: false, results: [] },
      );
      await expect(store.applyOnceChain([step('a', 'y', '1')])).resolves.toEqual({ applied: 0, results: [] });
      expect(await store.hgetall(k('h'))).toEqual({ x: '2' });
    });

    it('stops at the first step whose marker exists: it and the steps after it write nothing', async () => {
      await store.applyOnce(k('second'), []);
      await expect(
        store.applyOnceChain([step('first', 'a', '1'), step('second', 'b', '1'), step('third', 'c', '1')]),
      ).resolves.toEqual({
        applied: 1,
        results: [[1]],
      });
      expect(await store.hgetall(k('h'))).toEqual({ a: '1' });
      // The third step was not applied: its marker is free.
      await expect(store.applyOnce(k('third'), [])).resolves.toEqual({ applied: true, results: [] });
    });

    it('is all-or-nothing: a failing op in a step that would apply leaves no write and no marker', async () => {
      await store.apply([{ op: 'set', key: k('s'), value: 'string' }]);
      const failing = { marker: k('f2'), ops: [{ op: 'hset' as const, key: k('s'), field: 'f', value: 'v' }] };
      await expect(store.applyOnceChain([step('f1', 'a', '1'), failing])).rejects.toThrow(
        'WRONGTYPE op #2 (hset) targets a key holding a string',
      );
      expect(await store.hgetall(k('h'))).toEqual({});
      await expect(store.applyOnceChain([step('f1', 'a', '1')])).resolves.toEqual({ applied: 1, results: [[1]] });
      // A bad op after the stop is never run, so it fails nothing.
      await expect(store.applyOnceChain([step('f1', 'b', '1'), failing])).resolves.toEqual({ applied: 0, results: [] });
    });

    it('rejects a repeated marker and invalid ops before writing anything', async () => {
      await expect(store.applyOnceChain([step('r', 'a', '1'), step('r', 'b', '1')])).rejects.toThrow(/repeats marker/);
      await expect(
        store.applyOnceChain([{ marker: k('r'), ops: [{ op: 'nope' } as unknown as StateOp] }]),
      ).rejects.toThrow(/unknown op/);
      expect(await store.hgetall(k('h'))).toEqual({});
      await expect(store.applyOnceChain([])).resolves.toEqual({ applied: 0, results: [] });
    });

    it('applies a chain exactly once under 20 concurrent calls', async () => {
      const calls = Array.from({ length: 20 }, () =>
        store.applyOnceChain([
          { marker: k('c1'), ops: [{ op: 'hincrby', key: k('n'), field: 'first', by: 1 }] },
          { marker: k('c2'), ops: [{ op: 'hincrby', key: k('n'), field: 'second', by: 1 }] },
        ]),
      );
      const applied = (await Promise.all(calls)).map((r) => r.applied);
      expect(applied.filter((n) => n === 2)).toHaveLength(1);
      expect(applied.filter((n) => n === 0)).toHaveLength(19);
      expect(await store.hgetall(k('n'))).toEqual({ first: '1', second: '1' });
    });
  });

  describe('keys', () => {
    beforeEach(async () => {
      await store.apply(
        ['g:alpha', 'g:beta', 'g:b1', 'g:b22', 'g:a*b', 'other:x'].map((key): StateOp => ({
          op: 'set',
          key: k(key),
          value: '1',
        })),
      );
      await store.applyOnce(k('g:marker'), [{ op: 'sadd', key: k('g:set'), member: 'm' }]);
    });

    it('matches * and ? and strips the prefix', async () => {
      expect(await store.keys(k('g:*'))).toEqual([
        k('g:a*b'),
        k('g:alpha'),
        k('g:b1'),
        k('g:b22'),
        k('g:beta'),
        k('g:set'),
      ]);
      expect(await store.keys(k('g:b?'))).toEqual([k('g:b1')]);
      expect(await store.keys(k('g:b??'))).toEqual([k('g:b22')]);
      expect(await store.keys(k('*:x'))).toEqual([k('other:x')]);
      expect(await store.keys(k('g:nothing*'))).toEqual([]);
    });

    it('matches classes and escapes like Redis', async () => {
      expect(await store.keys(k('g:b[0-9]'))).toEqual([k('g:b1')]);
      expect(await store.keys(k('g:[^ab]*'))).toEqual([k('g:set')]);
      expect(await store.keys(k('g:a\\*b'))).toEqual([k('g:a*b')]);
    });

    it('does not list idempotency markers', async () => {
      const all = await store.keys('*');
      expect(all).toContain(k('g:set'));
      expect(all.some((key) => key.includes('marker'))).toBe(false);
    });
  });

  describe('recordSlot', () => {
    /** A slot write on `slots`/`counts` with the given marker, slot, version and state. */
    const write = (
      marker: string,
      slot: string,
      version: number,
      state: string,
      extra: Partial<SlotWrite> = {},
    ): SlotWrite => ({
      marker: k(marker),
      slotsKey: k('slots'),
      countsKey: k('counts'),
      slot,
      version,
      state,
      ...extra,
    });

    it('records once, counts slots per state, runs the ops and reads after the write, in one step', async () => {
      await store.apply([{ op: 'hset', key: k('join'), field: 'spec', value: 's' }]);
      const reads = [
        { key: k('join'), field: 'spec' },
        { key: k('join'), field: 'n' },
        { key: k('nothing'), field: 'x' },
      ];
      const ops: StateOp[] = [
        { op: 'hincrby', key: k('join'), field: 'n', by: 1 },
        { op: 'hset', key: k('records'), field: '0', value: 'r0' },
      ];
      await expect(
        store.recordSlot(write('m0', '0', 1, 'done', { ops, reads, requires: { key: k('join'), field: 'spec' } })),
      ).resolves.toEqual({
        outcome: 'recorded',
        counts: { done: 1 },
        values: ['s', '1', null],
        results: [1, 1],
      });
      // the same marker again: nothing written, the current picture still returned
      await expect(store.recordSlot(write('m0', '0', 1, 'done', { ops, reads }))).resolves.toEqual({
        outcome: 'duplicate',
        counts: { done: 1 },
        values: ['s', '1', null],
        results: [],
      });
      await store.recordSlot(write('m1', '1', 1, 'failed'));
      expect((await store.recordSlot(write('m2', '2', 1, 'done'))).counts).toEqual({ done: 2, failed: 1 });
      expect(await store.hgetall(k('slots'))).toEqual({ '0': '1:done', '1': '1:failed', '2': '1:done' });
      expect(await store.hgetall(k('join'))).toEqual({ spec: 's', n: '1' });
    });

    it('moves a slot between states: a newer or equal version replaces it, an older one is stale', async () => {
      await store.recordSlot(write('a1', '7', 1, 'failed'));
      expect(await store.recordSlot(write('a2', '7', 2, 'pending'))).toEqual(
        expect.objectContaining({ outcome: 'recorded', counts: { failed: 0, pending: 1 } }),
      );
      const stale = await store.recordSlot(
        write('a1-late', '7', 1, 'done', { ops: [{ op: 'set', key: k('touched'), value: 'x' }] }),
      );
      expect(stale).toEqual({ outcome: 'stale', counts: { failed: 0, pending: 1 }, values: [], results: [] });
      expect(await store.get(k('touched'))).toBeNull();
      // a stale write records no marker: the same marker is still free
      expect((await store.recordSlot(write('a1-late', '8', 1, 'done'))).outcome).toBe('recorded');
      expect((await store.recordSlot(write('a3', '7', 2, 'done'))).counts).toEqual({ failed: 0, pending: 0, done: 2 });
      // same version, same state: replaced, counted once
      expect((await store.recordSlot(write('a4', '7', 2, 'done'))).counts).toEqual({ failed: 0, pending: 0, done: 2 });
      expect(await store.hget(k('slots'), '7')).toBe('2:done');
    });

    it('writes nothing while `requires` is absent, and reads all the same', async () => {
      const result = await store.recordSlot(
        write('r', '0', 1, 'done', {
          requires: { key: k('join'), field: 'spec' },
          reads: [{ key: k('join'), field: 'decided' }],
          ops: [{ op: 'set', key: k('w'), value: 'x' }],
        }),
      );
      expect(result).toEqual({ outcome: 'missing', counts: {}, values: [null], results: [] });
      expect(await store.keys(k('*'))).toEqual([]);
      await store.apply([{ op: 'hset', key: k('join'), field: 'spec', value: 's' }]);
      expect(
        (await store.recordSlot(write('r', '0', 1, 'done', { requires: { key: k('join'), field: 'spec' } }))).outcome,
      ).toBe('recorded');
    });

    it('fails before writing anything: a failing op, a key of another type, a malformed slot', async () => {
      await store.apply([
        { op: 'set', key: k('str'), value: 'x' },
        { op: 'hset', key: k('h'), field: 'f', value: 'not a number' },
      ]);
      await expect(
        store.recordSlot(write('f1', '0', 1, 'done', { ops: [{ op: 'hincrby', key: k('h'), field: 'f', by: 1 }] })),
      ).rejects.toThrow('ERR op #1 (hincrby): hash value is not an integer');
      expect(await store.keys(k('*'))).toEqual([k('h'), k('str')]);
      // the marker was not kept
      expect((await store.recordSlot(write('f1', '0', 1, 'done'))).outcome).toBe('recorded');

      await expect(store.recordSlot(write('f2', '1', 1, 'done', { countsKey: k('str') }))).rejects.toThrow(
        'WRONGTYPE recordSlot: countsKey holds a string, not a hash',
      );
      await expect(
        store.recordSlot(write('f3', '1', 1, 'done', { reads: [{ key: k('str'), field: 'x' }] })),
      ).rejects.toThrow('WRONGTYPE recordSlot: reads #1 holds a string, not a hash');
      await store.apply([{ op: 'hset', key: k('slots'), field: 'bad', value: 'done' }]);
      await expect(store.recordSlot(write('f4', 'bad', 1, 'done'))).rejects.toThrow(
        'ERR recordSlot: slot bad does not hold <version>:<state>',
      );
      expect(await store.hgetall(k('counts'))).toEqual({ done: '1' });
    });

    it('rejects a bad request before sending it', async () => {
      await expect(store.recordSlot(write('v', '0', -1, 'done'))).rejects.toThrow(
        'version must be a non-negative safe integer',
      );
      await expect(store.recordSlot(write('v', '0', 1, ''))).rejects.toThrow('state must be a non-empty string');
      await expect(store.recordSlot(write('v', '0', 1, 'done', { countsKey: k('slots') }))).rejects.toThrow(
        'slotsKey and countsKey must differ',
      );
      await expect(
        store.recordSlot(write('v', '0', 1, 'done', { ops: [{ op: 'del', key: k('counts') }] })),
      ).rejects.toThrow('may not write the slots or counts key');
    });

    it('counts each slot once when writers race', async () => {
      const writes = Array.from({ length: 40 }, (_, i) =>
        store.recordSlot(write(`race-${i % 10}`, String(i % 10), 1, i % 10 < 3 ? 'failed' : 'done')),
      );
      const outcomes = await Promise.all(writes);
      expect(outcomes.filter((o) => o.outcome === 'recorded')).toHaveLength(10);
      expect(await store.hgetall(k('counts'))).toEqual({ done: '7', failed: '3' });
    });
  });

  describe('reserve', () => {
    const claim = (name: string, weight: number, id: string, limit: number, windowMs = 60_000) => ({
      key: k(name),
      member: windowMember(weight, id),
      limit,
      windowMs,
    });

    it('grants claims while their weights fit the limit, then says how long until they would', async () => {
      await expect(store.reserve([claim('rpm', 2, 'a', 3)])).resolves.toMatchObject({ granted: true, retryAfterMs: 0 });
      await expect(store.reserve([claim('rpm', 1, 'b', 3)])).resolves.toMatchObject({ granted: true });
      const refused = await store.reserve([claim('rpm', 1, 'c', 3)]);
      expect(refused.granted).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(await store.zcard(k('rpm'))).toBe(2);
    });

    it('adds every claim or none', async () => {
      await store.reserve([claim('slots', 1, 'held', 1)]);
      const refused = await store.reserve([claim('rpm', 1, 'x', 10), claim('slots', 1, 'x', 1)]);
      expect(refused.granted).toBe(false);
      expect(await store.zcard(k('rpm'))).toBe(0);
    });

    it('grants a claim above the limit when its window is empty, so it runs alone', async () => {
      await expect(store.reserve([claim('tpm', 500, 'big', 100)])).resolves.toMatchObject({ granted: true });
      await expect(store.reserve([claim('tpm', 1, 'small', 100)])).resolves.toMatchObject({ granted: false });
    });

    it('frees a claim once its window has passed, and after a zrem', async () => {
      await store.reserve([claim('lease', 1, 'a', 1, 50)]);
      await expect(store.reserve([claim('lease', 1, 'b', 1, 50)])).resolves.toMatchObject({ granted: false });
      await sleep(80);
      const later = await store.reserve([claim('lease', 1, 'b', 1, 50)]);
      expect(later.granted).toBe(true);
      await store.apply([{ op: 'zrem', key: k('lease'), member: windowMember(1, 'b') }]);
      await expect(store.reserve([claim('lease', 1, 'c', 1, 50)])).resolves.toMatchObject({ granted: true });
    });

    it('never grants more than the limit when callers race', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.reserve([claim('race', 1, `c${i}`, 5)])),
      );
      expect(results.filter((r) => r.granted)).toHaveLength(5);
    });

    it('rejects a malformed claim naming it', async () => {
      await expect(store.reserve([{ key: k('w'), member: 'no-weight', limit: 1, windowMs: 10 }])).rejects.toThrow(
        /claim #1 member/,
      );
      await expect(store.reserve([{ key: k('w'), member: '1:a', limit: 0, windowMs: 10 }])).rejects.toThrow(
        /claim #1 limit/,
      );
    });
  });

  it('round-trips unicode keys, fields, members and values', async () => {
    const value = 'héllo wörld — 日本語 🚀 \u0000 end';
    const results = await store.applyOnce(k('ünïcode-marker-🔑'), [
      { op: 'set', key: k('ключ'), value },
      { op: 'hset', key: k('表'), field: 'поле 🌍', value },
      { op: 'rpush', key: k('список'), value: '🚀' },
      { op: 'sadd', key: k('集合'), member: 'ä' },
    ]);
    expect(results).toEqual({ applied: true, results: ['OK', 1, 1, 1] });
    expect(await store.get(k('ключ'))).toBe(value);
    expect(await store.hgetall(k('表'))).toEqual({ 'поле 🌍': value });
    expect(await store.lrange(k('список'), 0, -1)).toEqual(['🚀']);
    expect(await store.smembers(k('集合'))).toEqual(['ä']);
    expect(await store.keys(k('*'))).toEqual([k('ключ'), k('список'), k('表'), k('集合')].sort());
    expect((await store.applyOnce(k('ünïcode-marker-🔑'), [])).applied).toBe(false);
  });

  it('after close, ping is false and calls reject', async () => {
    const other = await harness.open();
    await other.close();
    await expect(other.ping()).resolves.toBe(false);
    await expect(other.get(k('x'))).rejects.toThrow(/closed/);
    await expect(other.close()).resolves.toBeUndefined();
  });
}
