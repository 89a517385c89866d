import { Module } from '@nestjs/common';
import { SagaCoordinatorController } from './saga-coordinator.controller';

/**
 * The saga-coordinator role: runs sagas (`saga.commands`), their steps as tasks with deadlines
 * (`timers`), and compensations in reverse order; announces outcomes on `saga.events`.
 */
@Module({ controllers: [SagaCoordinatorController] })
export class SagaCoordinatorModule {}
