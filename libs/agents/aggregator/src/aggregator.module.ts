import { Module } from '@nestjs/common';
import { AggregatorController } from './aggregator.controller';

/** The aggregator role: joins fan-out branches into a workflow result. */
@Module({ controllers: [AggregatorController] })
export class AggregatorModule {}
