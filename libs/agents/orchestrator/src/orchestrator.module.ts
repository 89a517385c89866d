import { Module } from '@nestjs/common';
import { BlackboardController, BlackboardService, BoardsController } from './blackboard';
import { BranchProjectionWaiter } from './branch-projection-waiter';
import { OrchestratorEventsController } from './orchestrator-events.controller';
import { OrchestratorService } from './orchestrator.service';
import { WorkflowsController } from './workflows.controller';

/** The orchestrator role: the workflow HTTP API and the fan-out of tasks. */
@Module({
  controllers: [WorkflowsController, OrchestratorEventsController, BlackboardController, BoardsController],
  providers: [OrchestratorService, BlackboardService, BranchProjectionWaiter],
  exports: [OrchestratorService, BlackboardService],
})
export class OrchestratorModule {}
