import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';

/** What every log line written while a message is handled says about it. */
export interface MessageLogFields {
  /** The workflow (the envelope's correlationId). */
  readonly correlationId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly topic: string;
  readonly subscription: string;
  /** `<role>@<instance>` of the process handling it. */
  readonly agent: string;
  /** The event's trace (from its traceparent), so logs and traces meet even with tracing off. */
  readonly traceId?: string;
}

const messageFields = new AsyncLocalStorage<MessageLogFields>();

/** Runs `handle` with `fields` on every log line it (and all it awaits) writes. */
export function withMessageLogFields<T>(fields: MessageLogFields, handle: () => T): T {
  return messageFields.run(fields, handle);
}

/**
 * The fields pino adds to each line (its `mixin`): the message being handled, if any, and the
 * active span's trace and span ids, if a span is recording (a handler's, a skill's, an HTTP request's).
 */
export function logContextFields(): Record<string, string> {
  const fields: Record<string, string> = { ...messageFields.getStore() };
  const span = trace.getActiveSpan();
  if (span?.isRecording()) {
    const { traceId, spanId } = span.spanContext();
    fields['traceId'] = traceId;
    fields['spanId'] = spanId;
  }
  return fields;
}
