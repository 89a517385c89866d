import {
  Controller,
  Injectable,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import { DeadLetterProperties } from '@agent-mesh/bus';
import type { EventEnvelope } from '@agent-mesh/contracts';
import type { Observable } from 'rxjs';
import { OnMeshEvent } from './decorators';
import { MeshContext } from './mesh-context';
import { MESH_DLQ, MeshHarness, Ping, PingV1, readTopic, topicOf, waitFor } from './testing/mesh-test-kit';

/** Counts the messages it wrapped. */
@Injectable()
class CountingInterceptor implements NestInterceptor {
  static calls = 0;
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    CountingInterceptor.calls++;
    return next.handle();
  }
}

class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Replaces the envelope's data with n + 100. */
class BumpPipe implements PipeTransform<EventEnvelope<Ping>, EventEnvelope<Ping>> {
  transform(value: EventEnvelope<Ping>): EventEnvelope<Ping> {
    return { ...value, data: { ...value.data, n: value.data.n + 100 } };
  }
}

describe('MeshTransportServer: handlers called directly or through Nest (memory bus)', () => {
  let h: MeshHarness;

  beforeEach(() => {
    h = new MeshHarness();
    CountingInterceptor.calls = 0;
  });

  afterEach(async () => {
    await h.dispose();
  });

  /** A synchronous handler that looks, in a microtask it queues, whether its message is acked already. */
  function syncController(backlogs: number[], seen: { n: number; messageId: string; self: unknown }[]) {
    @Controller()
    class SyncController {
      @OnMeshEvent(PingV1, { topic: 'direct.topic', subscription: 'direct' })
      onPing(@Ctx() ctx: MeshContext, @Payload() envelope: EventEnvelope<Ping>): void {
        seen.push({ n: envelope.data.n, messageId: ctx.getMessageId(), self: this });
        queueMicrotask(() => backlogs.push(h.backlog('direct.topic', 'direct')));
      }
    }
    return SyncController;
  }

  it('calls a plain @Payload()/@Ctx() handler directly: a synchronous handler is acked before anything it set off runs', async () => {
    const backlogs: number[] = [];
    const seen: { n: number; messageId: string; self: unknown }[] = [];
    const Sync = syncController(backlogs, seen);
    const { app } = await h.start({ controllers: [Sync] });
    const id = await h.publisher.publish('direct.topic', PingV1, { n: 1 }, { correlationId: 'c' });

    await waitFor('handled', () => backlogs.length === 1);
    expect(backlogs).toEqual([0]);
    // Arguments in their declared places, `this` the controller Nest made.
    expect(seen).toEqual([{ n: 1, messageId: expect.any(String), self: app.get(Sync) }]);
    expect(id.data.n).toBe(1);
  });

  it('with alwaysUseNestPipeline, runs the same handler through Nest (acked only after its promise turns)', async () => {
    const backlogs: number[] = [];
    const Sync = syncController(backlogs, []);
    await h.start({ controllers: [Sync], alwaysUseNestPipeline: true });
    await h.publisher.publish('direct.topic', PingV1, { n: 1 }, { correlationId: 'c' });

    await waitFor('handled', () => backlogs.length === 1);
    expect(backlogs).toEqual([1]);
    await waitFor('acked', () => h.backlog('direct.topic', 'direct') === 0);
  });

  it('runs a handler with an interceptor, a guard or a pipe through Nest, which applies them', async () => {
    const seen: number[] = [];

    @Controller()
    class EnhancedController {
      @OnMeshEvent(PingV1, { topic: 'intercepted', subscription: 's' })
      @UseInterceptors(CountingInterceptor)
      onIntercepted(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.push(envelope.data.n);
      }

      @OnMeshEvent(PingV1, { topic: 'guarded', subscription: 's', retry: { attempts: 1 } })
      @UseGuards(DenyGuard)
      onGuarded(): void {
        seen.push(-1);
      }

      @OnMeshEvent(PingV1, { topic: 'piped', subscription: 's' })
      onPiped(@Payload(BumpPipe) envelope: EventEnvelope<Ping>): void {
        seen.push(envelope.data.n);
      }
    }

    await h.start({ controllers: [EnhancedController] });
    await h.publisher.publish('intercepted', PingV1, { n: 1 }, { correlationId: 'c' });
    await h.publisher.publish('guarded', PingV1, { n: 2 }, { correlationId: 'c' });
    await h.publisher.publish('piped', PingV1, { n: 3 }, { correlationId: 'c' });

    await waitFor('handled', () => seen.length === 2);
    expect(seen.sort((a, b) => a - b)).toEqual([1, 103]);
    expect(CountingInterceptor.calls).toBe(1);
    await waitFor('guarded one dead-lettered', () => h.backlog('guarded', 's') === 0);
    const dead = await readTopic(h.external, MESH_DLQ);
    expect(
      dead.map((m) => [m.properties[DeadLetterProperties.originTopic], m.properties[DeadLetterProperties.reason]]),
    ).toEqual([[topicOf('guarded'), expect.stringMatching(/handler failed: .*Forbidden resource/)]]);
  });

  it('runs every handler through Nest when the app provides a global interceptor (APP_INTERCEPTOR)', async () => {
    const seen: number[] = [];

    @Controller()
    class PlainController {
      @OnMeshEvent(PingV1, { topic: 'global', subscription: 's' })
      onPing(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.push(envelope.data.n);
      }
    }

    await h.start({
      controllers: [PlainController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: CountingInterceptor }],
      inheritAppConfig: true,
    });
    await h.publisher.publish('global', PingV1, { n: 1 }, { correlationId: 'c' });
    await waitFor('handled', () => seen.length === 1);
    expect(CountingInterceptor.calls).toBe(1);
  });

  it('applies the app-wide enhancers of useGlobalInterceptors with alwaysUseNestPipeline', async () => {
    const seen: number[] = [];

    @Controller()
    class PlainController {
      @OnMeshEvent(PingV1, { topic: 'global', subscription: 's' })
      onPing(@Payload() envelope: EventEnvelope<Ping>): void {
        seen.push(envelope.data.n);
      }
    }

    await h.start({
      controllers: [PlainController],
      alwaysUseNestPipeline: true,
      inheritAppConfig: true,
      configure: (app) => app.useGlobalInterceptors(new CountingInterceptor()),
    });
    await h.publisher.publish('global', PingV1, { n: 1 }, { correlationId: 'c' });
    await waitFor('handled', () => seen.length === 1);
    expect(CountingInterceptor.calls).toBe(1);
  });
});
