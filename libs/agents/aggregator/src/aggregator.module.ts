import { Module } from '@nestjs/common';
import { AggregatorController } from './aggregator.controller';
import { SolverAnswersController } from './rounds';

/** The aggregator role: joins fan-out branches, and compiles the last round of solver rounds. */
@Module({ controllers: [AggregatorController, SolverAnswersController] })
export class AggregatorModule {}
