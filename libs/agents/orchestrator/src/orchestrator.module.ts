import { Module } from '@nestjs/common';
import { OrchestratorEventsController } from './orchestrator-events.controller';
import { OrchestratorService } from './orchestrator.service';
import { WorkflowsController } from './workflows.controller';

/** The orchestrator role: the workflow HTTP API and the fan-out of tasks. */
@Module({
  controllers: [WorkflowsController, OrchestratorEventsController],
  providers: [OrchestratorService],
  exports: [OrchestratorService],
})
export class OrchestratorModule {}
