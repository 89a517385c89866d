/**
 * Tracing (OpenTelemetry, OTLP/HTTP) and structured logs (pino) of the agents; knows nothing of
 * the mesh's events. Start at messaging.ts (the handler's and the publish's spans), then
 * tracing.ts (the provider) and logger.ts.
 */
export {
  contextOf,
  flushTracing,
  inSpan,
  meshTracer,
  recordSpanError,
  startTracing,
  stopTracing,
  traceparentOf,
  tracesUrl,
  type TracingSettings,
} from './tracing';
export {
  handleInScope,
  startPublishTrace,
  type HandledMessage,
  type PublishedEvent,
  type PublishTrace,
} from './messaging';
export { logContextFields, type MessageLogFields } from './log-context';
export { httpServerSpans, UNTRACED_PATHS } from './http-spans';
export { httpLogOptions, LOG_LEVELS, meshLogger, type LogLevel } from './logger';
