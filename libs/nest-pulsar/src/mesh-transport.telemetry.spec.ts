import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { logContextFields } from '@agent-mesh/telemetry';
import { OnMeshEvent } from './decorators';
import { MeshHarness, Ping, PingV1, waitFor } from './testing/mesh-test-kit';

describe('MeshTransportServer: the message a handler runs for is on its log lines (memory bus)', () => {
  let h: MeshHarness;

  beforeEach(() => (h = new MeshHarness()));
  afterEach(() => h.dispose());

  it.each([
    ['called directly', false],
    ["through Nest's pipeline", true],
  ])('%s: its workflow, event, type, topic, subscription, agent and trace, in all it awaits', async (_, nest) => {
    const seen: Record<string, string>[] = [];
    @Controller()
    class LoggingController {
      @OnMeshEvent(PingV1, { topic: 'logged', subscription: 'loggers' })
      async onPing(@Payload() _envelope: EventEnvelope<Ping>): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(logContextFields());
      }
    }
    await h.start({ controllers: [LoggingController], alwaysUseNestPipeline: nest });
    const sent = await h.publisher.publish('logged', PingV1, { n: 1 }, { correlationId: 'wf-7' });

    await waitFor('handled', () => seen.length === 1);
    expect(seen[0]).toEqual({
      correlationId: 'wf-7',
      eventId: sent.id,
      eventType: PingV1.type,
      topic: expect.stringMatching(/\/logged$/),
      subscription: 'loggers',
      agent: h.publisher.source,
      traceId: sent.traceparent?.split('-')[1],
    });
    expect(logContextFields()).toEqual({}); // not outside the handler
  });
});
