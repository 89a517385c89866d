export { MarketController } from './market.controller';
