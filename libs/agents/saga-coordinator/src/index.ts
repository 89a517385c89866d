/**
 * The saga-coordinator role: runs saga steps as tasks with deadlines, and compensates in reverse order.
 * Start at saga-coordinator.module.ts, then saga-coordinator.controller.ts.
 */
export { SagaCoordinatorModule } from './saga-coordinator.module';
