export { WorkerModule } from './worker.module';
export { WorkerController, WORKER_MAX_REDELIVER } from './worker.controller';
