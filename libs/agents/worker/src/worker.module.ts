import { Module } from '@nestjs/common';
import { BiddingController } from './bidding';
import { RunningTasks, WorkflowEndWatcher } from './cancellation';
import { TaskRunner } from './task-runner';
import { WorkerController } from './worker.controller';

/**
 * The worker role: runs skills on the tasks of `tasks.<skill>` topics, and bids on market asks;
 * stops the tasks of a workflow that ended early (cancellation/).
 */
@Module({
  controllers: [WorkerController, BiddingController],
  providers: [TaskRunner, WorkflowEndWatcher, { provide: RunningTasks, useFactory: () => new RunningTasks() }],
})
export class WorkerModule {}
