import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { MemoryBroker } from '@agent-mesh/bus';
import { bootstrapAgent } from './bootstrap';
import { MeshRuntimeModule } from './mesh-runtime.module';

/*
 * /health/ready follows Redis: a redis-server of this suite's own on port 6394 (never the shared
 * one) is stopped with SIGTERM, then started again; readiness goes 503 naming the state store,
 * then 200 again by itself. /health/live stays 200 throughout.
 */

const PORT = 6394;

function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: PORT });
    socket.setTimeout(500, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startRedis(): Promise<ChildProcess> {
  const server = spawn(
    'redis-server',
    ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await until(`redis-server on port ${PORT}`, redisAnswers);
  return server;
}

async function stopRedis(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
}

async function probe(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /health/ready with Redis going away and coming back', () => {
  let redis: ChildProcess;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    if (await redisAnswers())
      throw new Error(`port ${PORT} is taken by another Redis: this suite needs it for its own`);
    redis = await startRedis();
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: 'worker',
          broker: new MemoryBroker(),
          env: {
            MESH_TRANSPORT: 'memory',
            REDIS_URL: `redis://127.0.0.1:${PORT}`,
            REDIS_KEY_PREFIX: 'probes-test:',
            MESH_HEARTBEAT_MS: '0',
          },
        }),
      ],
    })
    class ProbedAgent {}
    app = await bootstrapAgent(ProbedAgent, { port: 0, logLevels: ['error'] });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    if (redis) await stopRedis(redis);
  });

  it('is ready with Redis up, 503 naming the state store while it is down, ready again once it is back', async () => {
    expect(await probe(`${url}/health/ready`)).toMatchObject({
      status: 200,
      body: { status: 'ok', info: { bus: { status: 'up' }, state: { status: 'up', driver: 'redis' } } },
    });

    await stopRedis(redis);
    await until('readiness 503', async () => (await probe(`${url}/health/ready`)).status === 503);
    expect(await probe(`${url}/health/ready`)).toMatchObject({
      status: 503,
      body: { status: 'error', error: { state: { status: 'down' } }, info: { bus: { status: 'up' } } },
    });
    expect((await probe(`${url}/health/live`)).status).toBe(200);
    expect((await probe(`${url}/health`)).status).toBe(503); // the old endpoint agrees

    redis = await startRedis();
    await until('readiness 200 again', async () => (await probe(`${url}/health/ready`)).status === 200, 30_000);
    expect((await probe(`${url}/health`)).status).toBe(200);
  });
});
