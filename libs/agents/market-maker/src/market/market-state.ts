import type { EventEnvelope, MarketAsk, MarketBid } from '@agent-mesh/contracts';

/**
 * Where the market maker keeps its orders in the StateStore, so a restarted (or failed-over)
 * market maker rebuilds the resting orders instead of losing them:
 *
 * - `market:ask:<askId>` (hash): `order` (StoredAsk JSON), `status` (resting | filled | expired),
 *   `fill` (the MarketFill JSON once filled), `timer` ('1' once the expiry check is scheduled),
 *   `announced` ('1' once the fill or the expiry is published).
 * - `market:bids:<askId>` (hash): bid id → StoredBid JSON, for every bid on a resting (or not yet
 *   arrived) ask; deleted when the ask is settled.
 * - `market:open:<askId>` (string): exists while the ask rests; the rebuild lists these.
 *
 * Markers: `market:ask:<askId>` (an ask accepted once), `market:bid:<bidId>` (a bid accepted
 * once), `market:settled:<askId>` (an ask filled or expired once: never two fills, never a fill
 * after the expiry).
 */
export const askKey = (askId: string): string => `market:ask:${askId}`;
export const bidsKey = (askId: string): string => `market:bids:${askId}`;
export const OPEN_PREFIX = 'market:open:';
export const openKey = (askId: string): string => `${OPEN_PREFIX}${askId}`;

export type AskStatus = 'resting' | 'filled' | 'expired';

/** What caused an order, kept so events published later still link to it. */
export type Cause = Pick<EventEnvelope, 'id' | 'traceparent'>;

export interface StoredAsk {
  readonly ask: MarketAsk;
  /** The owner's workflow id: the correlation id of the fill or the expiry. */
  readonly correlationId: string;
  readonly cause: Cause;
}

export interface StoredBid {
  readonly bid: MarketBid;
  /** When the market maker accepted it (µs-ish: epoch ms × 1000 + a counter), for time priority. */
  readonly arrival: number;
  readonly cause: Cause;
}

export function causeOf(event: EventEnvelope): Cause {
  return event.traceparent === undefined ? { id: event.id } : { id: event.id, traceparent: event.traceparent };
}

/** Bids of one ask in arrival order (ties by id, so the order is stable). */
export function byArrival(bids: readonly StoredBid[]): StoredBid[] {
  return [...bids].sort(
    (a, b) => a.arrival - b.arrival || (a.bid.bidId < b.bid.bidId ? -1 : a.bid.bidId > b.bid.bidId ? 1 : 0),
  );
}
