export { SagaCoordinatorModule } from './saga-coordinator.module';
