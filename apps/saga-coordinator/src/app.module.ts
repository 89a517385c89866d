import { Module } from '@nestjs/common';
import { SagaCoordinatorModule } from '@agent-mesh/agents/saga-coordinator';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

@Module({
  imports: [MeshRuntimeModule.forRoot({ role: 'saga-coordinator', defaultPort: 3004 }), SagaCoordinatorModule],
})
export class AppModule {}
