import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { BusConnectionStatus } from '@agent-mesh/bus';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshHarness, Ping, PingV1 } from './testing/mesh-test-kit';

@Controller()
class StatusController {
  @OnMeshEvent(PingV1, { topic: 'status.topic', subscription: 'status' })
  onPing(@Payload() _envelope: EventEnvelope<Ping>): void {
    // nothing to do: the test watches the transport's status
  }
}

describe('MeshTransportServer connection status (memory bus)', () => {
  let h: MeshHarness;

  beforeEach(() => {
    h = new MeshHarness();
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('reports the bus connection status through `status` and on("status")', async () => {
    const { server, bus } = await h.start({ controllers: [StatusController] });
    const observed: BusConnectionStatus[] = [];
    const heard: BusConnectionStatus[] = [];
    const subscription = server.status.subscribe((status) => observed.push(status));
    const stop = server.on('status', (status) => heard.push(status));
    expect(observed).toEqual(['connected']);

    await bus.close();
    expect(observed).toEqual(['connected', 'disconnected']);
    expect(heard).toEqual(['disconnected']);
    subscription.unsubscribe();
    stop();
  });
});
