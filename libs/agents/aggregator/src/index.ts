/**
 * The aggregator role: joins fan-out branches, and compiles the last round of solver rounds.
 * Start at aggregator.module.ts, then aggregator.controller.ts; the join strategies are in strategies/.
 */
export { AggregatorModule } from './aggregator.module';
