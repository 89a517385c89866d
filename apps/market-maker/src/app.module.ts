import { Module } from '@nestjs/common';
import { MarketMakerModule } from '@agent-mesh/agents/market-maker';
import { MeshRuntimeModule } from '@agent-mesh/runtime';

@Module({ imports: [MeshRuntimeModule.forRoot({ role: 'market-maker', defaultPort: 3003 }), MarketMakerModule] })
export class AppModule {}
