import type { Ask, Bid, BookSnapshot, ExpiryReport, Fill, RestingAsk, RestingBid } from './types';

/** True once `now` has reached `at` (an order with no expiry never expires). */
export function isExpired(at: number | undefined, now: number): boolean {
  return at !== undefined && at <= now;
}

/**
 * The crossing rule: an ask and a bid can trade when the capability is the same (exact string
 * match), the bid's price is within the ask's budget, the bid's estimate is within the ask's
 * `maxEstimatedMs` (when set) and neither order has expired at `now`.
 */
export function crosses(
  ask: Pick<Ask, 'capability' | 'budget' | 'maxEstimatedMs' | 'deadline'>,
  bid: Pick<Bid, 'capability' | 'price' | 'estimatedMs' | 'expiresAt'>,
  now: number,
): boolean {
  return (
    ask.capability === bid.capability &&
    bid.price <= ask.budget &&
    (ask.maxEstimatedMs === undefined || bid.estimatedMs <= ask.maxEstimatedMs) &&
    !isExpired(ask.deadline, now) &&
    !isExpired(bid.expiresAt, now)
  );
}

/** Deterministic fill id; ids are URI-encoded so `a:b`+`c` and `a`+`b:c` cannot collide. */
export function fillIdOf(askId: string, bidId: string): string {
  return `${encodeURIComponent(askId)}:${encodeURIComponent(bidId)}`;
}

/**
 * A resting ask. It carries the fields `crosses` reads (the current budget, which `reprice`
 * changes, and the order's constraints) so that matching passes it as is: no copy per ask
 * scanned on a deep book.
 */
interface MutableAsk {
  readonly order: Ask;
  readonly seq: number;
  readonly capability: string;
  budget: number;
  readonly maxEstimatedMs: number | undefined;
  readonly deadline: number | undefined;
}

function restingAsk(order: Ask, seq: number): MutableAsk {
  return {
    order,
    seq,
    capability: order.capability,
    budget: order.budget,
    maxEstimatedMs: order.maxEstimatedMs,
    deadline: order.deadline,
  };
}

interface MutableBid {
  readonly order: Bid;
  readonly seq: number;
  readonly capacity: number;
  remaining: number;
}

function requireString(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${field} must be a non-empty string`);
}

function requirePositive(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${field} must be a positive finite number (got ${String(value)})`);
  }
}

function requireNonNegative(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${field} must be a non-negative finite number (got ${String(value)})`);
  }
}

function requireFinite(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`${field} must be a finite number (got ${String(value)})`);
}

/** Priority of bids: lower price first, then earlier arrival. */
function bidBefore(a: MutableBid, b: MutableBid): boolean {
  return a.order.price < b.order.price || (a.order.price === b.order.price && a.seq < b.seq);
}

/**
 * A continuous double-sided book for one market: owners post asks (tasks with a budget),
 * workers post bids (a price per task). It is a reverse auction with price-time priority:
 *
 * - An incoming ask takes the best crossing resting bid: the lowest price, equal prices by
 *   earliest arrival. If none crosses, the ask rests.
 * - An incoming bid fills the oldest crossing resting asks, one per unit of capacity; any
 *   capacity left rests. (Resting orders never cross each other, so no resting bid could have
 *   served those asks: the incoming bid is the only candidate.)
 * - Every fill is at the bid's price. Each ask is filled exactly once (quantity 1).
 *
 * Time: priority uses sequence numbers (one counter per book, incremented by every accepted
 * `addAsk`, `addBid` and `reprice`), never wall time. Expiry uses the book's time, the
 * latest `now` passed to any method (it never moves backwards; omitted → unchanged). Expired
 * orders are never matched; they stay in the book (and in `snapshot`) until `expire` removes
 * and reports them.
 *
 * Ids are unique across asks and bids for the life of the book (a filled or cancelled id may
 * not be reused), which keeps fill ids unique. Invalid input throws before anything changes.
 */
export class OrderBook {
  private seq = 0;
  private time: number;
  private readonly seen = new Set<string>();
  /** Resting asks per capability; Map insertion order is seq order (asks never re-enter). */
  private readonly asksByCapability = new Map<string, Map<string, MutableAsk>>();
  private readonly asks = new Map<string, MutableAsk>();
  /** Resting bids per capability, kept sorted by price then seq. */
  private readonly bidsByCapability = new Map<string, MutableBid[]>();
  private readonly bids = new Map<string, MutableBid>();

  constructor(options: { readonly now?: number } = {}) {
    if (options.now !== undefined) requireFinite(options.now, 'now');
    this.time = options.now ?? 0;
  }

  /** The book's time: the latest `now` it has been given. */
  get now(): number {
    return this.time;
  }

  /** Posts an ask; returns the fill (at most one) if a resting bid crosses it. */
  addAsk(ask: Ask, now?: number): Fill[] {
    const time = this.timeAfter(now);
    this.validateAsk(ask, time);
    this.time = time;
    const seq = ++this.seq;
    this.seen.add(ask.id);
    const entry = restingAsk(copyAsk(ask), seq);
    const bid = this.bestBidFor(entry);
    if (bid) return [this.fill(entry, bid, seq)];
    this.restAsk(entry);
    return [];
  }

  /** Posts a bid; fills the oldest crossing resting asks up to its capacity, rests the rest. */
  addBid(bid: Bid, now?: number): Fill[] {
    const time = this.timeAfter(now);
    this.validateBid(bid, time);
    this.time = time;
    const seq = ++this.seq;
    this.seen.add(bid.id);
    const capacity = bid.capacity ?? 1;
    const entry: MutableBid = { order: copyBid(bid), seq, capacity, remaining: capacity };
    const fills: Fill[] = [];
    const asks = this.asksByCapability.get(bid.capability);
    if (asks) {
      for (const ask of asks.values()) {
        if (entry.remaining === 0) break;
        if (!crosses(ask, entry.order, this.time)) continue;
        this.removeAsk(ask);
        fills.push(this.fill(ask, entry, seq));
      }
    }
    if (entry.remaining > 0) this.restBid(entry);
    return fills;
  }

  /**
   * Changes a resting ask's budget (up or down) and matches it again as if it had just
   * arrived. It keeps its original sequence number: asks compete on time only, so a new
   * budget does not cost its place. Throws if the ask is not resting.
   */
  reprice(askId: string, newBudget: number, now?: number): Fill[] {
    const time = this.timeAfter(now);
    requirePositive(newBudget, 'newBudget');
    const ask = this.asks.get(askId);
    if (!ask) throw new Error(`ask ${JSON.stringify(askId)} is not resting (unknown, filled, cancelled or expired)`);
    this.time = time;
    const seq = ++this.seq;
    ask.budget = newBudget;
    const bid = this.bestBidFor(ask);
    if (!bid) return [];
    this.removeAsk(ask);
    return [this.fill(ask, bid, seq)];
  }

  /** Removes a resting ask or bid; false if no resting order has that id. */
  cancel(id: string): boolean {
    const ask = this.asks.get(id);
    if (ask) {
      this.removeAsk(ask);
      return true;
    }
    const bid = this.bids.get(id);
    if (bid) {
      this.removeBid(bid);
      return true;
    }
    return false;
  }

  /** Removes and reports every resting order expired at `now` (each list in priority order). */
  expire(now: number): ExpiryReport {
    requireFinite(now, 'now');
    this.time = Math.max(this.time, now);
    const expiredAsks: RestingAsk[] = [];
    for (const ask of [...this.asks.values()]) {
      if (!isExpired(ask.order.deadline, this.time)) continue;
      this.removeAsk(ask);
      expiredAsks.push(askView(ask));
    }
    const expiredBids: RestingBid[] = [];
    for (const bid of this.sortedBids()) {
      if (!isExpired(bid.order.expiresAt, this.time)) continue;
      this.removeBid(bid);
      expiredBids.push(bidView(bid));
    }
    return { expiredAsks, expiredBids };
  }

  /** Resting orders in priority order (copies: changing them does not change the book). */
  snapshot(): BookSnapshot {
    return {
      asks: [...this.asks.values()].map(askView),
      bids: this.sortedBids().map(bidView),
      time: this.time,
      seq: this.seq,
    };
  }

  private timeAfter(now: number | undefined): number {
    if (now === undefined) return this.time;
    requireFinite(now, 'now');
    return Math.max(this.time, now);
  }

  private validateId(id: unknown, field: string): void {
    requireString(id, field);
    if (this.seen.has(id as string)) {
      throw new Error(
        `${field} ${JSON.stringify(id)} is already used: ids are unique across asks and bids for the life of the book`,
      );
    }
  }

  private validateAsk(ask: Ask, now: number): void {
    this.validateId(ask.id, 'ask.id');
    requireString(ask.capability, 'ask.capability');
    requirePositive(ask.budget, 'ask.budget');
    if (ask.maxEstimatedMs !== undefined) requirePositive(ask.maxEstimatedMs, 'ask.maxEstimatedMs');
    if (ask.deadline !== undefined) {
      requireFinite(ask.deadline, 'ask.deadline');
      if (isExpired(ask.deadline, now))
        throw new Error(`ask ${ask.id} is already expired: ask.deadline ${ask.deadline} <= now ${now}`);
    }
    if (ask.ownerId !== undefined) requireString(ask.ownerId, 'ask.ownerId');
  }

  private validateBid(bid: Bid, now: number): void {
    this.validateId(bid.id, 'bid.id');
    requireString(bid.workerId, 'bid.workerId');
    requireString(bid.capability, 'bid.capability');
    requirePositive(bid.price, 'bid.price');
    requireNonNegative(bid.estimatedMs, 'bid.estimatedMs');
    if (bid.capacity !== undefined && (!Number.isSafeInteger(bid.capacity) || bid.capacity < 1)) {
      throw new Error(`bid.capacity must be a positive integer (got ${String(bid.capacity)})`);
    }
    if (bid.expiresAt !== undefined) {
      requireFinite(bid.expiresAt, 'bid.expiresAt');
      if (isExpired(bid.expiresAt, now))
        throw new Error(`bid ${bid.id} is already expired: bid.expiresAt ${bid.expiresAt} <= now ${now}`);
    }
  }

  /** The best crossing resting bid: bids are sorted by (price, seq), so the first that crosses. */
  private bestBidFor(ask: MutableAsk): MutableBid | undefined {
    for (const bid of this.bidsByCapability.get(ask.capability) ?? []) {
      if (bid.order.price > ask.budget) return undefined;
      if (crosses(ask, bid.order, this.time)) return bid;
    }
    return undefined;
  }

  private fill(ask: MutableAsk, bid: MutableBid, matchedAt: number): Fill {
    bid.remaining -= 1;
    if (bid.remaining === 0 && this.bids.has(bid.order.id)) this.removeBid(bid);
    return {
      fillId: fillIdOf(ask.order.id, bid.order.id),
      askId: ask.order.id,
      bidId: bid.order.id,
      workerId: bid.order.workerId,
      capability: bid.order.capability,
      price: bid.order.price,
      askedAt: ask.seq,
      bidAt: bid.seq,
      matchedAt,
    };
  }

  private restAsk(ask: MutableAsk): void {
    let asks = this.asksByCapability.get(ask.order.capability);
    if (!asks) {
      asks = new Map();
      this.asksByCapability.set(ask.order.capability, asks);
    }
    asks.set(ask.order.id, ask);
    this.asks.set(ask.order.id, ask);
  }

  private removeAsk(ask: MutableAsk): void {
    this.asks.delete(ask.order.id);
    const asks = this.asksByCapability.get(ask.order.capability);
    if (!asks) return;
    asks.delete(ask.order.id);
    if (asks.size === 0) this.asksByCapability.delete(ask.order.capability);
  }

  private restBid(bid: MutableBid): void {
    let bids = this.bidsByCapability.get(bid.order.capability);
    if (!bids) {
      bids = [];
      this.bidsByCapability.set(bid.order.capability, bids);
    }
    // binary search for the first resting bid that should come after this one
    let lo = 0;
    let hi = bids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bidBefore(bids[mid], bid)) lo = mid + 1;
      else hi = mid;
    }
    bids.splice(lo, 0, bid);
    this.bids.set(bid.order.id, bid);
  }

  private removeBid(bid: MutableBid): void {
    this.bids.delete(bid.order.id);
    const bids = this.bidsByCapability.get(bid.order.capability);
    if (!bids) return;
    const index = bids.indexOf(bid);
    if (index >= 0) bids.splice(index, 1);
    if (bids.length === 0) this.bidsByCapability.delete(bid.order.capability);
  }

  private sortedBids(): MutableBid[] {
    return [...this.bids.values()].sort((a, b) => (bidBefore(a, b) ? -1 : bidBefore(b, a) ? 1 : 0));
  }
}

function copyAsk(ask: Ask): Ask {
  return {
    id: ask.id,
    capability: ask.capability,
    budget: ask.budget,
    ...(ask.maxEstimatedMs !== undefined && { maxEstimatedMs: ask.maxEstimatedMs }),
    ...(ask.deadline !== undefined && { deadline: ask.deadline }),
    ...(ask.ownerId !== undefined && { ownerId: ask.ownerId }),
  };
}

function copyBid(bid: Bid): Bid {
  return {
    id: bid.id,
    workerId: bid.workerId,
    capability: bid.capability,
    price: bid.price,
    estimatedMs: bid.estimatedMs,
    ...(bid.capacity !== undefined && { capacity: bid.capacity }),
    ...(bid.expiresAt !== undefined && { expiresAt: bid.expiresAt }),
  };
}

function askView(ask: MutableAsk): RestingAsk {
  return { ...ask.order, budget: ask.budget, seq: ask.seq };
}

function bidView(bid: MutableBid): RestingBid {
  return { ...bid.order, seq: bid.seq, capacity: bid.capacity, remaining: bid.remaining };
}
