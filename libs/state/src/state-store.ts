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
  | { readonly op: 'del'; readonly key: string };

export type StateOpResult = string | number | null;

export interface ApplyOnceResult {
  /** False when the marker already existed: nothing was written. */
  readonly applied: boolean;
  /** One result per op, in order (empty when not applied). */
  readonly results: readonly StateOpResult[];
}

export interface StateStore {
  /** 'redis' or 'memory'. */
  readonly driver: string;
  /**
   * Atomically: if `marker` has not been recorded, record it and run every op; otherwise do
   * nothing. Markers live for `markerTtlSeconds` (default 7 days).
   */
  applyOnce(marker: string, ops: readonly StateOp[], markerTtlSeconds?: number): Promise<ApplyOnceResult>;
  /** Runs ops atomically without a marker (for writes that are idempotent by themselves). */
  apply(ops: readonly StateOp[]): Promise<readonly StateOpResult[]>;
  get(key: string): Promise<string | null>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  smembers(key: string): Promise<string[]>;
  /** Logical keys (prefix stripped) matching a glob pattern, e.g. `workflow:*`. */
  keys(pattern: string): Promise<string[]>;
  /** True when the store answers (health checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
