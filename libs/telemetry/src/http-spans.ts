import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import { meshTracer, traceparentOf } from './tracing';

/** What the middleware reads of Express's request: its path and, once routed, the route's template. */
type RoutedRequest = IncomingMessage & { readonly path?: string; readonly route?: { readonly path?: unknown } };

/** Probes and scrapes are not traced: they would bury the workflows' traces. */
export const UNTRACED_PATHS = /^\/(health|metrics)(\/|$)/;

const w3c = new W3CTraceContextPropagator();

/**
 * Express middleware: each request runs in a server span (`POST /workflows`), the root of the
 * trace of what it starts — or a child of the caller's span when the request carries a
 * `traceparent` header. The response's `traceresponse` header names the span, so a client can
 * find the trace of the workflow it submitted. Does nothing when tracing is off. Mount it after
 * the body parser: the span must be active when the route's handler runs.
 */
export function httpServerSpans() {
  return (request: RoutedRequest, response: ServerResponse, next: () => void): void => {
    const tracer = meshTracer();
    const path = request.path ?? request.url ?? '/';
    if (!tracer || UNTRACED_PATHS.test(path)) return next();
    const method = request.method ?? 'GET';
    const parent = w3c.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter);
    const span = tracer.startSpan(
      `${method} ${path}`,
      { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path } },
      parent,
    );
    response.setHeader('traceresponse', traceparentOf(span));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = typeof request.route?.path === 'string' ? request.route.path : undefined;
      if (route) {
        span.updateName(`${method} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    response.once('finish', end);
    response.once('close', end);
    context.with(trace.setSpan(parent, span), next);
  };
}
