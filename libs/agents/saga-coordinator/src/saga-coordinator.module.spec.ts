import { Module } from '@nestjs/common';
import { MemoryBroker } from '@agent-mesh/bus';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import { SagaCoordinatorModule } from './saga-coordinator.module';

describe('SagaCoordinatorModule', () => {
  it('boots as its own process, connects to the bus and serves /health', async () => {
    const broker = new MemoryBroker();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'saga-coordinator',
          broker,
          env: { MESH_INSTANCE_ID: 'test-1', REDIS_URL: '' },
        }),
        SagaCoordinatorModule,
      ],
    })
    class AppModule {}
    const app = await bootstrapAgent(AppModule, { port: 0, logLevels: ['error'] });
    try {
      const response = await fetch(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        status: 'ok',
        role: 'saga-coordinator',
        instance: 'test-1',
        transport: 'memory',
      });
    } finally {
      await app.close();
      broker.shutdown();
    }
  });
});
