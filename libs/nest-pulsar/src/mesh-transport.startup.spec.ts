import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import { MeshContext } from './mesh-context';
import { MeshPublisher } from './mesh-publisher';
import {
  MESH_DLQ,
  MeshHarness,
  Ping,
  PingV1,
  PingV2,
  readTopic,
  sleep,
  testRegistry,
  topicOf,
  waitFor,
} from './testing/mesh-test-kit';

describe('MeshTransportServer start-up and topic templates (memory bus)', () => {
  let h: MeshHarness;

  beforeEach(() => {
    h = new MeshHarness();
  });

  afterEach(async () => {
    await h.dispose();
  });

  it('expands {variable} topics to one consumer per value', async () => {
    const seen: { n: number; topic: string }[] = [];

    @Controller()
    class WorkerController {
      @OnMeshEvent(PingV1, { topic: 'tasks.{capability}', subscription: 'workers' })
      onTask(@Payload() envelope: EventEnvelope<Ping>, @Ctx() ctx: MeshContext): void {
        seen.push({ n: envelope.data.n, topic: ctx.getTopic() });
      }
    }

    await h.start({ controllers: [WorkerController], topicVariables: { capability: ['a', 'b'] } });
    await h.publisher.publish('tasks.a', PingV1, { n: 1 }, { correlationId: 'c' });
    await h.publisher.publish('tasks.b', PingV1, { n: 2 }, { correlationId: 'c' });
    await h.publisher.publish('tasks.c', PingV1, { n: 3 }, { correlationId: 'c' });

    await waitFor('a and b handled', () => seen.length >= 2);
    await sleep(50);
    expect(seen.sort((x, y) => x.n - y.n)).toEqual([
      { n: 1, topic: topicOf('tasks.a') },
      { n: 2, topic: topicOf('tasks.b') },
    ]);
    expect(h.backlog('tasks.a', 'workers')).toBe(0);
    expect(h.backlog('tasks.b', 'workers')).toBe(0);
  });

  it('expands several variables into their cross product', async () => {
    const topics = new Set<string>();

    @Controller()
    class BoardController {
      @OnMeshEvent(PingV1, { topic: '{area}.{board}', subscription: 'boards' })
      onPing(@Ctx() ctx: MeshContext): void {
        topics.add(ctx.getTopic());
      }
    }

    await h.start({ controllers: [BoardController], topicVariables: { area: ['x', 'y'], board: ['one', 'two'] } });
    for (const t of ['x.one', 'x.two', 'y.one', 'y.two']) {
      await h.publisher.publish(t, PingV1, { n: 0 }, { correlationId: 'c' });
    }
    await waitFor('four topics handled', () => topics.size === 4);
    expect([...topics].sort()).toEqual(['x.one', 'x.two', 'y.one', 'y.two'].map(topicOf));
  });

  it('fails start-up naming a missing topic variable', async () => {
    @Controller()
    class WorkerController {
      @OnMeshEvent(PingV1, { topic: 'tasks.{capability}', subscription: 'workers' })
      onTask(): void {
        // never called
      }
    }

    const { app } = await h.create({ controllers: [WorkerController] });
    await expect(app.startAllMicroservices()).rejects.toThrow(/topicVariables\.capability/);
  });

  it('fails start-up when two handlers declare one subscription with different subscription types', async () => {
    @Controller()
    class ConflictController {
      @OnMeshEvent(PingV1, { topic: 'conflict.topic', subscription: 'dup-sub', type: 'Shared' })
      onPing(): void {
        // never called
      }
    }

    @Controller()
    class OtherConflictController {
      @OnMeshEvent('test.pong', { topic: 'conflict.topic', subscription: 'dup-sub', type: 'Key_Shared' })
      onPong(): void {
        // never called
      }
    }

    const { app } = await h.create({ controllers: [ConflictController, OtherConflictController] });
    await expect(app.startAllMicroservices()).rejects.toThrow(/subscription "dup-sub".*Shared.*Key_Shared/);
  });

  it('fails start-up when a template and a literal topic give one subscription two handlers for a type', async () => {
    @Controller()
    class OverlapController {
      @OnMeshEvent(PingV1, { topic: 'tasks.a', subscription: 'overlap' })
      onA(): void {
        // never called
      }

      @OnMeshEvent(PingV1, { topic: 'tasks.{capability}', subscription: 'overlap' })
      onAny(): void {
        // never called
      }
    }

    const { app } = await h.create({ controllers: [OverlapController], topicVariables: { capability: ['a', 'b'] } });
    await expect(app.startAllMicroservices()).rejects.toThrow(/two handlers for test\.ping in subscription "overlap"/);
  });

  it('fails start-up on an event handler not declared with @OnMeshEvent', async () => {
    @Controller()
    class PlainController {
      @EventPattern('plain.pattern')
      onPlain(): void {
        // never called
      }
    }

    const { app } = await h.create({ controllers: [PlainController] });
    await expect(app.startAllMicroservices()).rejects.toThrow(/not a mesh handler/);
  });

  it('runs handlers of one subscription and different types on a single consumer', async () => {
    const seen: string[] = [];

    @Controller()
    class TwoTypesController {
      @OnMeshEvent(PingV1, { topic: 'two.topic', subscription: 'two' })
      onPing(): void {
        seen.push('ping');
      }

      @OnMeshEvent('test.pong', { topic: 'two.topic', subscription: 'two' })
      onPong(): void {
        seen.push('pong');
      }
    }

    await h.start({ controllers: [TwoTypesController] });
    await h.publisher.publish('two.topic', PingV1, { n: 1 }, { correlationId: 'c' });
    await h.external.publish(topicOf('two.topic'), {
      payload: JSON.stringify({
        id: '0190f4f8-0000-7000-8000-000000000000',
        type: 'test.pong',
        version: 1,
        correlationId: 'c',
        source: 'raw@1',
        region: 'r1',
        occurredAt: new Date().toISOString(),
        data: { text: 'hi' },
      }),
    });
    await waitFor('both handled', () => seen.length === 2);
    expect(seen.sort()).toEqual(['ping', 'pong']);
  });

  it('routes each version of one type to the handler declared for it', async () => {
    const seen: string[] = [];

    @Controller()
    class VersionedController {
      @OnMeshEvent(PingV1, { topic: 'versions.topic', subscription: 'versions' })
      onV1(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.push(`v1 got @${envelope.version}`);
      }

      @OnMeshEvent(PingV2, { topic: 'versions.topic', subscription: 'versions' })
      onV2(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.push(`v2 got @${envelope.version}`);
      }
    }

    const registry = testRegistry().register(PingV2);
    const { app } = await h.start({ controllers: [VersionedController], registry });
    const publisher = app.get(MeshPublisher);
    await publisher.publish('versions.topic', PingV1, { n: 1 }, { correlationId: 'c' });
    await publisher.publish('versions.topic', PingV2, { n: 2 }, { correlationId: 'c' });
    await waitFor('backlog drained', () => h.backlog('versions.topic', 'versions') === 0);
    await sleep(50);
    expect(seen.sort()).toEqual(['v1 got @1', 'v2 got @2']);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(0);
  });

  it('fails start-up when one type is handled twice in the same subscription', async () => {
    @Controller()
    class DuplicateController {
      @OnMeshEvent(PingV1, { topic: 'dup.topic', subscription: 'dup' })
      first(): void {
        // never called
      }

      @OnMeshEvent(PingV1, { topic: 'dup.topic', subscription: 'dup' })
      second(): void {
        // never called
      }
    }

    const { app } = await h.create({ controllers: [DuplicateController] });
    await expect(app.startAllMicroservices()).rejects.toThrow(/two handlers for test\.ping in subscription "dup"/);
  });

  it('consumes nothing when start-up fails on a later subscription', async () => {
    const leaked: number[] = [];

    @Controller()
    class ExclusiveOwner {
      @OnMeshEvent(PingV1, { topic: 'excl.topic', subscription: 'excl', type: 'Exclusive' })
      onPing(): void {
        // holds the Exclusive subscription
      }
    }

    @Controller()
    class SecondProcess {
      @OnMeshEvent(PingV1, { topic: 'leak.topic', subscription: 'leak' })
      onLeak(@Payload() envelope: EventEnvelope<Ping>): void {
        leaked.push(envelope.data.n);
      }

      @OnMeshEvent(PingV1, { topic: 'excl.topic', subscription: 'excl', type: 'Exclusive' })
      onExclusive(): void {
        // never called: the subscription is taken
      }
    }

    await h.start({ controllers: [ExclusiveOwner] });
    const second = await h.create({ controllers: [SecondProcess] });
    await expect(second.app.startAllMicroservices()).rejects.toThrow(/Exclusive and already has a consumer/);

    await h.publisher.publish('leak.topic', PingV1, { n: 1 }, { correlationId: 'c' });
    await sleep(100);
    expect(leaked).toEqual([]);
    expect(h.backlog('leak.topic', 'leak')).toBe(1);
  });
});
