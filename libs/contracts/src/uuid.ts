import { fillRandom, randomUint16 } from './entropy';

/** Millisecond + 12-bit counter state: ids from one state never go backwards. */
class Uuid7Clock {
  private lastMs = -1;
  private counter = 0;

  constructor(private readonly clamp: boolean) {}

  next(now: number): [ms: number, counter: number] {
    // Same millisecond (or, for the system clock, one that went back): stay and count; on
    // counter overflow borrow the next millisecond (RFC 9562 §6.2, method 1).
    if (now === this.lastMs || (this.clamp && now < this.lastMs)) {
      if (++this.counter > 0xfff) {
        this.lastMs++;
        this.counter = 0;
      }
    } else {
      this.lastMs = now;
      this.counter = randomUint16() & 0x7ff; // headroom before overflow
    }
    return [this.lastMs, this.counter];
  }
}

const systemClock = new Uuid7Clock(true);
const explicitClock = new Uuid7Clock(false);

/**
 * UUID v7 (RFC 9562): 48-bit Unix ms timestamp, a 12-bit counter, then random bits. Ids sort
 * by creation time, which keeps event logs and Redis keys readable. An explicit `at` is
 * encoded as given (tests, imported historical events) and does not disturb the system clock's
 * ordering.
 */
export function uuidv7(at?: number): string {
  const [ms, counter] = at === undefined ? systemClock.next(Date.now()) : explicitClock.next(at);
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(ms, 0, 6);
  fillRandom(bytes, 8, 8); // rand_b; bytes 6-7 are the version and the counter
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
