import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshPublisher } from './mesh-publisher';
import type { Homing } from './region-homing';
import { MeshHarness, NAMING, Ping, PingV1, sleep, waitFor } from './testing/mesh-test-kit';

/** us-east, which has adopted eu-west's workflows: it takes events homed in either. */
const adopter: Homing = {
  region: 'us-east',
  home: 'us-east#0',
  takes: (home) => ['us-east', 'eu-west'].includes(home),
};

describe('MeshTransportServer in a geo set: homing and ownRegionOnly (memory bus)', () => {
  let h: MeshHarness;

  beforeEach(() => {
    h = new MeshHarness();
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('a handler declared ownRegionOnly gets only the events produced in its region; the others get every event of a home they take', async () => {
    const seen = { anyRegion: [] as string[], ownRegion: [] as string[] };

    @Controller()
    class RegionController {
      @OnMeshEvent(PingV1, { topic: 'geo.any', subscription: 'geo' })
      onAny(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.anyRegion.push(`${envelope.region} ${envelope.data.n}`);
      }

      @OnMeshEvent(PingV1, { topic: 'geo.own', subscription: 'geo', ownRegionOnly: true })
      onOwn(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.ownRegion.push(`${envelope.region} ${envelope.data.n}`);
      }
    }

    await h.start({ controllers: [RegionController], homing: adopter });
    const from = (region: string) =>
      new MeshPublisher({
        bus: h.external,
        registry: h.registry,
        naming: NAMING,
        origin: { source: `test@${region}`, region },
      });
    for (const [region, n] of [
      ['eu-west', 1],
      ['us-east', 2],
      ['ap-south', 3],
    ] as const) {
      for (const topic of ['geo.any', 'geo.own'])
        await from(region).publish(topic, PingV1, { n }, { correlationId: `c-${n}`, home: region });
    }

    await waitFor('every event settled', () => h.backlog('geo.any', 'geo') === 0 && h.backlog('geo.own', 'geo') === 0);
    await sleep(50);
    // ap-south's home is not taken; eu-west's is (adopted), but its event was produced there
    expect(seen.anyRegion.sort()).toEqual(['eu-west 1', 'us-east 2']);
    expect(seen.ownRegion).toEqual(['us-east 2']);
  });
});
