import { Module } from '@nestjs/common';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

/** Every agent role in one process, on the in-process bus unless configured otherwise. */
@Module({
  imports: [
    MeshRuntimeModule.forRoot({ role: 'mesh', defaultPort: 3000 }),
    OrchestratorModule,
    WorkerModule,
    AggregatorModule,
    MarketMakerModule,
    SagaCoordinatorModule,
  ],
})
export class MeshAppModule {}
