import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { IsIn, IsInt, Min } from 'class-validator';
import { defineEvent, EventRegistry, MESH_EVENT_DEFINITIONS, type EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshPublisher } from './mesh-publisher';
import {
  MESH_DLQ,
  MeshHarness,
  Ping,
  PingV1,
  rawPingEnvelope,
  readTopic,
  topicOf,
  waitFor,
} from './testing/mesh-test-kit';

/*
 * Rolling upgrades through the real transport (MeshTransportServer on the memory bus): a v1
 * consumer takes a v1 event from a newer producer that added fields, and passes them on when it
 * republishes the data; a consumer that knows v1 and v2 hands its v2 handler v1 events upcast.
 */

const IN = 'evo.in';
const OUT = 'evo.out';

/** test.ping v2: `n` and a required unit; v1 pings are read as unit 'count'. */
class PingV2Data {
  @IsInt()
  @Min(0)
  n!: number;

  @IsIn(['count', 'ms'])
  unit!: string;
}
const PingV2 = defineEvent('test.ping', 2, 'event', PingV2Data, {
  upcastFrom: { 1: (v1: Ping): PingV2Data => ({ ...v1, unit: 'count' }) },
});

describe('MeshTransportServer and schema evolution (memory bus)', () => {
  let h: MeshHarness;
  let seen: EventEnvelope<object>[];

  beforeEach(() => {
    seen = [];
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('a v1 consumer accepts a v1 event with fields it does not know, and republishes them untouched', async () => {
    h = new MeshHarness();
    @Controller()
    class Relay {
      constructor(private readonly publisher: MeshPublisher) {}

      @OnMeshEvent(PingV1, { topic: IN, subscription: 'relay' })
      async onPing(@Payload() envelope: EventEnvelope<Ping>): Promise<void> {
        seen.push(envelope);
        // Its own logic reads only what it knows; it passes the body on as it received it.
        await this.publisher.publish(OUT, PingV1, envelope.data, {
          correlationId: envelope.correlationId,
          causedBy: envelope,
        });
      }
    }
    await h.start({ controllers: [Relay] });
    const newer = {
      ...rawPingEnvelope(3),
      tenant: 'a header field of a newer producer',
      data: { n: 3, note: 'known', colour: 'blue', limits: { max: 5, tags: ['a', 'b'] } },
    };
    await h.publishRaw(IN, JSON.stringify(newer));

    await waitFor('relayed', () => seen.length === 1);
    await waitFor('republished', () => h.broker.backlog(topicOf(IN), 'relay') === 0);
    expect(seen[0].data).toBeInstanceOf(Ping);
    expect(seen[0].data).toEqual(newer.data);
    const out = await readTopic(h.external, topicOf(OUT));
    expect(out).toHaveLength(1);
    expect((JSON.parse(out[0].payload.toString()) as { data: unknown }).data).toEqual(newer.data);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });

  it('a consumer that knows v1 and v2 upcasts v1: its v2 handler sees v2 only', async () => {
    const registry = new EventRegistry([...MESH_EVENT_DEFINITIONS, PingV1, PingV2]);
    h = new MeshHarness(registry);
    @Controller()
    class V2Only {
      @OnMeshEvent(PingV2, { topic: IN, subscription: 'v2' })
      onPing(@Payload() envelope: EventEnvelope<PingV2Data>): void {
        seen.push(envelope);
      }
    }
    await h.start({ controllers: [V2Only] });
    await h.publisher.publish(IN, PingV1, { n: 1 }, { correlationId: 'c-1' });
    await h.publisher.publish(IN, PingV2, { n: 2, unit: 'ms' }, { correlationId: 'c-2' });

    await waitFor('both handled', () => seen.length === 2);
    expect(seen.map((e) => [e.version, e.data])).toEqual([
      [2, { n: 1, unit: 'count' }],
      [2, { n: 2, unit: 'ms' }],
    ]);
    expect(seen[0].data).toBeInstanceOf(PingV2Data);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });
});
