/**
 * The market-maker role: an order book per market (asks, bids, fills, expiries) and the solver rounds.
 * Start at market-maker.module.ts, then order-book/ (the matching), market/ and rounds/.
 */
export { MarketMakerModule } from './market-maker.module';
export { OrderBook, type Ask, type Bid } from './order-book';
