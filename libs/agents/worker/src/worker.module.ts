import { Module } from '@nestjs/common';
import { WorkerController } from './worker.controller';

/** The worker role: runs skills on the tasks of `tasks.<skill>` topics. */
@Module({ controllers: [WorkerController] })
export class WorkerModule {}
