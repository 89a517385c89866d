import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { ContractValidationError, type EventEnvelope } from '@agent-mesh/contracts';
import { lastValueFrom } from 'rxjs';
import { OnMeshEvent } from './decorators';
import { MeshClientProxy, type MeshEmit } from './mesh-client.proxy';
import { MeshContext } from './mesh-context';
import { MeshPublisher } from './mesh-publisher';
import { MeshHarness, Ping, PingV2, readTopic, testRegistry, topicOf, waitFor } from './testing/mesh-test-kit';

describe('MeshClientProxy (memory bus)', () => {
  let h: MeshHarness;
  let client: MeshClientProxy;
  let received: { envelope: EventEnvelope<Ping>; key: string | undefined }[];

  @Controller()
  class ReceiverController {
    @OnMeshEvent('test.ping', { topic: 'client.topic', subscription: 'client-sub' })
    onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): void {
      received.push({ envelope, key: ctx.getKey() });
    }
  }

  beforeEach(async () => {
    h = new MeshHarness(testRegistry().register(PingV2));
    received = [];
    const started = await h.start({ controllers: [ReceiverController] });
    client = started.app.get(MeshClientProxy);
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('emit publishes a valid envelope that a handler receives', async () => {
    const emit: MeshEmit<Ping> = { topic: 'client.topic', data: { n: 11 }, correlationId: 'corr-client', version: 1 };
    const envelope = await lastValueFrom(client.emit<EventEnvelope<Ping>>('test.ping', emit));

    expect(envelope).toMatchObject({ type: 'test.ping', version: 1, correlationId: 'corr-client', source: 'test@1' });
    await waitFor('handler received', () => received.length === 1);
    expect(received[0].envelope.id).toBe(envelope.id);
    expect(received[0].envelope.data).toBeInstanceOf(Ping);
    expect(received[0].envelope.data.n).toBe(11);
    expect(received[0].key).toBe('corr-client');
  });

  it('emit defaults to the highest registered version and accepts an object pattern', async () => {
    const latest = await lastValueFrom(
      client.emit<EventEnvelope<Ping>>('test.ping', { topic: 'client.topic', data: { n: 1 }, correlationId: 'c' }),
    );
    const byPattern = await lastValueFrom(
      client.emit<EventEnvelope<Ping>>(
        { event: 'test.ping' },
        { topic: 'client.topic', data: { n: 2 }, correlationId: 'c', version: 1 },
      ),
    );
    expect(latest.version).toBe(2);
    expect(byPattern.version).toBe(1);
  });

  it('emit with invalid data errors with ContractValidationError and publishes nothing', async () => {
    const bad = { topic: 'client.topic', data: { n: -1 }, correlationId: 'c' };
    await expect(lastValueFrom(client.emit('test.ping', bad))).rejects.toBeInstanceOf(ContractValidationError);
    expect(await readTopic(h.external, topicOf('client.topic'))).toHaveLength(0);
  });

  it('emit of an unknown type or version errors naming it', async () => {
    const emit = { topic: 'client.topic', data: { n: 1 }, correlationId: 'c' };
    await expect(lastValueFrom(client.emit('test.nope', emit))).rejects.toThrow('unknown event type test.nope');
    await expect(lastValueFrom(client.emit('test.ping', { ...emit, version: 9 }))).rejects.toThrow(
      'unknown event type test.ping@9',
    );
    expect(await readTopic(h.external, topicOf('client.topic'))).toHaveLength(0);
  });

  it('send (request/response) errors with the explanatory message', async () => {
    const emit = { topic: 'client.topic', data: { n: 1 }, correlationId: 'c' };
    await expect(lastValueFrom(client.send('test.ping', emit))).rejects.toThrow(
      'request/response is not supported on the mesh: emit an event and handle its reply event',
    );
    expect(await readTopic(h.external, topicOf('client.topic'))).toHaveLength(0);
  });

  it('unwrap gives the MeshPublisher', () => {
    expect(client.unwrap<MeshPublisher>()).toBeInstanceOf(MeshPublisher);
  });
});
