import { Module } from '@nestjs/common';
import { MemoryBroker } from '@agent-mesh/bus';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import { MarketMakerModule } from './market-maker.module';

describe('MarketMakerModule', () => {
  it('boots as its own process, connects to the bus and serves /health', async () => {
    const broker = new MemoryBroker();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({ role: 'market-maker', broker, env: { MESH_INSTANCE_ID: 'test-1', REDIS_URL: '' } }),
        MarketMakerModule,
      ],
    })
    class AppModule {}
    const app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
    try {
      const response = await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        status: 'ok',
        role: 'market-maker',
        instance: 'test-1',
        transport: 'memory',
      });
    } finally {
      await app.close();
      broker.shutdown();
    }
  });
});
