import { Module } from '@nestjs/common';

/**
 * The saga-coordinator role. It boots, connects to the bus and serves /health; sagas with
 * compensation (`saga.commands`, `saga.events`, deadlines on `timers`) arrive with the
 * coordination-patterns work.
 */
@Module({})
export class SagaCoordinatorModule {}
