import { Module } from '@nestjs/common';
import { BlackboardController, BlackboardService, BoardsController } from './blackboard';
import { BranchProjectionWaiter } from './branch-projection-waiter';
import { ConsoleController, ConsoleFeed } from './console';
import { OrchestratorEventsController } from './orchestrator-events.controller';
import { OrchestratorService } from './orchestrator.service';
import { WorkflowStreamController } from './workflow-stream.controller';
import { WorkflowsController } from './workflows.controller';

/** The orchestrator role: the workflow HTTP API, the fan-out of tasks, and the operator's console. */
@Module({
  controllers: [
    WorkflowsController,
    OrchestratorEventsController,
    BlackboardController,
    BoardsController,
    ConsoleController,
    WorkflowStreamController,
  ],
  providers: [OrchestratorService, BlackboardService, BranchProjectionWaiter, ConsoleFeed],
  exports: [OrchestratorService, BlackboardService],
})
export class OrchestratorModule {}
