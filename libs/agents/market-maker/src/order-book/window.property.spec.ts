import type { Ask, Bid } from './types';
import { bestBidFill } from './window';

/** mulberry32: a small seeded PRNG, so every run sees the same "random" orders. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOW = 1000;

/** An ask and 1-6 bids for it with prices from a small range, so equal prices are common. */
function generate(random: () => number): { ask: Ask; bids: Bid[] } {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const ask: Ask = {
    id: 'ask',
    capability: 'ask',
    budget: int(2, 8),
    maxEstimatedMs: random() < 0.5 ? int(2, 8) * 100 : undefined,
    deadline: NOW + 5000,
  };
  const bids = Array.from({ length: int(1, 6) }, (_, i): Bid => ({
    id: `bid-${i}`,
    workerId: `worker@${i}`,
    capability: 'ask',
    price: int(1, 10),
    estimatedMs: int(1, 10) * 100,
    expiresAt: NOW + 5000,
  }));
  return { ask, bids };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// The test's own statement of the rule: of the bids that cross (price within the budget,
// estimate within maxEstimatedMs), the lowest price wins, the earliest of equal prices.
function expectedWinner(ask: Ask, arrived: readonly Bid[]): Bid | undefined {
  const crossing = arrived.filter(
    (b) => b.price <= ask.budget && (ask.maxEstimatedMs === undefined || b.estimatedMs <= ask.maxEstimatedMs),
  );
  return crossing.reduce<Bid | undefined>(
    (best, b) => (best === undefined || b.price < best.price ? b : best),
    undefined,
  );
}

describe('bestBidFill: the best bid of a closed window, whatever order the bids arrived in', () => {
  it.each([1, 7, 42, 2024, 99991])('seed %i: 300 windows, each in 4 arrival orders', (seed) => {
    const random = prng(seed);
    let filled = 0;
    let tiesBroken = 0;
    for (let w = 0; w < 300; w++) {
      const { ask, bids } = generate(random);
      const prices = new Set<number | undefined>();
      for (let order = 0; order < 4; order++) {
        const arrived = shuffled(bids, random);
        const fill = bestBidFill(ask, arrived, NOW);
        const winner = expectedWinner(ask, arrived);
        expect(fill?.bidId).toBe(winner?.id);
        if (fill) {
          expect(fill.price).toBe(winner?.price);
          expect(fill.askId).toBe(ask.id);
          filled++;
          if (arrived.filter((b) => b.price === fill.price).length > 1) tiesBroken++;
        }
        prices.add(fill?.price);
      }
      // the price paid does not depend on the arrival order
      expect(prices.size).toBe(1);
    }
    // the generator must exercise fills and equal prices, or the property proves little
    expect(filled).toBeGreaterThan(300);
    expect(tiesBroken).toBeGreaterThan(20);
  });

  it('leaves out a bid the book refuses (an id used twice) and says so', () => {
    const refused: string[] = [];
    const bid = (id: string, price: number): Bid => ({ id, workerId: id, capability: 'ask', price, estimatedMs: 1 });
    const fill = bestBidFill(
      { id: 'ask', capability: 'ask', budget: 5 },
      [bid('a', 3), bid('a', 1), bid('b', 2)],
      NOW,
      (id) => refused.push(id),
    );
    expect(fill?.bidId).toBe('b');
    expect(refused).toEqual(['a']);
  });
});
