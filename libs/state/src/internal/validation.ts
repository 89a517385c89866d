import type { OnceStep, SlotWrite, StateOp, WindowClaim } from '../state-store';

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

const OP_NAMES: ReadonlySet<string> = new Set<StateOpName>([
  'set',
  'hset',
  'hsetnx',
  'hincrby',
  'rpush',
  'sadd',
  'del',
  'pexpire',
  'zadd',
  'zrem',
]);

/** Messages shared by both drivers for write-time failures, so callers see the same text. */
export const opErrors = {
  wrongType: (index: number, op: StateOpName, actual: string): string =>
    `WRONGTYPE op #${index} (${op}) targets a key holding a ${actual}`,
  notInteger: (index: number): string => `ERR op #${index} (hincrby): hash value is not an integer`,
  unsafeInteger: (index: number): string =>
    `ERR op #${index} (hincrby): result is outside the safe integer range (±${Number.MAX_SAFE_INTEGER})`,
  /** Only the Redis script can meet it (validateOps rejects unknown ops before they are sent). */
  unknownOp: (index: number, op: string): string => `ERR op #${index}: unknown op ${op}`,
} as const;

/** The Redis integer syntax HINCRBY accepts: no sign on zero, no leading zeros, no spaces. */
export const INTEGER_STRING = /^(?:0|-?[1-9][0-9]*)$/;

export function assertKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`StateStore: ${what} must be a non-empty string, got ${describe(key)}`);
  }
  if (key.startsWith(MARKER_NAMESPACE)) {
    throw new TypeError(
      `StateStore: ${what} '${key}' is in the '${MARKER_NAMESPACE}' namespace reserved for idempotency markers`,
    );
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

/** Checks reserve's claims: keys, `<weight>:<id>` members, positive integer limits and windows. */
export function validateClaims(claims: unknown): asserts claims is readonly WindowClaim[] {
  if (!Array.isArray(claims) || claims.length === 0)
    throw new TypeError(`StateStore: reserve needs a non-empty array of claims, got ${describe(claims)}`);
  claims.forEach((claim: unknown, i) => {
    const what = `claim #${i + 1}`;
    if (claim === null || typeof claim !== 'object') throw new TypeError(`StateStore: ${what} must be an object`);
    const { key, member, limit, windowMs } = claim as Record<string, unknown>;
    assertKey(key, `${what} key`);
    if (typeof member !== 'string' || !/^[1-9]\d*:./s.test(member))
      throw new TypeError(`StateStore: ${what} member must be '<weight>:<id>', got ${describe(member)}`);
    for (const [name, value] of [
      ['limit', limit],
      ['windowMs', windowMs],
    ] as const) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0)
        throw new RangeError(`StateStore: ${what} ${name} must be a positive integer, got ${describe(value)}`);
    }
  });
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
      case 'zrem':
        assertString(op['member'], `${at} member`);
        break;
      case 'zadd':
        assertString(op['member'], `${at} member`);
        if (typeof op['score'] !== 'number' || !Number.isFinite(op['score']))
          throw new TypeError(`StateStore: ${at} score must be a finite number, got ${describe(op['score'])}`);
        break;
      case 'pexpire':
        if (typeof op['ms'] !== 'number' || !Number.isSafeInteger(op['ms']) || op['ms'] <= 0)
          throw new RangeError(`StateStore: ${at} ms must be a positive integer, got ${describe(op['ms'])}`);
        break;
      case 'del':
        break;
    }
  });
}

/** Checks a zpage request. */
export function validatePage(page: unknown): void {
  const p = (typeof page === 'object' && page !== null ? page : {}) as Record<string, unknown>;
  if (p['after'] !== undefined) assertString(p['after'], 'after');
  if (typeof p['limit'] !== 'number' || !Number.isSafeInteger(p['limit']) || p['limit'] < 1)
    throw new RangeError(`StateStore: limit must be a positive integer, got ${describe(p['limit'])}`);
  if (p['order'] !== 'asc' && p['order'] !== 'desc')
    throw new TypeError(`StateStore: order must be 'asc' or 'desc', got ${describe(p['order'])}`);
}

/** Checks an applyOnceChain request: an array of { marker, ops } with distinct markers. */
export function validateChain(steps: unknown): asserts steps is readonly OnceStep[] {
  if (!Array.isArray(steps))
    throw new TypeError(`StateStore: applyOnceChain needs an array of steps, got ${describe(steps)}`);
  const markers = new Set<string>();
  steps.forEach((step: unknown, i) => {
    if (typeof step !== 'object' || step === null)
      throw new TypeError(`StateStore: step #${i + 1} must be { marker, ops }, got ${describe(step)}`);
    const { marker, ops } = step as Record<string, unknown>;
    assertMarker(marker);
    if (markers.has(marker)) throw new TypeError(`StateStore: step #${i + 1} repeats marker ${describe(marker)}`);
    markers.add(marker);
    validateOps(ops);
  });
}

/** Checks a recordSlot request (all but its ops, which validateOps checks). */
export function validateSlotWrite(write: unknown): asserts write is SlotWrite {
  if (typeof write !== 'object' || write === null)
    throw new TypeError(`StateStore: recordSlot needs an object, got ${describe(write)}`);
  const w = write as Record<string, unknown>;
  assertMarker(w['marker']);
  assertKey(w['slotsKey'], 'slotsKey');
  assertKey(w['countsKey'], 'countsKey');
  if (w['slotsKey'] === w['countsKey']) throw new TypeError('StateStore: slotsKey and countsKey must differ');
  assertString(w['slot'], 'slot');
  const version = w['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`StateStore: version must be a non-negative safe integer, got ${describe(version)}`);
  }
  if (typeof w['state'] !== 'string' || w['state'].length === 0)
    throw new TypeError(`StateStore: state must be a non-empty string, got ${describe(w['state'])}`);
  if (w['markerTtlSeconds'] !== undefined) assertTtl(w['markerTtlSeconds']);
  if (w['requires'] !== undefined) assertHashField(w['requires'], 'requires');
  const reads = w['reads'];
  if (reads !== undefined) {
    if (!Array.isArray(reads)) throw new TypeError(`StateStore: reads must be an array, got ${describe(reads)}`);
    reads.forEach((read: unknown, i) => assertHashField(read, `reads #${i + 1}`));
  }
  if (w['ops'] !== undefined) {
    validateOps(w['ops']);
    for (const op of w['ops']) {
      if (op.key === w['slotsKey'] || op.key === w['countsKey'])
        throw new TypeError(`StateStore: recordSlot ops may not write the slots or counts key ('${op.key}')`);
    }
  }
}

/** Messages shared by both drivers for recordSlot's failures. */
export const slotErrors = {
  wrongType: (what: string, actual: string): string => `WRONGTYPE recordSlot: ${what} holds a ${actual}, not a hash`,
  malformed: (slot: string): string => `ERR recordSlot: slot ${slot} does not hold <version>:<state>`,
  notInteger: (state: string): string => `ERR recordSlot: the count of ${state} is not an integer`,
} as const;

/** A slot's stored `<version>:<state>`, or null when it is not one. */
export function parseSlotValue(value: string): { readonly version: number; readonly state: string } | null {
  const match = /^(0|[1-9][0-9]*):(.+)$/s.exec(value);
  if (!match) return null;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? { version, state: match[2] ?? '' } : null;
}

function assertHashField(value: unknown, what: string): void {
  if (typeof value !== 'object' || value === null)
    throw new TypeError(`StateStore: ${what} must be { key, field }, got ${describe(value)}`);
  const { key, field } = value as Record<string, unknown>;
  assertKey(key, `${what} key`);
  assertString(field, `${what} field`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
