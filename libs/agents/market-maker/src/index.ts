export { MarketMakerModule } from './market-maker.module';
