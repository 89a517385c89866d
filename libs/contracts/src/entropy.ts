import { randomFillSync } from 'node:crypto';

/**
 * A 4 KiB pool of cryptographically random bytes, refilled with one `randomFillSync` when spent:
 * ids and trace context take their random bytes from it, a syscall per ~200 events instead of
 * 2–4 per event. Each byte is handed out once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

/** Reserves `length` fresh bytes of the pool and returns where they start. */
function take(length: number): number {
  if (length > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes at a time`);
  if (used + length > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += length;
  return start;
}

/** Copies `length` random bytes into `target` at `at`. */
export function fillRandom(target: Buffer, at: number, length: number): void {
  const start = take(length);
  pool.copy(target, at, start, start + length);
}

/** `length` random bytes as lower-case hex (trace and span ids). */
export function randomHex(length: number): string {
  const start = take(length);
  return pool.toString('hex', start, start + length);
}

/** A random unsigned 16-bit integer. */
export function randomUint16(): number {
  return pool.readUInt16BE(take(2));
}
