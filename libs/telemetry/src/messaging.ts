import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { withMessageLogFields, type MessageLogFields } from './log-context';
import { contextOf, meshTracer, traceparentOf } from './tracing';

/** A message about to be handled: its log fields and the `traceparent` of the publish it came from. */
export interface HandledMessage extends MessageLogFields {
  readonly traceparent?: string;
  readonly redeliveryCount: number;
}

/**
 * Handles one message in its scope: every log line carries its fields and, when tracing is on, it
 * runs in a consumer span `process <type>` whose parent is the publish that sent the event — one
 * trace per workflow, across processes. `handle` starts at once (a synchronous handler still
 * settles its message in the same turn); the span ends when it settles.
 */
export function handleInScope(message: HandledMessage, handle: () => Promise<void>): Promise<void> {
  const tracer = meshTracer();
  const fields: MessageLogFields = {
    correlationId: message.correlationId,
    eventId: message.eventId,
    eventType: message.eventType,
    topic: message.topic,
    subscription: message.subscription,
    agent: message.agent,
    ...(message.traceId ? { traceId: message.traceId } : {}),
  };
  if (!tracer) return withMessageLogFields(fields, handle);
  const parent = contextOf(message.traceparent);
  const attributes: Attributes = {
    ...messageAttributes(message),
    'messaging.operation.type': 'process',
    'messaging.consumer.group.name': message.subscription,
    'mesh.redelivery_count': message.redeliveryCount,
  };
  const span = tracer.startSpan(`process ${message.eventType}`, { kind: SpanKind.CONSUMER, attributes }, parent);
  return withMessageLogFields(fields, () =>
    context.with(trace.setSpan(parent, span), () => handle().finally(() => span.end())),
  );
}

/** The span of one publish: its `traceparent` goes into the event, `end` once the broker took it (or did not). */
export interface PublishTrace {
  readonly traceparent: string;
  end(outcome: { readonly eventId?: string; readonly error?: unknown }): void;
}

/** What a publish is about, for its span. */
export interface PublishedEvent {
  readonly eventType: string;
  readonly topic: string;
  readonly correlationId?: string;
  /** The traceparent of the event that caused this one. */
  readonly causeTraceparent?: string;
}

/**
 * Opens the producer span `publish <type>` of a publish, or undefined when tracing is off. Its
 * parent is the active span (the handler's, the HTTP request's) when that belongs to the cause's
 * trace, else the cause's publish (an event caused by one from another trace stays in that one);
 * with neither, it starts a trace.
 */
export function startPublishTrace(event: PublishedEvent): PublishTrace | undefined {
  const tracer = meshTracer();
  if (!tracer) return undefined;
  const active = trace.getActiveSpan();
  const causeTraceId = event.causeTraceparent?.split('-')[1];
  const parent =
    active && (causeTraceId === undefined || active.spanContext().traceId === causeTraceId)
      ? context.active()
      : contextOf(event.causeTraceparent, context.active());
  const span = tracer.startSpan(
    `publish ${event.eventType}`,
    { kind: SpanKind.PRODUCER, attributes: { ...messageAttributes(event), 'messaging.operation.type': 'send' } },
    parent,
  );
  return {
    traceparent: traceparentOf(span),
    end: ({ eventId, error }) => {
      if (eventId) span.setAttribute('messaging.message.id', eventId);
      endSpan(span, error);
    },
  };
}

function messageAttributes(event: {
  eventType: string;
  topic: string;
  correlationId?: string;
  eventId?: string;
}): Attributes {
  const attributes: Attributes = {
    'messaging.system': 'pulsar',
    'messaging.destination.name': event.topic,
    'mesh.event.type': event.eventType,
  };
  if (event.correlationId) attributes['mesh.correlation_id'] = event.correlationId;
  if (event.eventId) attributes['messaging.message.id'] = event.eventId;
  return attributes;
}

function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}
