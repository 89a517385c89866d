export { SagaCoordinatorModule } from './saga-coordinator.module';
export { SagaCoordinatorController } from './saga-coordinator.controller';
