export { MarketMakerModule } from './market-maker.module';
export * from './order-book';
