import { randomHex, TRACEPARENT_PATTERN } from '@agent-mesh/contracts';

/**
 * W3C trace context: a new event continues its cause's trace (same trace id, new span whose
 * parent is the cause) or starts a trace. Collectors can then follow a workflow across agents.
 */
export function nextTraceparent(parent?: string): string {
  const span = randomHex(8);
  if (parent && TRACEPARENT_PATTERN.test(parent)) {
    const [version, traceId, , flags] = parent.split('-');
    return `${version}-${traceId}-${span}-${flags}`;
  }
  return `00-${randomHex(16)}-${span}-01`;
}

export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split('-')[1];
}
