import { OrderBook } from './order-book';
import type { Ask, Bid, Fill } from './types';

/**
 * The fill of an ask whose bidding window closed: the best crossing bid of those it collected —
 * the lowest price, then the earliest (`bids` are given in arrival order) — matched at `now` in
 * a book of their own, at the bid's price. A bid the book refuses (an id used twice, one
 * already expired) is left out and reported to `refused`.
 */
export function bestBidFill(
  ask: Ask,
  bids: readonly Bid[],
  now: number,
  refused: (id: string, error: unknown) => void = () => undefined,
): Fill | undefined {
  const book = new OrderBook({ now });
  for (const bid of bids) {
    try {
      book.addBid(bid, now);
    } catch (error) {
      refused(bid.id, error);
    }
  }
  try {
    return book.addAsk(ask, now)[0];
  } catch (error) {
    refused(ask.id, error);
    return undefined;
  }
}
