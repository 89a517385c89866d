import type { StateOp } from '../state-store';

/** Markers live this long unless the caller says otherwise: 7 days. */
export const DEFAULT_MARKER_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * Idempotency markers live under `<prefix>applied:<marker>`. Logical keys in this namespace are
 * reserved so a state key can never collide with (or be mistaken for) a marker.
 */
export const MARKER_NAMESPACE = 'applied:';

/** Redis's own message for a read against a key of another type (the memory driver reuses it). */
export const WRONGTYPE_MESSAGE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

export type StateOpName = StateOp['op'];

const OP_NAMES: ReadonlySet<string> = new Set<StateOpName>(['set', 'hset', 'hsetnx', 'hincrby', 'rpush', 'sadd', 'del']);

/** Messages shared by both drivers for write-time failures, so callers see the same text. */
export const opErrors = {
  wrongType: (index: number, op: StateOpName, actual: string): string =>
    `WRONGTYPE op #${index} (${op}) targets a key holding a ${actual}`,
  notInteger: (index: number): string => `ERR op #${index} (hincrby): hash value is not an integer`,
  unsafeInteger: (index: number): string =>
    `ERR op #${index} (hincrby): result is outside the safe integer range (±${Number.MAX_SAFE_INTEGER})`,
} as const;

/** The Redis integer syntax HINCRBY accepts: no sign on zero, no leading zeros, no spaces. */
export const INTEGER_STRING = /^(?:0|-?[1-9][0-9]*)$/;

export function assertKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`StateStore: ${what} must be a non-empty string, got ${describe(key)}`);
  }
  if (key.startsWith(MARKER_NAMESPACE)) {
    throw new TypeError(`StateStore: ${what} '${key}' is in the '${MARKER_NAMESPACE}' namespace reserved for idempotency markers`);
  }
}

export function assertMarker(marker: unknown): asserts marker is string {
  if (typeof marker !== 'string' || marker.length === 0) {
    throw new TypeError(`StateStore: marker must be a non-empty string, got ${describe(marker)}`);
  }
}

export function assertTtl(ttl: unknown): asserts ttl is number {
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new RangeError(`StateStore: markerTtlSeconds must be a positive integer, got ${describe(ttl)}`);
  }
}

export function assertInteger(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`StateStore: ${what} must be a safe integer, got ${describe(value)}`);
  }
}

function assertString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`StateStore: ${what} must be a string, got ${describe(value)}`);
}

/**
 * Checks the shape of every op before anything is sent or written. Ops often come from decoded
 * events, so the static types are not trusted. Index in messages is 1-based.
 */
export function validateOps(ops: unknown): asserts ops is readonly StateOp[] {
  if (!Array.isArray(ops)) throw new TypeError(`StateStore: ops must be an array, got ${describe(ops)}`);
  ops.forEach((candidate: unknown, i) => {
    const at = `op #${i + 1}`;
    if (typeof candidate !== 'object' || candidate === null) {
      throw new TypeError(`StateStore: ${at} must be an object, got ${describe(candidate)}`);
    }
    const op = candidate as Record<string, unknown>;
    if (typeof op['op'] !== 'string' || !OP_NAMES.has(op['op'])) {
      throw new TypeError(`StateStore: ${at} has unknown op ${describe(op['op'])}`);
    }
    assertKey(op['key'], `${at} key`);
    switch (op['op'] as StateOpName) {
      case 'set':
      case 'rpush':
        assertString(op['value'], `${at} value`);
        break;
      case 'hset':
      case 'hsetnx':
        assertString(op['field'], `${at} field`);
        assertString(op['value'], `${at} value`);
        break;
      case 'hincrby':
        assertString(op['field'], `${at} field`);
        assertInteger(op['by'], `${at} by`);
        break;
      case 'sadd':
        assertString(op['member'], `${at} member`);
        break;
      case 'del':
        break;
    }
  });
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
