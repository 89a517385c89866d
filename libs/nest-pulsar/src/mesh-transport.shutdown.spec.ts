import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshContext } from './mesh-context';
import type { MeshTransportServer } from './mesh-transport.server';
import {
  deferred,
  MESH_DLQ,
  MeshHarness,
  Ping,
  PingV1,
  readTopic,
  sleep,
  waitFor,
  type Deferred,
} from './testing/mesh-test-kit';

const TOPIC = 'drain.topic';
const SUB = 'drainer';

interface Delivery {
  readonly app: string;
  readonly n: number;
  readonly redeliveryCount: number;
}

describe('MeshTransportServer graceful shutdown (memory bus)', () => {
  let h: MeshHarness;
  let deliveries: Delivery[];
  let gate: Deferred<void>;
  let started: Deferred<void>;
  let finished: number[];

  /** Builds a controller class for one app; message n === 1 blocks on the gate. */
  function drainController(appName: string, type: 'Shared' | 'Key_Shared'): new () => object {
    @Controller()
    class DrainController {
      @OnMeshEvent(PingV1, { topic: TOPIC, subscription: SUB, type, nackRedeliveryDelayMs: 20 })
      async onPing(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): Promise<void> {
        deliveries.push({ app: appName, n: envelope.data.n, redeliveryCount: ctx.getRedeliveryCount() });
        if (envelope.data.n === 1) {
          started.resolve();
          await gate.promise;
        }
        finished.push(envelope.data.n);
      }
    }
    return DrainController;
  }

  /** Resolves once the server has begun closing (it stops taking messages from then on). */
  function closingSignal(server: MeshTransportServer): Promise<void> {
    const signal = deferred();
    const original = server.close.bind(server);
    jest.spyOn(server, 'close').mockImplementation(() => {
      const closing = original();
      signal.resolve();
      return closing;
    });
    return signal.promise;
  }

  beforeEach(() => {
    h = new MeshHarness();
    deliveries = [];
    finished = [];
    gate = deferred();
    started = deferred();
  });

  afterEach(async () => {
    gate.resolve();
    await h.dispose();
  });

  it.each(['Shared', 'Key_Shared'] as const)(
    '%s: drains the in-flight handler before close resolves; later messages stay for another consumer',
    async (type) => {
      const first = await h.start({ controllers: [drainController('first', type)] });
      const closing = closingSignal(first.server);

      await h.publisher.publish(TOPIC, PingV1, { n: 1 }, { correlationId: 'same-key' });
      await started.promise;

      let closeResolved = false;
      const close = first.app.close().then(() => {
        closeResolved = true;
      });
      await closing;
      // Delivered to the closing app (it still holds its consumer) but must not be handled by it.
      await h.publisher.publish(TOPIC, PingV1, { n: 2 }, { correlationId: 'same-key' });
      await h.publisher.publish(TOPIC, PingV1, { n: 3 }, { correlationId: 'other-key' });
      await sleep(50);
      expect(closeResolved).toBe(false);
      expect(first.server.inFlightCount).toBeGreaterThanOrEqual(1);
      expect(deliveries.map((d) => d.n)).toEqual([1]);

      gate.resolve();
      await close;
      expect(finished).toEqual([1]);
      // Message 1 was acked before close resolved; 2 and 3 remain on the subscription.
      expect(h.backlog(TOPIC, SUB)).toBe(2);
      expect(first.server.inFlightCount).toBe(0);

      await h.start({ controllers: [drainController('second', type)] });
      await waitFor('second app handles the rest', () => finished.length === 3 && h.backlog(TOPIC, SUB) === 0);
      await sleep(50);
      expect(deliveries.filter((d) => d.app === 'first').map((d) => d.n)).toEqual([1]);
      expect(
        deliveries
          .filter((d) => d.app === 'second')
          .map((d) => d.n)
          .sort(),
      ).toEqual([2, 3]);
      expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
    },
  );

  it('Key_Shared: messages queued behind an in-flight one of the same key are not started after close began', async () => {
    const first = await h.start({ controllers: [drainController('first', 'Key_Shared')] });
    const closing = closingSignal(first.server);

    // 1 blocks; 2 and 4 are delivered at once and queue behind it (same key).
    await h.publisher.publish(TOPIC, PingV1, { n: 1 }, { correlationId: 'k' });
    await h.publisher.publish(TOPIC, PingV1, { n: 2 }, { correlationId: 'k' });
    await h.publisher.publish(TOPIC, PingV1, { n: 4 }, { correlationId: 'k' });
    await started.promise;
    await sleep(20);

    const close = first.app.close();
    await closing;
    gate.resolve();
    await close;
    expect(deliveries.map((d) => d.n)).toEqual([1]);
    expect(h.backlog(TOPIC, SUB)).toBe(2);

    await h.start({ controllers: [drainController('second', 'Key_Shared')] });
    await waitFor('second app handles the rest', () => finished.length === 3);
    expect(deliveries.filter((d) => d.app === 'second').map((d) => d.n)).toEqual([2, 4]);
  });

  it('gives up waiting after drainTimeoutMs; the unfinished message goes back to the subscription', async () => {
    const first = await h.start({ controllers: [drainController('first', 'Shared')], drainTimeoutMs: 100 });
    await h.publisher.publish(TOPIC, PingV1, { n: 1 }, { correlationId: 'k' });
    await started.promise;

    const t0 = Date.now();
    await first.app.close();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(90);
    expect(took).toBeLessThan(2000);
    expect(h.backlog(TOPIC, SUB)).toBe(1);

    // The stuck handler finishing later must not break anything (its ack fails quietly).
    gate.resolve();
    await sleep(10);
    expect(finished).toEqual([1]);

    started = deferred();
    gate = deferred();
    gate.resolve();
    await h.start({ controllers: [drainController('second', 'Shared')] });
    await waitFor(
      'second app handles it',
      () => deliveries.some((d) => d.app === 'second') && h.backlog(TOPIC, SUB) === 0,
    );
    expect(deliveries.filter((d) => d.app === 'second').map((d) => d.n)).toEqual([1]);
  });
});
