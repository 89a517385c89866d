import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import type { BusConnectionStatus } from '../event-bus';
import { waitFor } from '../conformance/helpers';
import { PulsarWsEventBus } from './pulsar-ws-bus';

const topic = 'persistent://t/ns/status';

/**
 * The pulsar-ws driver's connection status without a broker: a `ws` server on loopback stands in
 * for Pulsar's WebSocket proxy (it accepts every path and answers nothing), so a connection can
 * be dropped and refused on purpose.
 */
describe('pulsar-ws connection status', () => {
  let server: WebSocketServer;
  let sockets: WebSocket[];
  let bus: PulsarWsEventBus | undefined;

  beforeEach(async () => {
    sockets = [];
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => sockets.push(socket));
    await once(server, 'listening');
  });

  afterEach(async () => {
    await bus?.close();
    bus = undefined;
    for (const socket of sockets) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const webUrl = (): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  it('is disconnected while a consumer reconnects, and connected again once it is back', async () => {
    bus = new PulsarWsEventBus({ webUrl: webUrl(), reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    await bus.subscribe({ topic, subscription: 'sub', type: 'Shared' }, () => undefined);
    expect(bus.connectionStatus).toBe('connected');
    const heard: BusConnectionStatus[] = [];
    bus.onConnectionStatus((status) => heard.push(status));

    sockets[0].terminate();
    await waitFor(
      () => heard.length >= 2,
      5000,
      () => `a drop and a reconnect, heard [${heard.join(', ')}]`,
    );
    expect(heard).toEqual(['disconnected', 'connected']);
    expect(bus.connectionStatus).toBe('connected');
  });

  it('is disconnected when a link cannot reach the broker, and after close()', async () => {
    const unreachable = webUrl();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server = new WebSocketServer({ noServer: true }); // closed again in afterEach
    bus = new PulsarWsEventBus({ webUrl: unreachable, connectTimeoutMs: 1000 });
    expect(bus.connectionStatus).toBe('connected');
    await expect(bus.publish(topic, { payload: 'x' })).rejects.toThrow();
    expect(bus.connectionStatus).toBe('disconnected');
    await bus.close();
    expect(bus.connectionStatus).toBe('disconnected');
  });
});
