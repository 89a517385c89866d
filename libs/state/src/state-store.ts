/**
 * The StateStore port: the Redis projection of the mesh's event log. Handlers are
 * at-least-once, so every state change goes through `applyOnce`, which records an
 * idempotency marker atomically with the change: a redelivered event changes nothing twice.
 */

/** One write inside an atomic applyOnce. Keys are logical; the store adds its prefix. */
export type StateOp =
  /** Result: 'OK'. */
  | { readonly op: 'set'; readonly key: string; readonly value: string }
  /** Result: 1 if the field was added, 0 if an existing field was updated. */
  | { readonly op: 'hset'; readonly key: string; readonly field: string; readonly value: string }
  /** Sets the field only if absent; result 1 if set, 0 if it existed. */
  | { readonly op: 'hsetnx'; readonly key: string; readonly field: string; readonly value: string }
  /** Result: the new value. */
  | { readonly op: 'hincrby'; readonly key: string; readonly field: string; readonly by: number }
  /** Result: the new list length. */
  | { readonly op: 'rpush'; readonly key: string; readonly value: string }
  /** Result: 1 if added, 0 if already a member. */
  | { readonly op: 'sadd'; readonly key: string; readonly member: string }
  /** Result: 1 if the key existed (of any type), 0 otherwise. */
  | { readonly op: 'del'; readonly key: string }
  /** Sets the key's time to live (a positive integer of milliseconds). Result: 1 if the key exists, else 0. */
  | { readonly op: 'pexpire'; readonly key: string; readonly ms: number }
  /** Adds a member to a sorted set (or updates its score). Result: 1 if added, 0 if it was a member. */
  | { readonly op: 'zadd'; readonly key: string; readonly score: number; readonly member: string }
  /** Result: 1 if the member was removed, 0 if it was not there. */
  | { readonly op: 'zrem'; readonly key: string; readonly member: string };

export type StateOpResult = string | number | null;

/** The ops that give `keys` `ms` milliseconds to live: how a role retires an ended workflow's state. */
export function expireOps(keys: readonly string[], ms: number): StateOp[] {
  return keys.map((key) => ({ op: 'pexpire', key, ms }));
}

export interface ApplyOnceResult {
  /** False when the marker already existed: nothing was written. */
  readonly applied: boolean;
  /** One result per op, in order (empty when not applied). */
  readonly results: readonly StateOpResult[];
}

/** One field of a hash. */
export interface HashField {
  readonly key: string;
  readonly field: string;
}

/**
 * `recordSlot`: records the state of one slot of a set of slots (e.g. the branches of a join)
 * once, and keeps the number of slots in each state beside them, so a caller learns where the
 * whole set stands in one round trip without reading every slot.
 */
export interface SlotWrite {
  /** Idempotency marker, as for applyOnce: a write whose marker exists changes nothing. */
  readonly marker: string;
  /** Hash of the slots' states: field = slot, value = `<version>:<state>`. */
  readonly slotsKey: string;
  /** Hash of the number of slots in each state: field = state, value = count. */
  readonly countsKey: string;
  readonly slot: string;
  /** A non-negative integer. A write older than the slot's version is stale and changes nothing; an equal one replaces it. */
  readonly version: number;
  readonly state: string;
  /** Written in the same atomic step as the slot, only when it is recorded (as applyOnce's ops). */
  readonly ops?: readonly StateOp[];
  /** Nothing is checked or written unless this hash field exists (outcome `missing`). */
  readonly requires?: HashField;
  /** Hash fields read in the same atomic step, after any write. */
  readonly reads?: readonly HashField[];
  /** Default 7 days, as for applyOnce. */
  readonly markerTtlSeconds?: number;
}

export interface SlotWriteResult {
  /**
   * `recorded`: the slot, its count and the ops were written. `duplicate`: the marker existed.
   * `stale`: the slot holds a newer version. `missing`: `requires` does not exist. Only
   * `recorded` writes anything (and records the marker).
   */
  readonly outcome: 'recorded' | 'duplicate' | 'stale' | 'missing';
  /** Slots per state after the step (a state that had slots and has none left reads 0). */
  readonly counts: Readonly<Record<string, number>>;
  /** The values of `reads`, in order (null when absent). */
  readonly values: readonly (string | null)[];
  /** One result per op when recorded, else empty. */
  readonly results: readonly StateOpResult[];
}

/** One step of `applyOnceChain`: what `applyOnce(marker, ops)` would apply. */
export interface OnceStep {
  readonly marker: string;
  readonly ops: readonly StateOp[];
}

export interface ChainResult {
  /** How many steps, from the first, were applied (the rest found their marker, or followed one that did). */
  readonly applied: number;
  /** One array of op results per applied step. */
  readonly results: readonly (readonly StateOpResult[])[];
}

/**
 * One sliding window of `reserve`: a sorted set whose members are claims scored by the time they
 * were granted, each counting toward `limit` for `windowMs` after it. Requests per minute, tokens
 * per minute and leases (a concurrency slot that frees itself once its holder stops renewing it)
 * are all such windows. A member is `<weight>:<id>` (windowMember): its weight is what it counts.
 */
export interface WindowClaim {
  readonly key: string;
  /** `<weight>:<id>`, unique per claim (windowMember). Renew or resize it later with zadd/zrem ops. */
  readonly member: string;
  /** Sum of the weights the window may hold (a positive integer). */
  readonly limit: number;
  /** How long a claim counts after it is granted (a positive integer of milliseconds). */
  readonly windowMs: number;
}

export interface ReserveResult {
  /** True when every claim was added; false when one did not fit (then none was added). */
  readonly granted: boolean;
  /** The store's clock (epoch ms) when it decided: the score of the claims when granted. */
  readonly at: number;
  /** When not granted, how long until the claims that did not fit would (0 when granted). */
  readonly retryAfterMs: number;
}

/** A window member of `weight` (a positive integer) for the claim `id`. */
export function windowMember(weight: number, id: string): string {
  return `${weight}:${id}`;
}

/** The weight of a window member (1 when it has none). */
export function windowWeight(member: string): number {
  const match = /^(\d+):/.exec(member);
  return match ? Number(match[1]) : 1;
}

export interface StateStore {
  /** 'redis' or 'memory'. */
  readonly driver: string;
  /**
   * Atomically: if `marker` has not been recorded, record it and run every op; otherwise do
   * nothing. Markers live for `markerTtlSeconds` (default 7 days).
   */
  applyOnce(marker: string, ops: readonly StateOp[], markerTtlSeconds?: number): Promise<ApplyOnceResult>;
  /**
   * Atomically, in one round trip: applies each step as `applyOnce` would, in order, stopping at
   * the first step whose marker exists — it and every step after it write nothing. For
   * transitions that must follow each other (a step's end, then the start of the step it leads
   * to): one write where there were as many round trips as steps, and a later step is never
   * recorded without the ones before it. The ops of the steps that apply are validated together
   * before anything is written (a failure writes nothing, markers included).
   */
  applyOnceChain(steps: readonly OnceStep[], markerTtlSeconds?: number): Promise<ChainResult>;
  /**
   * Atomically, in one round trip: unless `requires` is absent, the slot holds a newer version or
   * the marker exists, records the marker, sets the slot to `<version>:<state>`, moves one count
   * from its previous state to the new one, and runs `ops`; then reads `countsKey` and `reads`.
   * Ops are validated before anything is written, as in applyOnce.
   */
  recordSlot(write: SlotWrite): Promise<SlotWriteResult>;
  /** Runs ops atomically without a marker (for writes that are idempotent by themselves). */
  apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]>;
  /**
   * Atomically, on the store's clock: drops each window's claims older than its `windowMs`, and
   * adds every claim if each fits (its window's weights plus its own within `limit`, or its window
   * empty, so a claim above the limit runs alone); otherwise adds none. Each window key is given
   * `windowMs` to live. The limits shared by every process of the mesh (LLM rate limits).
   */
  reserve(claims: readonly WindowClaim[]): Promise<ReserveResult>;
  get(key: string): Promise<string | null>;
  hget(key: string, field: string): Promise<string | null>;
  /** The values of `fields` of a hash, in order (null when absent). */
  hmget(key: string, fields: readonly string[]): Promise<(string | null)[]>;
  hgetall(key: string): Promise<Record<string, string>>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  smembers(key: string): Promise<string[]>;
  /**
   * One page of a sorted set whose members all have the same score, in lexicographic order
   * (`desc` for newest first when members are UUID v7 ids): the members after `after` (exclusive;
   * from the start without it), at most `limit`. O(log n + limit), as Redis's ZRANGE BYLEX.
   */
  zpage(
    key: string,
    page: { readonly after?: string; readonly limit: number; readonly order: 'asc' | 'desc' },
  ): Promise<string[]>;
  /** Members of a sorted set (0 when the key does not exist), as Redis's ZCARD. */
  zcard(key: string): Promise<number>;
  /** Logical keys (prefix stripped) matching a glob pattern, e.g. `workflow:*`. */
  keys(pattern: string): Promise<string[]>;
  /** True when the store answers (health checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
