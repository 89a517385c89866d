import { OrderBook } from './order-book';
import type { ExpiryReport } from './types';

export interface MarketExpiryReport extends ExpiryReport {
  readonly market: string;
}

/** One independent {@link OrderBook} per market name (ids and sequence numbers are per book). */
export class OrderBooks {
  private readonly books = new Map<string, OrderBook>();

  /** The market's book, created empty on first use. */
  book(market: string): OrderBook {
    if (typeof market !== 'string' || market.length === 0) throw new Error('market must be a non-empty string');
    let book = this.books.get(market);
    if (!book) {
      book = new OrderBook();
      this.books.set(market, book);
    }
    return book;
  }

  get(market: string): OrderBook | undefined {
    return this.books.get(market);
  }

  has(market: string): boolean {
    return this.books.has(market);
  }

  delete(market: string): boolean {
    return this.books.delete(market);
  }

  /** Market names, sorted. */
  markets(): string[] {
    return [...this.books.keys()].sort();
  }

  /** Expires every book at `now`; reports only markets where something expired, sorted by name. */
  expire(now: number): MarketExpiryReport[] {
    const reports: MarketExpiryReport[] = [];
    const sorted = [...this.books.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [market, book] of sorted) {
      const report = book.expire(now);
      if (report.expiredAsks.length > 0 || report.expiredBids.length > 0) reports.push({ market, ...report });
    }
    return reports;
  }
}
