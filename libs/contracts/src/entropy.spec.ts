import { fillRandom, randomHex, randomUint16 } from './entropy';

describe('entropy pool', () => {
  it('never hands out the same bytes twice, across many 4 KiB refills', () => {
    // 20,000 × 8 bytes = 39 refills; a reused slice would repeat a 64-bit value.
    const spans = Array.from({ length: 20_000 }, () => randomHex(8));
    expect(spans.every((s) => /^[0-9a-f]{16}$/.test(s))).toBe(true);
    expect(new Set(spans).size).toBe(spans.length);
  });

  it('serves requests that do not fit in what is left of the pool from a fresh fill', () => {
    // Odd sizes leave remainders smaller than the next request at every refill.
    const chunks = Array.from({ length: 600 }, (_, i) => randomHex(1 + ((i * 37) % 61)));
    const long = chunks.filter((c) => c.length >= 32);
    expect(new Set(long).size).toBe(long.length);
    const whole = randomHex(4096);
    expect(whole).toHaveLength(8192);
    expect(new Set(whole.match(/.{32}/g)).size).toBe(256);
  });

  it('fills the asked range of a buffer and nothing else', () => {
    const target = Buffer.alloc(24, 0xee);
    fillRandom(target, 8, 8);
    expect(target.subarray(0, 8).equals(Buffer.alloc(8, 0xee))).toBe(true);
    expect(target.subarray(16).equals(Buffer.alloc(8, 0xee))).toBe(true);
    expect(target.subarray(8, 16).equals(Buffer.alloc(8, 0xee))).toBe(false);
  });

  it('gives 16-bit integers spread over their range', () => {
    const values = Array.from({ length: 4000 }, () => randomUint16());
    expect(values.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffff)).toBe(true);
    expect(values.filter((v) => v >= 0x8000).length).toBeGreaterThan(1700);
    expect(values.filter((v) => v >= 0x8000).length).toBeLessThan(2300);
  });

  it('refuses more than the pool holds', () => {
    expect(() => randomHex(4097)).toThrow(RangeError);
  });
});
