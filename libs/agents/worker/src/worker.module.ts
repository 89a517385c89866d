import { Module } from '@nestjs/common';
import { BiddingController } from './bidding';
import { TaskRunner } from './task-runner';
import { WorkerController } from './worker.controller';

/** The worker role: runs skills on the tasks of `tasks.<skill>` topics, and bids on market asks. */
@Module({ controllers: [WorkerController, BiddingController], providers: [TaskRunner] })
export class WorkerModule {}
