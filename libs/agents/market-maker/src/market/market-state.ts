import type { EventEnvelope, MarketAsk, MarketBid } from '@agent-mesh/contracts';

/**
 * Where the market maker keeps its orders in the StateStore, so a restarted (or failed-over)
 * market maker rebuilds the resting orders instead of losing them:
 *
 * - `market:ask:<askId>` (hash): `order` (StoredAsk JSON), `status` (resting | filled | expired),
 *   `fill` (the MarketFill JSON once filled), `timer` ('1' once the expiry check is scheduled),
 *   `announced` ('1' once the fill or the expiry is published); for an ask with a bidding
 *   window: `windowTimer` ('1' once its `market.window-close` is scheduled), `window` ('closed'
 *   once that close was handled: later bids do not trade).
 * - `market:ask:<askId>:window` (string): when the ask's bidding window closes (epoch ms), fixed
 *   when its first crossing bid opens it (marker `market:window:<askId>`); deleted when the ask
 *   is settled, like the bids (a time of the live run that a rebuild would not reproduce).
 * - `market:bids:<askId>` (hash): bid id → StoredBid JSON, for every bid on a resting (or not yet
 *   arrived) ask; deleted when the ask is settled.
 * - `market:open:<askId>` (string): exists while the ask rests; the rebuild lists these.
 *
 * Markers: `market:ask:<askId>` (an ask accepted once), `market:bid:<bidId>` (a bid accepted
 * once), `market:settled:<askId>` (an ask filled or expired once: never two fills, never a fill
 * after the expiry), `market:window:<askId>` (a bidding window opened once).
 */
export const askKey = (askId: string): string => `market:ask:${askId}`;
export const bidsKey = (askId: string): string => `market:bids:${askId}`;
export const windowKey = (askId: string): string => `market:ask:${askId}:window`;
export const OPEN_PREFIX = 'market:open:';
export const openKey = (askId: string): string => `${OPEN_PREFIX}${askId}`;

export type AskStatus = 'resting' | 'filled' | 'expired';

/** An ask that collects bids for a window and is then filled with the best (else it trades continuously). */
export function isWindowed(ask: Pick<MarketAsk, 'bidWindowMs'>): boolean {
  return (ask.bidWindowMs ?? 0) > 0;
}

/** What caused an order, kept so events published later still link to it. */
export type Cause = Pick<EventEnvelope, 'id' | 'traceparent'>;

export interface StoredAsk {
  readonly ask: MarketAsk;
  /** The owner's workflow id: the correlation id of the fill or the expiry. */
  readonly correlationId: string;
  readonly cause: Cause;
  /** When the ask was posted (epoch ms, its event's time); absent in records written before it was kept. */
  readonly postedAt?: number;
}

export interface StoredBid {
  readonly bid: MarketBid;
  /**
   * When the bid was made (epoch ms, its event's time), for time priority and for judging it: a
   * bid whose handling was slow or retried is judged as it came. Equal times go by bid id, never
   * by handling order, so a rebuild from the log picks the bid live processing picked.
   */
  readonly madeAt: number;
  readonly cause: Cause;
}

export function causeOf(event: EventEnvelope): Cause {
  return event.traceparent === undefined ? { id: event.id } : { id: event.id, traceparent: event.traceparent };
}

/**
 * A stored bid from its JSON. One written before `madeAt` was kept (a market maker of an older
 * build, its window still open at the upgrade) has `arrival`, epoch ms × 1000 + a counter.
 */
export function storedBid(json: string): StoredBid {
  const parsed = JSON.parse(json) as Omit<StoredBid, 'madeAt'> & { madeAt?: number; arrival?: number };
  return { ...parsed, madeAt: parsed.madeAt ?? Math.floor((parsed.arrival ?? 0) / 1000) };
}

/** Bids of one ask in the order they were made (ties by id, so the order does not depend on handling). */
export function byTimeMade(bids: readonly StoredBid[]): StoredBid[] {
  return [...bids].sort(
    (a, b) => a.madeAt - b.madeAt || (a.bid.bidId < b.bid.bidId ? -1 : a.bid.bidId > b.bid.bidId ? 1 : 0),
  );
}
