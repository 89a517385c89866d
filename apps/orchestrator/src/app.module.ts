import { Module } from '@nestjs/common';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { GeoAdminModule, WorkflowLogReaderModule } from '@agent-mesh/replay';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

@Module({
  imports: [
    MeshRuntimeModule.forRoot({ role: 'orchestrator', defaultPort: 3000 }),
    OrchestratorModule,
    // With MESH_GEO_PEER_WEB_URLS set: GET /workflows/:id shows another region's workflow from the log.
    WorkflowLogReaderModule,
    // POST /admin/geo/fail-over: this region adopts a lost region's workflows (docs/geo.md).
    GeoAdminModule,
  ],
})
export class AppModule {}
