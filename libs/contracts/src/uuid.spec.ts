import { UUID_PATTERN, uuidv7 } from './uuid';

/** The 48-bit millisecond timestamp at the front of a v7 id. */
function timestampOf(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

function isStrictlyAscending(ids: readonly string[]): boolean {
  return ids.every((id, i) => i === 0 || ids[i - 1] < id);
}

describe('uuidv7', () => {
  it('has the RFC 9562 layout: version 7, variant 10xx, lower-case hex in 8-4-4-4-12 groups', () => {
    for (let i = 0; i < 200; i++) {
      const id = uuidv7();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const hex = id.replace(/-/g, '');
      // version: high nibble of byte 6
      expect(parseInt(hex[12], 16)).toBe(7);
      // variant: two high bits of byte 8 are 0b10
      expect(parseInt(hex.slice(16, 18), 16) >> 6).toBe(0b10);
      expect(UUID_PATTERN.test(id)).toBe(true);
    }
  });

  it('encodes the given millisecond timestamp in its first 48 bits', () => {
    const samples = [0, 1, 1_700_000_000_123, Date.UTC(2031, 4, 6, 7, 8, 9, 10), 2 ** 48 - 1];
    for (const ms of samples) expect(timestampOf(uuidv7(ms))).toBe(ms);
  });

  it('defaults to the current time', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(timestampOf(id)).toBeGreaterThanOrEqual(before);
    expect(timestampOf(id)).toBeLessThanOrEqual(after);
  });

  it('keeps 1000 ids generated in a loop in strictly increasing order, all distinct', () => {
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) ids.push(uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    expect(isStrictlyAscending(ids)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps order among ids minted for the same millisecond (the 12-bit counter), up to its 2048-id headroom', () => {
    const ms = 1_650_000_000_000;
    const ids = Array.from({ length: 2048 }, () => uuidv7(ms));
    expect(ids.every((id) => timestampOf(id) === ms)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(isStrictlyAscending(ids)).toBe(true);
  });

  it('orders ids of later milliseconds after earlier ones', () => {
    const ids = [1000, 1001, 5000, 1_700_000_000_000, 1_700_000_000_001].map((ms) => uuidv7(ms));
    expect(isStrictlyAscending(ids)).toBe(true);
  });

  it('rejects what is not a UUID with UUID_PATTERN', () => {
    for (const bad of [
      '',
      'not-a-uuid',
      '0190b2a4-7d3c-7abc-cdef-0123456789ab',
      '0190b2a4-7d3c-0abc-8def-0123456789ab',
      '0190b2a47d3c7abc8def0123456789ab',
    ]) {
      expect(UUID_PATTERN.test(bad)).toBe(false);
    }
  });
});
