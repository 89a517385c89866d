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
const better = (x: Bid, xSeq: number, y: Bid, ySeq: number) =>
  x.price < y.price || (x.price === y.price && xSeq < ySeq);

interface Run {
  readonly fills: Fill[][];
  readonly snapshots: BookSnapshot[];
  /** How often each interesting path ran, so the test can show it was exercised. */
  readonly seen: { repriceFills: number; multiFills: number; expired: number; cancelled: number };
}

/** A resting bid as it stood before an op, with its arrival position. */
interface RestingBid {
  readonly bid: Bid;
  readonly seq: number;
  readonly remaining: number;
}

/** An incoming (or repriced) ask was matched against resting bids: check best-crossing-bid. */
function checkAskSide(ask: Ask, fills: readonly Fill[], restingBids: readonly RestingBid[], now: number): void {
  expect(fills.length).toBeLessThanOrEqual(1);
  const crossing = restingBids.filter((r) => crossRule(ask, r.bid, now));
  if (fills.length === 0) {
    expect(crossing).toEqual([]); // nothing crossed, so nothing was owed a fill
    return;
  }
  const chosen = crossing.find((r) => r.bid.id === fills[0].bidId);
  expect(chosen).toBeDefined(); // the filled bid was resting and crosses
  expect(crossing.filter((other) => better(other.bid, other.seq, chosen!.bid, chosen!.seq))).toEqual([]);
}

/** Applies ops to a book, checking the invariants around every step against the test's own record. */
class CheckedRun {
  private readonly book = new OrderBook({ now: 1000 });
  private readonly asks = new Map<string, Ask>(); // the test's record, budgets updated on reprice
  private readonly bids = new Map<string, Bid>();
  private readonly filledAsks = new Set<string>();
  private readonly bidFills = new Map<string, number>();
  readonly run: Run = { fills: [], snapshots: [], seen: { repriceFills: 0, multiFills: 0, expired: 0, cancelled: 0 } };

  apply(op: Op): void {
    const before = this.book.snapshot();
    const restingBids = before.bids.map((b): RestingBid => ({
      bid: this.bids.get(b.id)!,
      seq: b.seq,
      remaining: b.remaining,
    }));
    const fills = this.step(op, before, restingBids);
    this.checkFills(fills, op.now);
    const after = this.book.snapshot();
    this.checkBook(after, op.now);
    this.run.fills.push(fills);
    this.run.snapshots.push(after);
  }

  private step(op: Op, before: BookSnapshot, restingBids: readonly RestingBid[]): Fill[] {
    switch (op.kind) {
      case 'ask': {
        const fills = this.book.addAsk(op.ask, op.now);
        this.asks.set(op.ask.id, op.ask);
        checkAskSide(op.ask, fills, restingBids, op.now);
        return fills;
      }
      case 'reprice':
        return this.reprice(op, before, restingBids);
      case 'bid':
        return this.bid(op, before, restingBids);
      case 'cancel': {
        const wasResting = before.asks.some((a) => a.id === op.id) || before.bids.some((b) => b.id === op.id);
        expect(this.book.cancel(op.id)).toBe(wasResting);
        if (wasResting) this.run.seen.cancelled += 1;
        return [];
      }
      case 'expire': {
        const report = this.book.expire(op.now);
        this.run.seen.expired += report.expiredAsks.length + report.expiredBids.length;
        for (const a of report.expiredAsks) expect(expiredAt(this.asks.get(a.id)!.deadline, op.now)).toBe(true);
        for (const b of report.expiredBids) expect(expiredAt(this.bids.get(b.id)!.expiresAt, op.now)).toBe(true);
        return [];
      }
    }
  }

  private reprice(
    op: Extract<Op, { kind: 'reprice' }>,
    before: BookSnapshot,
    restingBids: readonly RestingBid[],
  ): Fill[] {
    if (before.asks.length === 0) return [];
    const target = before.asks[Math.floor(op.pick * before.asks.length)];
    const repriced = { ...this.asks.get(target.id)!, budget: op.budget };
    this.asks.set(target.id, repriced);
    const fills = this.book.reprice(target.id, op.budget, op.now);
    checkAskSide(repriced, fills, restingBids, op.now);
    this.run.seen.repriceFills += fills.length;
    return fills;
  }

  private bid(op: Extract<Op, { kind: 'bid' }>, before: BookSnapshot, restingBids: readonly RestingBid[]): Fill[] {
    const fills = this.book.addBid(op.bid, op.now);
    this.bids.set(op.bid.id, op.bid);
    const capacity = op.bid.capacity ?? 1;
    expect(fills.length).toBeLessThanOrEqual(capacity);
    if (fills.length > 1) this.run.seen.multiFills += 1;
    const crossingAsks = before.asks.filter((a) => crossRule(this.asks.get(a.id)!, op.bid, op.now));
    const filledIds = fills.map((f) => f.askId);
    // the oldest crossing asks, in order, as many as capacity allows
    expect(filledIds).toEqual(crossingAsks.slice(0, capacity).map((a) => a.id));
    for (const f of fills) {
      // no resting bid that crosses this ask is as cheap (an equal price would be earlier)
      const ask = this.asks.get(f.askId)!;
      expect(restingBids.filter((r) => crossRule(ask, r.bid, op.now) && r.bid.price <= op.bid.price)).toEqual([]);
    }
    return fills;
  }

  /** Every fill obeys the crossing rule and is at the bid's price; no ask twice; capacity holds. */
  private checkFills(fills: readonly Fill[], now: number): void {
    for (const f of fills) {
      const ask = this.asks.get(f.askId)!;
      const bid = this.bids.get(f.bidId)!;
      expect(crossRule(ask, bid, now)).toBe(true);
      expect(f.price).toBe(bid.price);
      expect(f.workerId).toBe(bid.workerId);
      expect(this.filledAsks.has(f.askId)).toBe(false);
      this.filledAsks.add(f.askId);
      this.bidFills.set(f.bidId, (this.bidFills.get(f.bidId) ?? 0) + 1);
      expect(this.bidFills.get(f.bidId)).toBeLessThanOrEqual(bid.capacity ?? 1);
    }
  }

  private checkBook(after: BookSnapshot, now: number): void {
    // the resting book is never crossed (checked without expect() per pair: it is the hot loop)
    for (const a of after.asks) {
      const crossed = after.bids.filter((b) => crossRule(this.asks.get(a.id)!, this.bids.get(b.id)!, now));
      expect(crossed.map((b) => `${a.id} x ${b.id}`)).toEqual([]);
    }
    // filled asks never rest; resting bids show the capacity not yet used
    expect(after.asks.filter((a) => this.filledAsks.has(a.id))).toEqual([]);
    expect(after.bids.map((b) => b.remaining)).toEqual(
      after.bids.map((b) => (this.bids.get(b.id)!.capacity ?? 1) - (this.bidFills.get(b.id) ?? 0)),
    );
    // priority order: asks by seq, bids by (price, seq)
    expect(after.asks.every((a, i) => i === 0 || after.asks[i - 1].seq < a.seq)).toBe(true);
    expect(after.bids.every((q, i) => i === 0 || better(after.bids[i - 1], after.bids[i - 1].seq, q, q.seq))).toBe(
      true,
    );
  }
}

/** Applies the ops, checking the invariants around every step. */
function runChecked(ops: Op[]): Run {
  const checked = new CheckedRun();
  for (const op of ops) checked.apply(op);
  return checked.run;
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
