import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { TaskAssignedV1 } from '@agent-mesh/contracts';
import { OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { bootstrapAgent } from './bootstrap';
import { MeshRuntimeModule } from './mesh-runtime.module';

/**
 * A TCP proxy in front of the shared broker's web port, which the test cuts (every connection
 * dropped, nothing accepted) and restores; the broker itself is never touched.
 */
class CuttableProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

@Controller()
class Listener {
  @OnMeshEvent(TaskAssignedV1, { topic: `tasks.probe-${randomBytes(3).toString('hex')}`, subscription: 'probe' })
  handle(): void {
    // A consumer is all the test needs: the bus's status follows its connection.
  }
}

async function readyStatus(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/health/ready`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeWithPulsar('GET /health/ready with the bus connection cut and restored (pulsar-ws)', (env) => {
  const web = new URL(env.webUrl);
  const proxy = new CuttableProxy({ host: web.hostname, port: Number(web.port) });
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await proxy.open();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'worker',
          env: {
            MESH_TRANSPORT: 'pulsar',
            PULSAR_SERVICE_URL: '', // never the native driver
            PULSAR_WEB_URL: `http://127.0.0.1:${proxy.port}`,
            PULSAR_TENANT: env.tenant,
            PULSAR_NAMESPACE: env.namespace,
            REDIS_URL: '',
            MESH_HEARTBEAT_MS: '0',
          },
        }),
      ],
      controllers: [Listener],
    })
    class ProbedAgent {}
    app = await bootstrapAgent(ProbedAgent, { port: 0, logLevels: ['error'] });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await proxy.cut();
  });

  it('is ready while connected, 503 naming the bus while cut off, ready again by itself once the broker is reachable', async () => {
    expect(await readyStatus(url)).toMatchObject({
      status: 200,
      body: { info: { bus: { status: 'up', driver: 'pulsar-ws', connection: 'connected' } } },
    });
    await proxy.cut();
    await until('readiness 503', async () => (await readyStatus(url)).status === 503);
    expect(await readyStatus(url)).toMatchObject({
      body: { error: { bus: { status: 'down', connection: 'disconnected' } }, info: { state: { status: 'up' } } },
    });
    await proxy.open(); // same port
    await until('readiness 200 again', async () => (await readyStatus(url)).status === 200);
  });
});
