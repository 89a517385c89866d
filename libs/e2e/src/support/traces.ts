import type { ReceivedSpan, OtlpReceiver } from '@agent-mesh/testing';
import { eventually } from '@agent-mesh/testing';

/** OTLP span kinds. */
export const SpanKinds = { internal: 1, server: 2, producer: 4, consumer: 5 } as const;

/** `POST /workflows` with the body; the workflow's id and the trace id the answer's `traceresponse` names. */
export async function submitTraced(baseUrl: string, body: unknown): Promise<{ workflowId: string; traceId: string }> {
  const response = await fetch(`${baseUrl}/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { workflowId?: string };
  if (response.status !== 202) throw new Error(`submission refused (${response.status}): ${JSON.stringify(json)}`);
  const traceresponse = response.headers.get('traceresponse') ?? '';
  return { workflowId: String(json.workflowId), traceId: traceresponse.split('-')[1] ?? '' };
}

/**
 * Waits until the trace holds at least `expected` spans of each name (spans are exported in
 * batches, each process its own, after the work) and is one connected tree: one root, the HTTP
 * submit (a server span), every other span's parent in the trace. Then checks that every span of
 * the workflow the receiver got is in this trace. Returns the trace's spans.
 */
export async function workflowTrace(
  receiver: OtlpReceiver,
  workflowId: string,
  traceId: string,
  expected: Readonly<Record<string, number>>,
): Promise<ReceivedSpan[]> {
  const spans = await eventually(
    `the connected trace of workflow ${workflowId}`,
    async () => {
      const trace = receiver.trace(traceId);
      const counts = spanCounts(trace);
      if (Object.entries(expected).some(([name, count]) => (counts[name] ?? 0) < count)) return undefined;
      expectOneTree(trace); // throws until every parent arrived; the last failure is reported
      return trace;
    },
    30_000,
  );
  const elsewhere = receiver.spans.filter(
    (span) => span.attributes['mesh.correlation_id'] === workflowId && span.traceId !== traceId,
  );
  expect(elsewhere).toEqual([]);
  expect(receiver.refused).toEqual([]);
  return spans;
}

function expectOneTree(spans: readonly ReceivedSpan[]): void {
  const roots = spans.filter((span) => span.parentSpanId === '');
  expect(roots.map((span) => [span.name, span.kind])).toEqual([['POST /workflows', SpanKinds.server]]);
  const ids = new Set(spans.map((span) => span.spanId));
  const orphans = spans.filter((span) => span.parentSpanId !== '' && !ids.has(span.parentSpanId));
  expect(orphans.map((span) => `${span.name} (${span.service})`)).toEqual([]);
}

/** The spans named `name`. */
export function named(spans: readonly ReceivedSpan[], name: string): ReceivedSpan[] {
  return spans.filter((span) => span.name === name);
}

/** The span whose id is `span`'s parent. */
export function parentOf(spans: readonly ReceivedSpan[], span: ReceivedSpan): ReceivedSpan | undefined {
  return spans.find((candidate) => candidate.spanId === span.parentSpanId);
}

/** Count of spans per name, for a readable failure. */
export function spanCounts(spans: readonly ReceivedSpan[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const span of spans) counts[span.name] = (counts[span.name] ?? 0) + 1;
  return counts;
}
