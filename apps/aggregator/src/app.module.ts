import { Module } from '@nestjs/common';
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

@Module({ imports: [MeshRuntimeModule.forRoot({ role: 'aggregator', defaultPort: 3002 }), AggregatorModule] })
export class AppModule {}
