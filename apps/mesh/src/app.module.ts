import { Module } from '@nestjs/common';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { GeoAdminModule, WorkflowLogReaderModule } from '@agent-mesh/replay';
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
    // With MESH_GEO_PEER_WEB_URLS set: GET /workflows/:id shows another region's workflow from the log.
    WorkflowLogReaderModule,
    // POST /admin/geo/fail-over: this region adopts a lost region's workflows (docs/geo.md).
    GeoAdminModule,
  ],
})
export class MeshAppModule {}
