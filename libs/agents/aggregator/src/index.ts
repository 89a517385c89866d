export { AggregatorModule } from './aggregator.module';
export { AggregatorController } from './aggregator.controller';
export * from './strategies';
