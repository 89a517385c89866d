import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { DeadLetterProperties } from '@agent-mesh/bus';
import { EnvelopeProperties, type EventEnvelope } from '@agent-mesh/contracts';
import { Observable, throwError } from 'rxjs';
import { OnMeshEvent } from './decorators';
import { MeshContext } from './mesh-context';
import {
  MESH_DLQ,
  MeshHarness,
  Ping,
  PingV1,
  PongV1,
  readTopic,
  sleep,
  topicOf,
  waitFor,
  waitForMessages,
} from './testing/mesh-test-kit';

/** What a handler saw on one delivery. */
interface Seen {
  readonly envelope: EventEnvelope<Ping>;
  readonly ctx: MeshContext;
}

describe('MeshTransportServer acking and dead-lettering (memory bus)', () => {
  let h: MeshHarness;

  beforeEach(() => {
    h = new MeshHarness();
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('acks a message whose handler resolves, and does not redeliver it', async () => {
    const seen: Seen[] = [];

    @Controller()
    class OkController {
      @OnMeshEvent(PingV1, { topic: 'ack.topic', subscription: 'acker', nackRedeliveryDelayMs: 50, ackTimeoutMs: 100 })
      async onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        await sleep(5);
        seen.push({ envelope, ctx });
      }
    }

    await h.start({ controllers: [OkController] });
    await h.publisher.publish('ack.topic', PingV1, { n: 1 }, { correlationId: 'c-ack' });

    await waitFor('handler called', () => seen.length === 1);
    await waitFor('backlog drained', () => h.backlog('ack.topic', 'acker') === 0);
    // Longer than both the nack delay and the ack timeout: an unacked message would be back.
    await sleep(250);
    expect(seen).toHaveLength(1);
    expect(seen[0].ctx.getRedeliveryCount()).toBe(0);
    expect(h.backlog('ack.topic', 'acker')).toBe(0);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });

  it('retries a throwing handler through its retry topic with growing redeliveryCount, then dead-letters it to mesh.dlq with the original error and its history', async () => {
    const redeliveries: number[] = [];

    @Controller()
    class FailingController {
      @OnMeshEvent(PingV1, {
        topic: 'fail.topic',
        subscription: 'failer',
        retry: { attempts: 3, initialDelayMs: 20, jitter: 0 },
      })
      async onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        redeliveries.push(ctx.getRedeliveryCount());
        throw new Error(`boom on ping ${envelope.data.n}`);
      }
    }

    await h.start({ controllers: [FailingController] });
    const published = await h.publisher.publish('fail.topic', PingV1, { n: 42 }, { correlationId: 'c-fail' });

    const dead = await waitForMessages(h.external, MESH_DLQ, 1);
    expect(redeliveries).toEqual([0, 1, 2]);
    expect(dead).toHaveLength(1);
    const props = dead[0].properties;
    expect(props[DeadLetterProperties.reason]).toContain('boom on ping 42');
    expect(props[DeadLetterProperties.reason]).toContain('retries exhausted after 3 attempt(s)');
    expect(props[DeadLetterProperties.reason]).not.toContain('Internal server error');
    expect(props[DeadLetterProperties.error]).toMatch(/^Error: boom on ping 42\n\s+at /);
    expect(props[DeadLetterProperties.originTopic]).toBe(topicOf('fail.topic'));
    expect(props[DeadLetterProperties.subscription]).toBe('failer');
    expect(props[DeadLetterProperties.attempts]).toBe('3');
    const first = Date.parse(props[DeadLetterProperties.firstFailureAt]);
    const last = Date.parse(props[DeadLetterProperties.lastFailureAt]);
    expect(first).toBeLessThan(last);
    expect(Object.keys(props).filter((name) => name.startsWith('retry.'))).toEqual([]);
    expect(h.backlog('fail.topic', 'failer')).toBe(0);
    // The dead letter keeps the event itself: payload, key and the envelope properties.
    expect(dead[0].key).toBe('c-fail');
    expect(props[EnvelopeProperties.eventId]).toBe(published.id);
    expect(JSON.parse(dead[0].payload.toString('utf8'))).toMatchObject({ id: published.id, data: { n: 42 } });

    // Not redelivered once dead-lettered.
    await sleep(150);
    expect(redeliveries).toEqual([0, 1, 2]);
  });

  it.each([
    ['a rejected promise', (): Promise<void> => Promise.reject(new Error('async-kaput'))],
    [
      'a synchronous throw',
      (): void => {
        throw new TypeError('sync-kaput');
      },
    ],
    ['an erroring Observable', (): Observable<never> => throwError(() => new Error('rx-kaput'))],
    [
      'a thrown non-Error',
      (): void => {
        throw 'string-kaput';
      },
    ],
  ])('keeps the real reason when the handler fails with %s', async (_label, fail) => {
    let calls = 0;

    @Controller()
    class FailingController {
      @OnMeshEvent(PingV1, {
        topic: 'kinds.topic',
        subscription: 'kinds',
        retry: { attempts: 1 },
      })
      onPing(): unknown {
        calls++;
        return fail();
      }
    }

    await h.start({ controllers: [FailingController] });
    await h.publisher.publish('kinds.topic', PingV1, { n: 1 }, { correlationId: 'c-kinds' });
    await waitFor('dead letter', () => h.backlog('kinds.topic', 'kinds') === 0);
    const dead = await readTopic(h.external, MESH_DLQ);
    expect(calls).toBe(1);
    expect(dead).toHaveLength(1);
    expect(dead[0].properties[DeadLetterProperties.reason]).toMatch(/kaput/);
    expect(dead[0].properties[DeadLetterProperties.reason]).not.toContain('Internal server error');
  });

  it('dead-letters to the declared deadLetterTopic instead of mesh.dlq', async () => {
    @Controller()
    class FailingController {
      @OnMeshEvent(PingV1, {
        topic: 'custom.topic',
        subscription: 'custom',
        retry: { attempts: 2, initialDelayMs: 20 },
        deadLetterTopic: 'custom.dlq',
      })
      onPing(): void {
        throw new Error('custom failure');
      }
    }

    await h.start({ controllers: [FailingController] });
    await h.publisher.publish('custom.topic', PingV1, { n: 3 }, { correlationId: 'c-custom' });
    const custom = await waitForMessages(h.external, topicOf('custom.dlq'), 1);
    expect(custom).toHaveLength(1);
    expect(custom[0].properties[DeadLetterProperties.reason]).toContain('custom failure');
    expect(custom[0].properties[DeadLetterProperties.originTopic]).toBe(topicOf('custom.topic'));
    expect(custom[0].properties[DeadLetterProperties.subscription]).toBe('custom');
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });

  it('acks a message that succeeds on a retry (no dead letter)', async () => {
    const redeliveries: number[] = [];

    @Controller()
    class FlakyController {
      @OnMeshEvent(PingV1, {
        topic: 'flaky.topic',
        subscription: 'flaky',
        retry: { attempts: 4, initialDelayMs: 20 },
      })
      onPing(@Ctx() ctx: MeshContext): void {
        redeliveries.push(ctx.getRedeliveryCount());
        if (ctx.getRedeliveryCount() < 2) throw new Error('not yet');
      }
    }

    await h.start({ controllers: [FlakyController] });
    await h.publisher.publish('flaky.topic', PingV1, { n: 5 }, { correlationId: 'c-flaky' });
    await waitFor('acked', () => redeliveries.length === 3 && h.backlog('flaky.topic', 'flaky') === 0);
    await sleep(100);
    expect(redeliveries).toEqual([0, 1, 2]);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });

  it('exposes the broker message on @Ctx() and the validated envelope on @Payload()', async () => {
    const seen: Seen[] = [];

    @Controller()
    class CtxController {
      @OnMeshEvent(PingV1, { topic: 'ctx.topic', subscription: 'ctx-sub' })
      onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): void {
        seen.push({ envelope, ctx });
      }
    }

    await h.start({ controllers: [CtxController] });
    const published = await h.publisher.publish(
      'ctx.topic',
      PingV1,
      { n: 9, note: 'hi' },
      { correlationId: 'corr-ctx' },
    );
    const keyed = await h.publisher.publish(
      'ctx.topic',
      PingV1,
      { n: 10 },
      { correlationId: 'corr-ctx', key: 'explicit-key' },
    );
    await waitFor('both handled', () => seen.length === 2);

    const onTopic = await readTopic(h.external, topicOf('ctx.topic'));
    const byN = (n: number): Seen => seen.find((s) => s.envelope.data.n === n)!;
    const first = byN(9);
    const second = byN(10);

    // @Payload(): the decoded envelope, its data an instance of the event's class.
    expect(first.envelope).toMatchObject({
      id: published.id,
      type: 'test.ping',
      version: 1,
      correlationId: 'corr-ctx',
      source: 'test@1',
      region: 'r1',
      traceparent: published.traceparent,
    });
    expect(first.envelope.data).toBeInstanceOf(Ping);
    expect(first.envelope.data).toEqual(Object.assign(new Ping(), { n: 9, note: 'hi' }));

    // @Ctx(): the broker message behind it.
    expect(first.ctx).toBeInstanceOf(MeshContext);
    expect(first.ctx.getMessageId()).toBe(onTopic[0].messageId);
    expect(second.ctx.getMessageId()).toBe(onTopic[1].messageId);
    expect(first.ctx.getKey()).toBe('corr-ctx');
    expect(second.ctx.getKey()).toBe('explicit-key');
    expect(first.ctx.getTopic()).toBe(topicOf('ctx.topic'));
    expect(first.ctx.getSubscription()).toBe('ctx-sub');
    expect(first.ctx.getRedeliveryCount()).toBe(0);
    expect(first.ctx.getEnvelope()).toBe(first.envelope);
    expect(first.ctx.getMessage().payload.toString('utf8')).toBe(onTopic[0].payload.toString('utf8'));
    expect(first.ctx.getProperties()).toEqual({
      [EnvelopeProperties.eventId]: published.id,
      [EnvelopeProperties.eventType]: 'test.ping',
      [EnvelopeProperties.eventVersion]: '1',
      [EnvelopeProperties.correlationId]: 'corr-ctx',
      [EnvelopeProperties.source]: 'test@1',
      [EnvelopeProperties.region]: 'r1',
      [EnvelopeProperties.traceparent]: published.traceparent,
    });
    expect(second.ctx.getProperties()[EnvelopeProperties.eventId]).toBe(keyed.id);
  });

  it('acks and ignores a registered event type that has no handler in the subscription', async () => {
    const handled: number[] = [];

    @Controller()
    class PingOnlyController {
      @OnMeshEvent(PingV1, { topic: 'mixed.topic', subscription: 'ping-only', nackRedeliveryDelayMs: 20 })
      onPing(@Payload() envelope: EventEnvelope<Ping>): void {
        handled.push(envelope.data.n);
      }
    }

    await h.start({ controllers: [PingOnlyController] });
    await h.publisher.publish('mixed.topic', PongV1, { text: 'not for you' }, { correlationId: 'c-mixed' });
    await h.publisher.publish('mixed.topic', PingV1, { n: 1 }, { correlationId: 'c-mixed' });

    await waitFor(
      'ping handled and backlog empty',
      () => handled.length === 1 && h.backlog('mixed.topic', 'ping-only') === 0,
    );
    await sleep(100);
    expect(handled).toEqual([1]);
    expect(h.backlog('mixed.topic', 'ping-only')).toBe(0);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });
});
