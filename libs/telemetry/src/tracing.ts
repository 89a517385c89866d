import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface TracingSettings {
  /** OTLP/HTTP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans go to `<endpoint>/v1/traces`. None: tracing stays off. */
  readonly endpoint?: string;
  /** `service.name` of every span (`OTEL_SERVICE_NAME`, default `agent-mesh-<role>`). */
  readonly serviceName: string;
  readonly serviceInstanceId: string;
  readonly region: string;
  /**
   * Where spans go instead of OTLP/HTTP (unit tests: the OTLP exporter loads Node's http with a
   * dynamic import, which Jest's module sandbox refuses; real processes test the OTLP path).
   */
  readonly exporter?: SpanExporter;
}

let provider: NodeTracerProvider | undefined;
let tracer: Tracer | undefined;
const w3c = new W3CTraceContextPropagator();

/**
 * Registers the process's tracer provider, exporting over OTLP/HTTP (JSON) in batches. Without
 * an endpoint nothing is registered: the API stays a no-op and the mesh's spans are never made.
 * One provider per process: in a process running several apps (the embedded mesh, tests) the
 * first one's settings hold. Returns whether tracing is on.
 */
export function startTracing(settings: TracingSettings): boolean {
  if (provider) return true;
  const exporter =
    settings.exporter ?? (settings.endpoint ? new OTLPTraceExporter({ url: tracesUrl(settings.endpoint) }) : undefined);
  if (!exporter) return false;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: settings.serviceName,
      'service.instance.id': settings.serviceInstanceId,
      'mesh.region': settings.region,
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // Also the AsyncLocalStorage context manager (a handler's span is active in all it awaits) and the W3C propagator.
  provider.register();
  tracer = provider.getTracer('agent-mesh');
  return true;
}

/** `<endpoint>/v1/traces`, as the OTLP exporters derive it from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** The mesh's tracer, or undefined when tracing is off (then no span is made at all). */
export function meshTracer(): Tracer | undefined {
  return tracer;
}

/** Sends the spans ended so far (graceful shutdown). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush();
}

/** Flushes and unregisters the provider: tracing is off again (tests; a process about to exit). */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  provider = undefined;
  tracer = undefined;
  if (!stopping) return;
  await stopping.shutdown();
  trace.disable();
  context.disable();
}

/** `base` with the span a W3C `traceparent` names as its (remote) parent; `base` itself when there is none or it is malformed. */
export function contextOf(traceparent: string | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!traceparent) return base;
  return w3c.extract(base, { traceparent }, defaultTextMapGetter);
}

/** The W3C `traceparent` that makes a span the parent of what a receiver does. */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  w3c.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier['traceparent'] ?? '';
}

/** Marks the active span (a handler's, a skill's) as failed with `error`; nothing when no span is recording. */
export function recordSpanError(error: unknown): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Runs `work` in a span of its own, child of the active one, ended when it settles; just `work()` when tracing is off. */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number>,
  work: () => Promise<T>,
): Promise<T> {
  if (!tracer) return work();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      recordSpanError(error);
      throw error;
    } finally {
      span.end();
    }
  });
}
