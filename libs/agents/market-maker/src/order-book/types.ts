/**
 * An ask: a task owner wants one unit of work done. `budget` is the most the owner will pay.
 * Optional constraints: `maxEstimatedMs` (a bid estimating more does not cross) and
 * `deadline` (epoch ms; the ask is expired once the book's time reaches it).
 */
export interface Ask {
  readonly id: string;
  readonly capability: string;
  readonly budget: number;
  readonly maxEstimatedMs?: number;
  readonly deadline?: number;
  /** Who posted the ask; carried through, not used by matching. */
  readonly ownerId?: string;
}

/**
 * A bid: a worker offers to do tasks needing `capability` for `price` each, taking about
 * `estimatedMs`. `capacity` (default 1) is how many asks this one bid may fill; `expiresAt`
 * (epoch ms, optional) withdraws the bid once the book's time reaches it.
 */
export interface Bid {
  readonly id: string;
  readonly workerId: string;
  readonly capability: string;
  readonly price: number;
  readonly estimatedMs: number;
  readonly capacity?: number;
  readonly expiresAt?: number;
}

/** An ask resting in the book; `seq` is its arrival sequence number (its time priority). */
export interface RestingAsk extends Ask {
  readonly seq: number;
}

/** A bid resting in the book with `remaining` of its `capacity` still unfilled. */
export interface RestingBid extends Bid {
  readonly seq: number;
  readonly capacity: number;
  readonly remaining: number;
}

/**
 * One ask matched with one bid. The price is always the bid's price (a reverse auction: the
 * worker is paid what it asked for, never the owner's full budget).
 */
export interface Fill {
  /** Deterministic: `encodeURIComponent(askId) + ':' + encodeURIComponent(bidId)`. */
  readonly fillId: string;
  readonly askId: string;
  readonly bidId: string;
  readonly workerId: string;
  readonly capability: string;
  readonly price: number;
  /** Sequence number of the ask's arrival. */
  readonly askedAt: number;
  /** Sequence number of the bid's arrival. */
  readonly bidAt: number;
  /** Sequence number of the event (addAsk, addBid or reprice) that made the match. */
  readonly matchedAt: number;
}

export interface BookSnapshot {
  /** Resting asks, oldest first (the order incoming bids consider them). */
  readonly asks: RestingAsk[];
  /** Resting bids, cheapest first, equal prices oldest first (the order asks consider them). */
  readonly bids: RestingBid[];
  /** The book's time: the latest `now` it was given. */
  readonly time: number;
  /** The last sequence number handed out. */
  readonly seq: number;
}

export interface ExpiryReport {
  readonly expiredAsks: RestingAsk[];
  readonly expiredBids: RestingBid[];
}
