import { Module } from '@nestjs/common';
import { WorkerModule } from '@agent-mesh/agents/worker';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

@Module({ imports: [MeshRuntimeModule.forRoot({ role: 'worker', defaultPort: 3001 }), WorkerModule] })
export class AppModule {}
