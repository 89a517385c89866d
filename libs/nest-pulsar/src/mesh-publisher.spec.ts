import { Controller } from '@nestjs/common';
import {
  ContractValidationError,
  EnvelopeProperties,
  isRetryableError,
  PayloadTooLargeError,
  TaskAssignedV1,
  TRACEPARENT_PATTERN,
} from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshPublisher } from './mesh-publisher';
import { MeshHarness, Ping, PingV1, PongV1, readTopic, topicOf } from './testing/mesh-test-kit';
import { nextTraceparent, traceIdOf } from './trace';

@Controller()
class NoopController {
  @OnMeshEvent(PingV1, { topic: 'pub.unused', subscription: 'noop' })
  onPing(): void {
    // only here so the app has a mesh handler
  }
}

describe('MeshPublisher (memory bus)', () => {
  let h: MeshHarness;
  let publisher: MeshPublisher;

  beforeEach(async () => {
    h = new MeshHarness();
    const started = await h.start({ controllers: [NoopController] });
    publisher = started.app.get(MeshPublisher);
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('publishes a valid envelope keyed by its correlation id, with the mesh properties', async () => {
    const envelope = await publisher.publish(
      'pub.topic',
      PingV1,
      { n: 1 },
      { correlationId: 'corr-1', deliverAfterMs: 0 },
    );
    const messages = await readTopic(h.external, topicOf('pub.topic'));
    expect(messages).toHaveLength(1);
    expect(messages[0].key).toBe('corr-1');
    expect(messages[0].eventTime).toBe(Date.parse(envelope.occurredAt));
    expect(messages[0].properties[EnvelopeProperties.eventType]).toBe('test.ping');
    expect(messages[0].properties[EnvelopeProperties.source]).toBe('test@1');
    const decoded = h.registry.decode(messages[0].payload);
    expect(decoded.ok).toBe(true);
    expect(decoded.ok && decoded.envelope.id).toBe(envelope.id);
    expect(envelope.traceparent).toMatch(TRACEPARENT_PATTERN);
  });

  it('marks a delayed message with the time it is due (mesh.deliver-at), and no other', async () => {
    const before = Date.now();
    await publisher.publish('pub.delayed', PingV1, { n: 1 }, { correlationId: 'c', deliverAfterMs: 60_000 });
    await publisher.publish('pub.delayed', PingV1, { n: 2 }, { correlationId: 'c', deliverAt: 4_000_000_000_000 });
    await publisher.publish('pub.delayed', PingV1, { n: 3 }, { correlationId: 'c' });
    // a reader sees delayed messages at once: the property is how it knows when subscribers get them
    const due = (await readTopic(h.external, topicOf('pub.delayed'))).map(
      (m) => m.properties[EnvelopeProperties.deliverAt],
    );
    expect(Number(due[0])).toBeGreaterThanOrEqual(before + 60_000);
    expect(Number(due[0])).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(due.slice(1)).toEqual(['4000000000000', undefined]);
  });

  it.each<[string, () => Promise<unknown>]>([
    [
      'a wrong field type',
      () => publisher.publish('pub.topic', PingV1, { n: 'x' } as unknown as Ping, { correlationId: 'c' }),
    ],
    ['a missing field', () => publisher.publish('pub.topic', PingV1, {} as Ping, { correlationId: 'c' })],
    [
      'a nested invalid field of a mesh event',
      () =>
        publisher.publish(
          'pub.topic',
          TaskAssignedV1,
          { taskId: 'w:0', branchIndex: 0, branchCount: 1, skill: 'keywords', input: { id: 'bad id!', text: 'x' } },
          { correlationId: 'c' },
        ),
    ],
    ['an empty correlation id', () => publisher.publish('pub.topic', PingV1, { n: 1 }, { correlationId: '' })],
    [
      'an invalid explicit traceparent',
      () => publisher.publish('pub.topic', PingV1, { n: 1 }, { correlationId: 'c', traceparent: 'nope' }),
    ],
  ])('refuses %s with ContractValidationError and publishes nothing', async (_label, publish) => {
    await expect(publish()).rejects.toBeInstanceOf(ContractValidationError);
    expect(await readTopic(h.external, topicOf('pub.topic'))).toHaveLength(0);
  });

  it('refuses a payload over Pulsar’s message size limit with a non-retryable PayloadTooLargeError', async () => {
    const huge = { n: 1, note: 'x'.repeat(5 * 1024 * 1024) };
    const error = await publisher.publish('pub.big', PingV1, huge, { correlationId: 'c' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as Error).message).toMatch(/^payload of \d+ bytes is over the limit of 5242880 bytes$/);
    expect(isRetryableError(error)).toBe(false);
    expect(await readTopic(h.external, topicOf('pub.big'))).toEqual([]);
  });

  it('refuses an event type the registry does not know', async () => {
    await expect(
      publisher.publish('pub.topic', { ...PongV1, type: 'test.unregistered' }, { text: 'a' }, { correlationId: 'c' }),
    ).rejects.toThrow(/unknown event type test\.unregistered@1/);
    expect(await readTopic(h.external, topicOf('pub.topic'))).toHaveLength(0);
  });

  it('continues the trace of the cause: same trace id, new span id, causationId set', async () => {
    const cause = await publisher.publish('pub.topic', PingV1, { n: 1 }, { correlationId: 'wf-1' });
    const effect = await publisher.publish(
      'pub.topic',
      PongV1,
      { text: 'reply' },
      { correlationId: 'wf-1', causedBy: cause },
    );
    const unrelated = await publisher.publish('pub.topic', PingV1, { n: 2 }, { correlationId: 'wf-2' });

    expect(effect.traceparent).toMatch(TRACEPARENT_PATTERN);
    expect(traceIdOf(effect.traceparent)).toBe(traceIdOf(cause.traceparent));
    expect(effect.traceparent!.split('-')[2]).not.toBe(cause.traceparent!.split('-')[2]);
    expect(effect.causationId).toBe(cause.id);
    expect(traceIdOf(unrelated.traceparent)).not.toBe(traceIdOf(cause.traceparent));

    const messages = await readTopic(h.external, topicOf('pub.topic'));
    expect(messages[1].properties[EnvelopeProperties.traceparent]).toBe(effect.traceparent);
  });

  it('keeps an explicit traceparent as given', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const envelope = await publisher.publish('pub.topic', PingV1, { n: 1 }, { correlationId: 'c', traceparent });
    expect(envelope.traceparent).toBe(traceparent);
  });

  it('as(role) signs events with the role and the same instance', async () => {
    const envelope = await publisher.as('worker').publish('pub.topic', PingV1, { n: 1 }, { correlationId: 'c' });
    expect(envelope.source).toBe('worker@1');
    expect(publisher.source).toBe('test@1');
  });
});

describe('nextTraceparent / traceIdOf', () => {
  it('starts a new sampled trace without a parent, and ignores a malformed parent', () => {
    const fresh = nextTraceparent();
    expect(fresh).toMatch(TRACEPARENT_PATTERN);
    expect(fresh.endsWith('-01')).toBe(true);
    const fromGarbage = nextTraceparent('garbage');
    expect(fromGarbage).toMatch(TRACEPARENT_PATTERN);
    expect(traceIdOf(fromGarbage)).not.toBe('garbage');
  });

  it('keeps version, trace id and flags of the parent', () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const child = nextTraceparent(parent);
    expect(child).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(child).not.toBe(parent);
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});
