import { Module } from '@nestjs/common';
import { MarketController } from './market';
import { SolverRoundsController } from './rounds';

/**
 * The market-maker role: an order book per market (asks on `market.asks`, bids on
 * `market.bids`, fills and expiries on `market.fills`, expiry checks on `timers`), and the
 * solver rounds (`market.rounds`, solver tasks on `tasks.<skill>`, answers from
 * `task.results.solver-rounds`).
 */
@Module({ controllers: [MarketController, SolverRoundsController] })
export class MarketMakerModule {}
