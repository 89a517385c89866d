import { opErrors, slotErrors, type StateOpName } from '../internal/validation';
import { loadLuaScript } from './lua-loader';

/** The Lua scripts (lua/*.lua, each with its KEYS/ARGV header), read once when the driver loads. */
export const APPLY_SCRIPT = loadLuaScript('apply');
export const CHAIN_SCRIPT = loadLuaScript('chain');
export const SLOT_SCRIPT = loadLuaScript('record-slot');
export const RESERVE_SCRIPT = loadLuaScript('reserve');

type Arg = string | number;

/**
 * The scripts' error codes (lua/includes/coded-error.lua) and the messages they stand for: the
 * memory driver's own (internal/validation.ts), so both drivers fail with the same text. Each
 * returns null when the arguments are not what the code carries.
 */
const CODED_ERRORS: Readonly<Record<string, (args: readonly Arg[]) => string | null>> = {
  OP_WRONG_TYPE: ([index, op, actual]) =>
    isIndex(index) && typeof op === 'string' && typeof actual === 'string'
      ? opErrors.wrongType(index, op as StateOpName, actual)
      : null,
  OP_NOT_INTEGER: ([index]) => (isIndex(index) ? opErrors.notInteger(index) : null),
  OP_UNSAFE_INTEGER: ([index]) => (isIndex(index) ? opErrors.unsafeInteger(index) : null),
  OP_UNKNOWN: ([index, op]) => (isIndex(index) && typeof op === 'string' ? opErrors.unknownOp(index, op) : null),
  SLOT_WRONG_TYPE: ([what, actual]) =>
    typeof what === 'string' && typeof actual === 'string' ? slotErrors.wrongType(what, actual) : null,
  SLOT_MALFORMED: ([slot]) => (typeof slot === 'string' ? slotErrors.malformed(slot) : null),
  SLOT_COUNT_NOT_INTEGER: ([state]) => (typeof state === 'string' ? slotErrors.notInteger(state) : null),
};

const CODED_REPLY = /^([A-Z_]+) (\[.*\])$/s;

/**
 * The one place a script's failure becomes the error callers see: a coded error reply
 * (`OP_WRONG_TYPE [2,"hset","string"]`) becomes an Error with the shared message, its reply as
 * the cause; anything else (a Redis or connection error) is returned as it is.
 */
export function scriptError(error: unknown): unknown {
  const reply = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  const match = typeof reply === 'string' ? CODED_REPLY.exec(reply) : null;
  const describe = match ? CODED_ERRORS[match[1] ?? ''] : undefined;
  if (!match || !describe) return error;
  const message = describe(parseArgs(match[2] ?? ''));
  return message === null ? error : new Error(message, { cause: error });
}

function parseArgs(json: string): readonly Arg[] {
  try {
    const args: unknown = JSON.parse(json);
    return Array.isArray(args) && args.every((arg) => typeof arg === 'string' || typeof arg === 'number') ? args : [];
  } catch {
    return [];
  }
}

function isIndex(value: Arg | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
