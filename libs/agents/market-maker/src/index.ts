export { MarketMakerModule } from './market-maker.module';
export * from './order-book';
export { MarketController } from './market';
export { SolverRoundsController, solverTaskId } from './rounds';
