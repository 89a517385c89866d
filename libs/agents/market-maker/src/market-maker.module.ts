import { Module } from '@nestjs/common';

/**
 * The market-maker role. It boots, connects to the bus and serves /health; order books and
 * matching (asks on `market.asks`, bids on `market.bids`, fills on `market.fills`) arrive
 * with the coordination-patterns work.
 */
@Module({})
export class MarketMakerModule {}
