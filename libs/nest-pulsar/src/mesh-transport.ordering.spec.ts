import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshContext } from './mesh-context';
import { MeshHarness, Ping, PingV1, sleep, waitFor } from './testing/mesh-test-kit';

const KEYS = ['k1', 'k2', 'k3', 'k4'] as const;
const PER_KEY = 6;

/** Tracks which keys are being handled right now. */
class ConcurrencyProbe {
  readonly order = new Map<string, number[]>();
  readonly activeByKey = new Map<string, number>();
  maxPerKey = 0;
  active = 0;
  maxActive = 0;
  done = 0;

  async run(key: string, n: number, work: () => Promise<void>): Promise<void> {
    const perKey = (this.activeByKey.get(key) ?? 0) + 1;
    this.activeByKey.set(key, perKey);
    this.maxPerKey = Math.max(this.maxPerKey, perKey);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const list = this.order.get(key) ?? [];
    list.push(n);
    this.order.set(key, list);
    try {
      await work();
    } finally {
      this.activeByKey.set(key, (this.activeByKey.get(key) ?? 1) - 1);
      this.active--;
      this.done++;
    }
  }
}

describe('MeshTransportServer ordering (memory bus)', () => {
  let h: MeshHarness;
  let probe: ConcurrencyProbe;

  beforeEach(() => {
    h = new MeshHarness();
    probe = new ConcurrencyProbe();
  });

  afterEach(async () => {
    await h.dispose();
  });

  async function publishInterleaved(topic: string): Promise<void> {
    for (let n = 0; n < PER_KEY; n++) {
      for (const key of KEYS) {
        await h.publisher.publish(topic, PingV1, { n }, { correlationId: key });
      }
    }
  }

  it('Key_Shared: one message per key at a time, in publish order; different keys concurrently', async () => {
    @Controller()
    class OrderedController {
      @OnMeshEvent(PingV1, { topic: 'ordered.topic', subscription: 'ordered', type: 'Key_Shared' })
      async onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        await probe.run(ctx.getKey() ?? '', envelope.data.n, () => sleep(Math.floor(Math.random() * 15)));
      }
    }

    await h.start({ controllers: [OrderedController] });
    await publishInterleaved('ordered.topic');
    await waitFor(
      'all handled',
      () => probe.done === KEYS.length * PER_KEY && h.backlog('ordered.topic', 'ordered') === 0,
    );

    const expected = Array.from({ length: PER_KEY }, (_, n) => n);
    for (const key of KEYS) expect(probe.order.get(key)).toEqual(expected);
    expect(probe.maxPerKey).toBe(1);
    expect(probe.maxActive).toBeGreaterThan(1);
  });

  it('Key_Shared keeps per-key order with a synchronous handler too', async () => {
    @Controller()
    class SyncOrderedController {
      @OnMeshEvent(PingV1, { topic: 'ordered-sync.topic', subscription: 'ordered-sync', type: 'Key_Shared' })
      onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        return probe.run(ctx.getKey() ?? '', envelope.data.n, async () => undefined);
      }
    }

    await h.start({ controllers: [SyncOrderedController] });
    await publishInterleaved('ordered-sync.topic');
    await waitFor('all handled', () => probe.done === KEYS.length * PER_KEY);
    for (const key of KEYS) expect(probe.order.get(key)).toEqual(Array.from({ length: PER_KEY }, (_, n) => n));
    expect(probe.maxPerKey).toBe(1);
  });

  it('Shared (default): messages of the same key may run concurrently', async () => {
    @Controller()
    class SharedController {
      @OnMeshEvent(PingV1, { topic: 'shared.topic', subscription: 'shared' })
      async onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        await probe.run(ctx.getKey() ?? '', envelope.data.n, () => sleep(20));
      }
    }

    await h.start({ controllers: [SharedController] });
    await publishInterleaved('shared.topic');
    await waitFor('all handled', () => probe.done === KEYS.length * PER_KEY);
    expect(probe.maxPerKey).toBeGreaterThan(1);
  });

  it('concurrency caps the messages handled at once', async () => {
    @Controller()
    class CappedController {
      @OnMeshEvent(PingV1, { topic: 'capped.topic', subscription: 'capped', concurrency: 2 })
      async onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        await probe.run(ctx.getKey() ?? '', envelope.data.n, () => sleep(10));
      }
    }

    await h.start({ controllers: [CappedController] });
    await publishInterleaved('capped.topic');
    await waitFor('all handled', () => probe.done === KEYS.length * PER_KEY, 5000);
    expect(probe.maxActive).toBe(2);
  });
});
