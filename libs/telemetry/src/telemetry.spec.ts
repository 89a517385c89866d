import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  flushTracing,
  handleInScope,
  httpServerSpans,
  inSpan,
  logContextFields,
  startPublishTrace,
  startTracing,
  stopTracing,
  type HandledMessage,
} from './index';

/** The exported spans, by name; ids and kinds as OTLP shows them. */
class Exported {
  readonly memory = new InMemorySpanExporter();

  named(name: string) {
    const span = this.memory.getFinishedSpans().find((s) => s.name === name);
    if (!span) throw new Error(`no span ${name} among ${this.memory.getFinishedSpans().map((s) => s.name)}`);
    return this.flat(span);
  }

  bySpanId(spanId: string) {
    const span = this.memory.getFinishedSpans().find((s) => s.spanContext().spanId === spanId);
    return span ? this.flat(span) : undefined;
  }

  private flat(span: ReadableSpan) {
    return {
      name: span.name,
      kind: span.kind,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext?.spanId ?? '',
      status: span.status.code,
      service: span.resource.attributes['service.name'],
    };
  }
}

const message = (traceparent?: string): HandledMessage => ({
  correlationId: 'wf-1',
  eventId: 'ev-1',
  eventType: 'task.assigned',
  topic: 'persistent://agentmesh/mesh/tasks.keywords',
  subscription: 'workers',
  agent: 'worker@w1',
  traceId: traceparent?.split('-')[1],
  traceparent,
  redeliveryCount: 0,
});

describe('tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('registers nothing: handlers run with their log fields and no span, publishes get no span', async () => {
    expect(startTracing({ serviceName: 'agent-mesh-worker', serviceInstanceId: 'w', region: 'local' })).toBe(false);
    let seen: Record<string, string> = {};
    await handleInScope(message('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), async () => {
      seen = logContextFields();
      expect(trace.getActiveSpan()).toBeUndefined();
      expect(startPublishTrace({ eventType: 'task.completed', topic: 't' })).toBeUndefined();
    });
    expect(seen).toEqual({
      correlationId: 'wf-1',
      eventId: 'ev-1',
      eventType: 'task.assigned',
      topic: 'persistent://agentmesh/mesh/tasks.keywords',
      subscription: 'workers',
      agent: 'worker@w1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
    });
    expect(logContextFields()).toEqual({}); // outside a message
    expect(await inSpan('skill x', {}, async () => 42)).toBe(42);
  });
});

describe('tracing on', () => {
  // The OTLP/HTTP export itself is tested with real processes (libs/e2e observability, tracing.pulsar).
  const receiver = new Exported();

  beforeAll(() => {
    const settings = { serviceName: 'agent-mesh-worker', serviceInstanceId: 'worker@w1', region: 'local' };
    expect(startTracing({ ...settings, exporter: receiver.memory })).toBe(true);
  });

  afterAll(() => stopTracing());

  it("runs a handler in a consumer span, child of its event's publish; its publishes and skill runs are its children", async () => {
    const sent = startPublishTrace({ eventType: 'task.assigned', topic: 'tasks.keywords', correlationId: 'wf-1' })!;
    sent.end({ eventId: 'ev-1' });
    let fields: Record<string, string> = {};
    await handleInScope(message(sent.traceparent), async () => {
      await inSpan('skill keywords', { 'mesh.task.id': 't-1' }, async () => {
        fields = logContextFields();
      });
      startPublishTrace({
        eventType: 'task.completed',
        topic: 'task.results',
        causeTraceparent: sent.traceparent,
      })!.end({});
      // An event caused by one of another trace stays in that one.
      const other = '00-11111111111111111111111111111111-2222222222222222-01';
      startPublishTrace({ eventType: 'other.event', topic: 't', causeTraceparent: other })!.end({});
    });
    await expect(inSpan('skill failing', {}, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await flushTracing();

    const publish = receiver.named('publish task.assigned');
    const handler = receiver.named('process task.assigned');
    const skill = receiver.named('skill keywords');
    const result = receiver.named('publish task.completed');
    expect(publish).toMatchObject({ kind: SpanKind.PRODUCER, parentSpanId: '', service: 'agent-mesh-worker' });
    expect(sent.traceparent).toBe(`00-${publish.traceId}-${publish.spanId}-01`);
    expect(handler).toMatchObject({ kind: SpanKind.CONSUMER, traceId: publish.traceId, parentSpanId: publish.spanId });
    expect(skill).toMatchObject({ kind: SpanKind.INTERNAL, traceId: publish.traceId, parentSpanId: handler.spanId });
    expect(result).toMatchObject({ kind: SpanKind.PRODUCER, traceId: publish.traceId, parentSpanId: handler.spanId });
    expect(receiver.named('publish other.event')).toMatchObject({
      traceId: '11111111111111111111111111111111',
      parentSpanId: '2222222222222222',
    });
    expect(receiver.named('skill failing').status).toBe(SpanStatusCode.ERROR);
    expect(fields).toMatchObject({ correlationId: 'wf-1', traceId: publish.traceId, spanId: skill.spanId });
  });

  it('runs an HTTP request in a server span (the root, or the caller’s child) named in `traceresponse`', async () => {
    const spans = httpServerSpans();
    let publish: string | undefined; // the last submit's publish
    const app = createServer((request: IncomingMessage, response: ServerResponse) =>
      spans(request, response, () => {
        if (request.url === '/workflows')
          publish = startPublishTrace({ eventType: 'workflow.submitted', topic: 'workflow.events' })!.traceparent;
        response.writeHead(202).end();
      }),
    );
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const root = await fetch(`${url}/workflows`, { method: 'POST' });
    const caller = '00-33333333333333333333333333333333-4444444444444444-01';
    const child = await fetch(`${url}/workflows`, { method: 'POST', headers: { traceparent: caller } });
    const probe = await fetch(`${url}/health`);
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await flushTracing();

    const rootTrace = String(root.headers.get('traceresponse')).split('-');
    expect(receiver.bySpanId(String(rootTrace[2]))).toMatchObject({
      name: 'POST /workflows',
      kind: SpanKind.SERVER,
      parentSpanId: '',
      traceId: rootTrace[1],
    });
    const childSpan = receiver.bySpanId(String(child.headers.get('traceresponse')).split('-')[2] ?? '');
    expect(childSpan).toMatchObject({ traceId: '33333333333333333333333333333333', parentSpanId: '4444444444444444' });
    expect(publish?.split('-')[1]).toBe('33333333333333333333333333333333');
    expect(probe.headers.get('traceresponse')).toBeNull(); // probes are not traced
  });
});
