export { OrderBook, crosses, isExpired, fillIdOf } from './order-book';
export { OrderBooks, type MarketExpiryReport } from './order-books';
export { bestBidFill } from './window';
export type { Ask, Bid, BookSnapshot, ExpiryReport, Fill, RestingAsk, RestingBid } from './types';
