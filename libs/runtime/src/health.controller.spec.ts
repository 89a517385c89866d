import { HttpException, HttpStatus } from '@nestjs/common';
import { MemoryBroker, PulsarWsEventBus, type EventBus } from '@agent-mesh/bus';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import { createMeshEventRegistry, DEFAULT_TOPIC_NAMING } from '@agent-mesh/contracts';
import type { MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { MemoryStateStore } from '@agent-mesh/state';
import { HealthController, type HealthReport } from './health.controller';
import { validateMeshEnvironment } from './mesh-config';

function controllerFor(bus: EventBus, state = new MemoryStateStore()): HealthController {
  const transport: MeshTransportOptions = {
    bus,
    registry: createMeshEventRegistry(),
    naming: DEFAULT_TOPIC_NAMING,
    origin: { source: 'worker@test', region: 'local' },
  };
  return new HealthController(validateMeshEnvironment({}), 'worker', state, transport);
}

/** The 503 body, or a failure when the health check answered 200. */
async function unavailable(controller: HealthController): Promise<HealthReport> {
  try {
    await controller.health();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpException);
    expect((error as HttpException).getStatus()).toBe(HttpStatus.SERVICE_UNAVAILABLE);
    return (error as HttpException).getResponse() as HealthReport;
  }
  throw new Error('health answered 200');
}

describe('GET /health and the bus', () => {
  it('shows the memory bus connected (200), then disconnected once closed (503)', async () => {
    const bus = new MemoryBroker().connect();
    const controller = controllerFor(bus);
    await expect(controller.health()).resolves.toMatchObject({
      status: 'ok',
      bus: { driver: 'memory', status: 'connected' },
    });
    await bus.close();
    expect(await unavailable(controller)).toMatchObject({
      status: 'unavailable',
      state: { ok: true },
      bus: { driver: 'memory', status: 'disconnected' },
    });
  });

  it('answers 503 when the pulsar-ws bus cannot reach its broker (a stopped endpoint)', async () => {
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    const bus = new PulsarWsEventBus({ webUrl: 'http://127.0.0.1:9', connectTimeoutMs: 1000 });
    const controller = controllerFor(bus);
    await expect(bus.publish('persistent://t/ns/health', { payload: 'x' })).rejects.toThrow();
    expect(await unavailable(controller)).toMatchObject({ bus: { driver: 'pulsar-ws', status: 'disconnected' } });
    await bus.close();
  });
});

describeWithPulsar('GET /health with the pulsar-ws bus against the real broker', (env) => {
  beforeAll(() => assertPulsarAnswers(env));

  it('shows the bus connected while a consumer is open (200), disconnected once the bus is closed (503)', async () => {
    const bus = new PulsarWsEventBus({ webUrl: env.webUrl });
    const controller = controllerFor(bus);
    const topic = `persistent://${env.tenant}/${env.namespace}/health-${Date.now()}`;
    await bus.subscribe({ topic, subscription: 'health', type: 'Shared' }, (message, consumer) =>
      consumer.ack(message),
    );
    await bus.publish(topic, { payload: 'x' });
    await expect(controller.health()).resolves.toMatchObject({
      status: 'ok',
      bus: { driver: 'pulsar-ws', status: 'connected' },
    });
    await bus.close();
    expect(await unavailable(controller)).toMatchObject({ bus: { driver: 'pulsar-ws', status: 'disconnected' } });
  });
});
