import type {
  ApplyOnceResult,
  ChainResult,
  OnceStep,
  ReserveResult,
  SlotWrite,
  SlotWriteResult,
  StateOp,
  StateOpResult,
  StateStore,
  WindowClaim,
} from '../state-store';
import { windowWeight } from '../state-store';
import { globToRegExp } from '../internal/glob';
import {
  DEFAULT_MARKER_TTL_SECONDS,
  INTEGER_STRING,
  WRONGTYPE_MESSAGE,
  assertInteger,
  assertKey,
  assertMarker,
  assertTtl,
  opErrors,
  parseSlotValue,
  slotErrors,
  validateChain,
  validateClaims,
  validateOps,
  validatePage,
  validateSlotWrite,
} from '../internal/validation';

export interface MemoryStateStoreOptions {
  /** Clock in epoch milliseconds, for marker expiry (tests may inject one). Default `Date.now`. */
  readonly now?: () => number;
}

type Entry =
  | { readonly type: 'string'; value: string }
  | { readonly type: 'hash'; readonly value: Map<string, string> }
  | { readonly type: 'list'; readonly value: string[] }
  | { readonly type: 'set'; readonly value: Set<string> }
  /** member → score. */
  | { readonly type: 'zset'; readonly value: Map<string, number> };

type EntryType = Entry['type'];
type EntryOf<T extends EntryType> = Extract<Entry, { type: T }>;

/** Sweep expired markers at most this often (they are also checked individually on use). */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * In-process StateStore with the Redis driver's semantics: atomic batches (validated in full
 * before the first write, so a failing op leaves nothing behind), markers with TTL, Redis
 * glob matching in `keys`, WRONGTYPE errors, and Redis range semantics in `lrange`.
 * Not shared between processes or instances: for tests and single-process runs.
 */
export class MemoryStateStore implements StateStore {
  readonly driver = 'memory';

  private readonly data = new Map<string, Entry>();
  /** marker → expiry (epoch ms). */
  private readonly markers = new Map<string, number>();
  /** key → expiry (epoch ms) of the keys given a time to live (pexpire). */
  private readonly expiries = new Map<string, number>();
  private readonly now: () => number;
  private lastSweep: number;
  private closed = false;

  constructor(options: MemoryStateStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.lastSweep = this.now();
  }

  async applyOnce(
    marker: string,
    ops: readonly StateOp[],
    markerTtlSeconds: number = DEFAULT_MARKER_TTL_SECONDS,
  ): Promise<ApplyOnceResult> {
    this.assertOpen();
    assertMarker(marker);
    assertTtl(markerTtlSeconds);
    validateOps(ops);
    const now = this.now();
    this.sweep(now);
    const expiresAt = this.markers.get(marker);
    if (expiresAt !== undefined && expiresAt > now) return { applied: false, results: [] };
    this.check(ops);
    this.markers.set(marker, now + markerTtlSeconds * 1000);
    return { applied: true, results: this.run(ops) };
  }

  async applyOnceChain(
    steps: readonly OnceStep[],
    markerTtlSeconds: number = DEFAULT_MARKER_TTL_SECONDS,
  ): Promise<ChainResult> {
    this.assertOpen();
    validateChain(steps);
    assertTtl(markerTtlSeconds);
    const now = this.now();
    this.sweep(now);
    const live = (marker: string): boolean => (this.markers.get(marker) ?? 0) > now;
    const firstDone = steps.findIndex((step) => live(step.marker));
    const applying = firstDone === -1 ? steps : steps.slice(0, firstDone);
    // Dry-run as one batch, as the Redis script does: a later step sees the earlier steps' writes.
    this.check(applying.flatMap((step) => step.ops));
    for (const step of applying) this.markers.set(step.marker, now + markerTtlSeconds * 1000);
    return { applied: applying.length, results: applying.map((step) => this.run(step.ops)) };
  }

  async recordSlot(write: SlotWrite): Promise<SlotWriteResult> {
    this.assertOpen();
    validateSlotWrite(write);
    const now = this.now();
    this.sweep(now);
    const { outcome, results } = this.writeSlot(write, now);
    const counts: Record<string, number> = {};
    for (const [state, count] of this.read(write.countsKey, 'hash')?.value ?? []) counts[state] = Number(count);
    const values = (write.reads ?? []).map(({ key, field }) => this.read(key, 'hash')?.value.get(field) ?? null);
    return { outcome, counts, values, results };
  }

  /** recordSlot's checks and writes, in the order of the Redis script (redis/lua/record-slot.lua). */
  private writeSlot(write: SlotWrite, now: number): Pick<SlotWriteResult, 'outcome' | 'results'> {
    const hashTypeOf = (key: string, what: string): void => {
      const type = this.data.get(key)?.type;
      if (type !== undefined && type !== 'hash') throw new Error(slotErrors.wrongType(what, type));
    };
    if (write.requires) hashTypeOf(write.requires.key, 'requires');
    hashTypeOf(write.slotsKey, 'slotsKey');
    hashTypeOf(write.countsKey, 'countsKey');
    (write.reads ?? []).forEach(({ key }, i) => hashTypeOf(key, `reads #${i + 1}`));

    if (write.requires && this.read(write.requires.key, 'hash')?.value.get(write.requires.field) === undefined) {
      return { outcome: 'missing', results: [] };
    }
    const stored = this.read(write.slotsKey, 'hash')?.value.get(write.slot);
    const current = stored === undefined ? undefined : parseSlotValue(stored);
    if (current === null) throw new Error(slotErrors.malformed(write.slot));
    if (current !== undefined && current.version > write.version) return { outcome: 'stale', results: [] };
    const expiresAt = this.markers.get(write.marker);
    if (expiresAt !== undefined && expiresAt > now) return { outcome: 'duplicate', results: [] };

    const counts = this.read(write.countsKey, 'hash')?.value;
    const moved =
      current !== undefined && current.state !== write.state
        ? [current.state, write.state]
        : current === undefined
          ? [write.state]
          : [];
    for (const state of moved) {
      const count = counts?.get(state);
      if (count !== undefined && !INTEGER_STRING.test(count)) throw new Error(slotErrors.notInteger(state));
    }
    const ops = write.ops ?? [];
    this.check(ops);

    this.markers.set(write.marker, now + (write.markerTtlSeconds ?? DEFAULT_MARKER_TTL_SECONDS) * 1000);
    this.upsert(write.slotsKey, 'hash', () => new Map<string, string>()).set(
      write.slot,
      `${write.version}:${write.state}`,
    );
    if (moved.length > 0) {
      const hash = this.upsert(write.countsKey, 'hash', () => new Map<string, string>());
      if (current !== undefined) hash.set(current.state, String(Number(hash.get(current.state) ?? '0') - 1));
      hash.set(write.state, String(Number(hash.get(write.state) ?? '0') + 1));
    }
    return { outcome: 'recorded', results: this.run(ops) };
  }

  async apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]> {
    this.assertOpen();
    validateOps(ops);
    this.check(ops);
    return this.run(ops);
  }

  async get(key: string): Promise<string | null> {
    this.assertOpen();
    assertKey(key);
    return this.read(key, 'string')?.value ?? null;
  }

  async hget(key: string, field: string): Promise<string | null> {
    this.assertOpen();
    assertKey(key);
    return this.read(key, 'hash')?.value.get(field) ?? null;
  }

  async hmget(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    this.assertOpen();
    assertKey(key);
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string'))
      throw new TypeError('StateStore: hmget fields must be an array of strings');
    const hash = this.read(key, 'hash')?.value;
    return fields.map((field) => hash?.get(field) ?? null);
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    this.assertOpen();
    assertKey(key);
    return Object.fromEntries(this.read(key, 'hash')?.value ?? []);
  }

  async reserve(claims: readonly WindowClaim[]): Promise<ReserveResult> {
    this.assertOpen();
    validateClaims(claims);
    const now = this.now();
    let retryAfterMs = 0;
    for (const claim of claims) {
      const window = this.read(claim.key, 'zset')?.value;
      if (window === undefined) continue;
      for (const [member, score] of window) if (score <= now - claim.windowMs) window.delete(member);
      retryAfterMs = Math.max(retryAfterMs, waitToFit(window, claim, now));
    }
    if (retryAfterMs > 0) return { granted: false, at: now, retryAfterMs };
    for (const claim of claims) {
      this.upsert(claim.key, 'zset', () => new Map<string, number>()).set(claim.member, now);
      this.expiries.set(claim.key, now + claim.windowMs);
    }
    return { granted: true, at: now, retryAfterMs: 0 };
  }

  async lrange(key: string, start: number, stop: number): Promise<string[]> {
    this.assertOpen();
    assertKey(key);
    assertInteger(start, 'start');
    assertInteger(stop, 'stop');
    const list = this.read(key, 'list')?.value ?? [];
    const from = Math.max(start < 0 ? list.length + start : start, 0);
    const to = Math.min(stop < 0 ? list.length + stop : stop, list.length - 1);
    return from > to ? [] : list.slice(from, to + 1);
  }

  async smembers(key: string): Promise<string[]> {
    this.assertOpen();
    assertKey(key);
    return [...(this.read(key, 'set')?.value ?? [])];
  }

  async zpage(
    key: string,
    page: { readonly after?: string; readonly limit: number; readonly order: 'asc' | 'desc' },
  ): Promise<string[]> {
    this.assertOpen();
    assertKey(key);
    validatePage(page);
    // Redis's BYLEX compares bytes; members here are ASCII ids, for which code-unit order is the same.
    const members = [...(this.read(key, 'zset')?.value.keys() ?? [])].sort();
    if (page.order === 'desc') members.reverse();
    const { after } = page;
    const rest = after === undefined ? members : members.filter((m) => (page.order === 'asc' ? m > after : m < after));
    return rest.slice(0, page.limit);
  }

  async zcard(key: string): Promise<number> {
    this.assertOpen();
    assertKey(key);
    return this.read(key, 'zset')?.value.size ?? 0;
  }

  async keys(pattern: string): Promise<string[]> {
    this.assertOpen();
    if (typeof pattern !== 'string') throw new TypeError('StateStore: keys pattern must be a string');
    const re = globToRegExp(pattern);
    return [...this.data.keys()].filter((key) => this.live(key) && re.test(key)).sort();
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryStateStore is closed');
  }

  /** False (and the key is gone) once its time to live has passed. */
  private live(key: string): boolean {
    const expiresAt = this.expiries.get(key);
    if (expiresAt === undefined || expiresAt > this.now()) return true;
    this.expiries.delete(key);
    this.data.delete(key);
    return false;
  }

  private read<T extends EntryType>(key: string, type: T): EntryOf<T> | undefined {
    if (!this.live(key)) return undefined;
    const entry = this.data.get(key);
    if (entry === undefined) return undefined;
    if (entry.type !== type) throw new Error(WRONGTYPE_MESSAGE);
    return entry as EntryOf<T>;
  }

  /**
   * Dry run: throws the error Redis's script would raise, before anything is written. Tracks
   * each key's type, and hash fields written earlier in the batch, as the batch would leave them.
   */
  private check(ops: readonly StateOp[]): void {
    const types = new Map<string, EntryType | 'none'>();
    const fields = new Map<string, Map<string, string>>();
    const replaced = new Set<string>();
    const typeOf = (key: string): EntryType | 'none' =>
      types.get(key) ?? (this.live(key) ? this.data.get(key)?.type : undefined) ?? 'none';
    ops.forEach((op, i) => {
      const index = i + 1;
      switch (op.op) {
        case 'set':
        case 'del':
          types.set(op.key, op.op === 'set' ? 'string' : 'none');
          replaced.add(op.key);
          fields.delete(op.key);
          return;
        case 'pexpire':
          return;
        case 'rpush':
        case 'sadd':
        case 'zadd':
        case 'zrem': {
          const want = op.op === 'rpush' ? 'list' : op.op === 'sadd' ? 'set' : 'zset';
          const actual = typeOf(op.key);
          if (actual !== 'none' && actual !== want) throw new Error(opErrors.wrongType(index, op.op, actual));
          if (op.op !== 'zrem') types.set(op.key, want);
          return;
        }
        case 'hset':
        case 'hsetnx':
        case 'hincrby': {
          const actual = typeOf(op.key);
          if (actual !== 'none' && actual !== 'hash') throw new Error(opErrors.wrongType(index, op.op, actual));
          types.set(op.key, 'hash');
          let written = fields.get(op.key);
          if (written === undefined) fields.set(op.key, (written = new Map()));
          const stored = replaced.has(op.key) ? undefined : this.read(op.key, 'hash')?.value.get(op.field);
          const current = written.get(op.field) ?? stored;
          if (op.op === 'hset') written.set(op.field, op.value);
          else if (op.op === 'hsetnx') {
            if (current === undefined) written.set(op.field, op.value);
          } else {
            written.set(op.field, String(incremented(current, op.by, index)));
          }
          return;
        }
      }
    });
  }

  /** Applies ops that `check` accepted; cannot fail part-way. */
  private run(ops: readonly StateOp[]): StateOpResult[] {
    return ops.map((op, i): StateOpResult => {
      switch (op.op) {
        case 'set':
          this.expiries.delete(op.key); // SET drops a time to live, as in Redis
          this.data.set(op.key, { type: 'string', value: op.value });
          return 'OK';
        case 'del':
          this.expiries.delete(op.key);
          return this.live(op.key) && this.data.delete(op.key) ? 1 : 0;
        case 'pexpire':
          if (!this.live(op.key) || !this.data.has(op.key)) return 0;
          this.expiries.set(op.key, this.now() + op.ms);
          return 1;
        case 'zadd': {
          const zset = this.upsert(op.key, 'zset', () => new Map<string, number>());
          const added = zset.has(op.member) ? 0 : 1;
          zset.set(op.member, op.score);
          return added;
        }
        case 'zrem': {
          const zset = this.read(op.key, 'zset')?.value;
          if (!zset?.delete(op.member)) return 0;
          if (zset.size === 0) {
            this.data.delete(op.key);
            this.expiries.delete(op.key);
          }
          return 1;
        }
        case 'hset': {
          const hash = this.upsert(op.key, 'hash', () => new Map<string, string>());
          const added = hash.has(op.field) ? 0 : 1;
          hash.set(op.field, op.value);
          return added;
        }
        case 'hsetnx': {
          const hash = this.upsert(op.key, 'hash', () => new Map<string, string>());
          if (hash.has(op.field)) return 0;
          hash.set(op.field, op.value);
          return 1;
        }
        case 'hincrby': {
          const hash = this.upsert(op.key, 'hash', () => new Map<string, string>());
          const next = incremented(hash.get(op.field), op.by, i + 1);
          hash.set(op.field, String(next));
          return next;
        }
        case 'rpush': {
          const list = this.upsert(op.key, 'list', () => [] as string[]);
          return list.push(op.value);
        }
        case 'sadd': {
          const set = this.upsert(op.key, 'set', () => new Set<string>());
          if (set.has(op.member)) return 0;
          set.add(op.member);
          return 1;
        }
      }
    });
  }

  private upsert<T extends EntryType>(key: string, type: T, create: () => EntryOf<T>['value']): EntryOf<T>['value'] {
    const existing: Entry | undefined = this.read(key, type);
    if (existing !== undefined) return existing.value as EntryOf<T>['value'];
    const value = create();
    this.data.set(key, { type, value } as Entry);
    return value;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [marker, expiresAt] of this.markers) if (expiresAt <= now) this.markers.delete(marker);
    for (const key of this.expiries.keys()) this.live(key);
  }
}

/** 0 when `claim` fits its (pruned) window; else the time until enough of the oldest claims expire. */
function waitToFit(window: ReadonlyMap<string, number>, claim: WindowClaim, now: number): number {
  const entries = [...window].filter(([member]) => member !== claim.member).sort((a, b) => a[1] - b[1]);
  let used = entries.reduce((sum, [member]) => sum + windowWeight(member), 0);
  const need = windowWeight(claim.member);
  if (used === 0 || used + need <= claim.limit) return 0;
  for (const [member, score] of entries) {
    used -= windowWeight(member);
    if (used === 0 || used + need <= claim.limit) return score + claim.windowMs - now;
  }
  return 0;
}

function incremented(current: string | undefined, by: number, index: number): number {
  if (current !== undefined && !INTEGER_STRING.test(current)) throw new Error(opErrors.notInteger(index));
  const base = current === undefined ? 0 : Number(current);
  const next = base + by;
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(next)) throw new Error(opErrors.unsafeInteger(index));
  return next;
}
