import { OrderBook } from './order-book';
import type { Ask, Bid, BookSnapshot, Fill } from './types';

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

type Op =
  | { readonly kind: 'ask'; readonly now: number; readonly ask: Ask }
  | { readonly kind: 'bid'; readonly now: number; readonly bid: Bid }
  | { readonly kind: 'cancel'; readonly now: number; readonly id: string }
  | { readonly kind: 'reprice'; readonly now: number; readonly pick: number; readonly budget: number }
  | { readonly kind: 'expire'; readonly now: number };

const CAPABILITIES = ['summarize', 'translate', 'classify'];

function generate(seed: number, count: number): Op[] {
  const random = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const maybe = <T>(p: number, value: () => T): T | undefined => (random() < p ? value() : undefined);
  const ops: Op[] = [];
  const ids: string[] = [];
  let now = 1000;
  for (let i = 0; i < count; i++) {
    now += int(0, 3);
    const roll = random();
    const capability = CAPABILITIES[int(0, CAPABILITIES.length - 1)];
    if (roll < 0.38) {
      const ask: Ask = {
        id: `a${i}`,
        capability,
        budget: int(1, 10),
        maxEstimatedMs: maybe(0.6, () => int(1, 10) * 100),
        deadline: maybe(0.5, () => now + int(1, 30)),
      };
      ids.push(ask.id);
      ops.push({ kind: 'ask', now, ask });
    } else if (roll < 0.76) {
      const bid: Bid = {
        id: `b${i}`,
        workerId: `w${int(1, 5)}`,
        capability,
        price: int(1, 10),
        estimatedMs: int(1, 10) * 100,
        capacity: maybe(0.4, () => int(2, 3)),
        expiresAt: maybe(0.5, () => now + int(1, 30)),
      };
      ids.push(bid.id);
      ops.push({ kind: 'bid', now, bid });
    } else if (roll < 0.84) {
      ops.push({ kind: 'cancel', now, id: ids.length > 0 ? ids[int(0, ids.length - 1)] : 'none' });
    } else if (roll < 0.94) {
      ops.push({ kind: 'reprice', now, pick: random(), budget: int(1, 12) });
    } else {
      ops.push({ kind: 'expire', now });
    }
  }
  return ops;
}

// The test's own statement of the rules (deliberately not imported from the code under test).
const expiredAt = (at: number | undefined, now: number) => at !== undefined && now >= at;
function crossRule(ask: Ask, bid: Bid, now: number): boolean {
  if (ask.capability !== bid.capability) return false;
  if (bid.price > ask.budget) return false;
  if (ask.maxEstimatedMs !== undefined && bid.estimatedMs > ask.maxEstimatedMs) return false;
  return !expiredAt(ask.deadline, now) && !expiredAt(bid.expiresAt, now);
}
/** Does resting bid `x` (arrival position xSeq) beat bid `y` for an ask? */
const better = (x: Bid, xSeq: number, y: Bid, ySeq: number) => x.price < y.price || (x.price === y.price && xSeq < ySeq);

interface Run {
  readonly fills: Fill[][];
  readonly snapshots: BookSnapshot[];
  /** How often each interesting path ran, so the test can show it was exercised. */
  readonly seen: { repriceFills: number; multiFills: number; expired: number; cancelled: number };
}

/** Applies the ops, checking the invariants around every step. */
function runChecked(ops: Op[]): Run {
  const book = new OrderBook({ now: 1000 });
  const asks = new Map<string, Ask>(); // the test's record, budgets updated on reprice
  const bids = new Map<string, Bid>();
  const filledAsks = new Set<string>();
  const bidFills = new Map<string, number>();
  const run: Run = { fills: [], snapshots: [], seen: { repriceFills: 0, multiFills: 0, expired: 0, cancelled: 0 } };

  for (const op of ops) {
    const before = book.snapshot();
    const restingBids = before.bids.map((b) => ({ bid: bids.get(b.id)!, seq: b.seq, remaining: b.remaining }));
    let fills: Fill[] = [];

    /** An incoming (or repriced) ask was matched against resting bids: check best-crossing-bid. */
    const checkAskSide = (ask: Ask) => {
      expect(fills.length).toBeLessThanOrEqual(1);
      const crossing = restingBids.filter((r) => crossRule(ask, r.bid, op.now));
      if (fills.length === 0) {
        expect(crossing).toEqual([]); // nothing crossed, so nothing was owed a fill
        return;
      }
      const chosen = crossing.find((r) => r.bid.id === fills[0].bidId);
      expect(chosen).toBeDefined(); // the filled bid was resting and crosses
      expect(crossing.filter((other) => better(other.bid, other.seq, chosen!.bid, chosen!.seq))).toEqual([]);
    };

    switch (op.kind) {
      case 'ask': {
        fills = book.addAsk(op.ask, op.now);
        asks.set(op.ask.id, op.ask);
        checkAskSide(op.ask);
        break;
      }
      case 'reprice': {
        if (before.asks.length === 0) break;
        const target = before.asks[Math.floor(op.pick * before.asks.length)];
        const repriced = { ...asks.get(target.id)!, budget: op.budget };
        asks.set(target.id, repriced);
        fills = book.reprice(target.id, op.budget, op.now);
        checkAskSide(repriced);
        run.seen.repriceFills += fills.length;
        break;
      }
      case 'bid': {
        fills = book.addBid(op.bid, op.now);
        bids.set(op.bid.id, op.bid);
        const capacity = op.bid.capacity ?? 1;
        expect(fills.length).toBeLessThanOrEqual(capacity);
        if (fills.length > 1) run.seen.multiFills += 1;
        const crossingAsks = before.asks.filter((a) => crossRule(asks.get(a.id)!, op.bid, op.now));
        const filledIds = fills.map((f) => f.askId);
        // the oldest crossing asks, in order, as many as capacity allows
        expect(filledIds).toEqual(crossingAsks.slice(0, capacity).map((a) => a.id));
        for (const f of fills) {
          // no resting bid that crosses this ask is as cheap (an equal price would be earlier)
          const ask = asks.get(f.askId)!;
          expect(restingBids.filter((r) => crossRule(ask, r.bid, op.now) && r.bid.price <= op.bid.price)).toEqual([]);
        }
        break;
      }
      case 'cancel': {
        const wasResting = before.asks.some((a) => a.id === op.id) || before.bids.some((b) => b.id === op.id);
        expect(book.cancel(op.id)).toBe(wasResting);
        if (wasResting) run.seen.cancelled += 1;
        break;
      }
      case 'expire': {
        const report = book.expire(op.now);
        run.seen.expired += report.expiredAsks.length + report.expiredBids.length;
        for (const a of report.expiredAsks) expect(expiredAt(asks.get(a.id)!.deadline, op.now)).toBe(true);
        for (const b of report.expiredBids) expect(expiredAt(bids.get(b.id)!.expiresAt, op.now)).toBe(true);
        break;
      }
    }

    // every fill obeys the crossing rule and is at the bid's price; no ask twice; capacity holds
    for (const f of fills) {
      const ask = asks.get(f.askId)!;
      const bid = bids.get(f.bidId)!;
      expect(crossRule(ask, bid, op.now)).toBe(true);
      expect(f.price).toBe(bid.price);
      expect(f.workerId).toBe(bid.workerId);
      expect(filledAsks.has(f.askId)).toBe(false);
      filledAsks.add(f.askId);
      bidFills.set(f.bidId, (bidFills.get(f.bidId) ?? 0) + 1);
      expect(bidFills.get(f.bidId)).toBeLessThanOrEqual(bid.capacity ?? 1);
    }

    const after = book.snapshot();
    // the resting book is never crossed (checked without expect() per pair: it is the hot loop)
    for (const a of after.asks) {
      const crossed = after.bids.filter((b) => crossRule(asks.get(a.id)!, bids.get(b.id)!, op.now));
      expect(crossed.map((b) => `${a.id} x ${b.id}`)).toEqual([]);
    }
    // filled asks never rest; resting bids show the capacity not yet used
    expect(after.asks.filter((a) => filledAsks.has(a.id))).toEqual([]);
    expect(after.bids.map((b) => b.remaining)).toEqual(after.bids.map((b) => (bids.get(b.id)!.capacity ?? 1) - (bidFills.get(b.id) ?? 0)));
    // priority order: asks by seq, bids by (price, seq)
    expect(after.asks.every((a, i) => i === 0 || after.asks[i - 1].seq < a.seq)).toBe(true);
    expect(after.bids.every((q, i) => i === 0 || better(after.bids[i - 1], after.bids[i - 1].seq, q, q.seq))).toBe(true);
    run.fills.push(fills);
    run.snapshots.push(after);
  }
  return run;
}

describe('OrderBook randomized invariants', () => {
  const seeds = [1, 7, 42, 2024, 99991];
  const runs = new Map<number, Run>();

  it.each(seeds)('holds the matching invariants over 200 seeded random orders (seed %i)', (seed) => {
    const run = runChecked(generate(seed, 200));
    runs.set(seed, run);
    // the generator must actually exercise matching, or the invariants prove nothing
    expect(run.fills.flat().length).toBeGreaterThan(20);
  });

  it('exercised multi-fill bids, repriced fills, expiry and cancels across the seeds', () => {
    const all = [...runs.values()];
    expect(all).toHaveLength(seeds.length);
    const total = (key: keyof Run['seen']) => all.reduce((sum, run) => sum + run.seen[key], 0);
    expect(total('multiFills')).toBeGreaterThan(0);
    expect(total('repriceFills')).toBeGreaterThan(0);
    expect(total('expired')).toBeGreaterThan(0);
    expect(total('cancelled')).toBeGreaterThan(0);
  });

  it('is deterministic: the same orders give the same fills and books', () => {
    const ops = generate(5, 200);
    expect(runChecked(ops)).toEqual(runChecked(ops));
    expect(generate(5, 200)).toEqual(ops);
  });
});
