export { BiddingController } from './bidding.controller';
export {
  quoteBid,
  bidPriceFactor,
  BASE_PRICES,
  BASE_MS,
  DEFAULT_BASE_PRICE,
  DEFAULT_BASE_MS,
  MIN_PRICE,
  type BidInput,
  type BidQuote,
} from './bid-pricing';
