import { Module } from '@nestjs/common';
import { OrchestratorModule } from '@agent-mesh/agents/orchestrator';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

@Module({ imports: [MeshRuntimeModule.forRoot({ role: 'orchestrator', defaultPort: 3000 }), OrchestratorModule] })
export class AppModule {}
