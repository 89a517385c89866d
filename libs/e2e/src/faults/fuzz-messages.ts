import {
  createMeshEventRegistry,
  MAX_INPUT_TEXT,
  TaskAssignedV1,
  uuidv7,
  type EventDefinition,
} from '@agent-mesh/contracts';

/*
 * Bad messages for the fuzz: each breaks the contract of every consumer in its own way, and
 * must be dead-lettered with a reason — never handled, never crash an agent. "An extra field" is
 * not among them: unknown fields are accepted on events (schema evolution), so it breaks nothing.
 * Each carries the property FUZZ_ID, which a dead letter keeps, to be matched.
 */

export const FUZZ_ID = 'fuzz.id';
export const FUZZ_KIND = 'fuzz.kind';

export const FUZZ_KINDS = [
  'not-json',
  'truncated-json',
  'json-not-an-object',
  'wrong-types',
  'wrong-data-types',
  'unknown-type',
  'unknown-version',
  'missing-correlation-id',
  'oversize',
  'proto-key',
  'constructor-key',
  'deeply-nested',
] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export interface FuzzMessage {
  readonly id: string;
  readonly kind: FuzzKind;
  readonly topic: string;
  readonly payload: string;
}

type Plain = Record<string, unknown>;

const registry = createMeshEventRegistry();
const ORIGIN = { source: 'fuzz@faults', region: 'faults' };

/** A valid event of `definition` on the wire, as a plain object to break. */
function validEvent(definition: EventDefinition, data: object, correlationId: string): Plain {
  const { payload } = registry.createEncoded(definition, data, ORIGIN, { correlationId });
  return JSON.parse(payload.toString('utf8')) as Plain;
}

function validTask(n: number): Plain {
  const workflowId = uuidv7();
  return validEvent(
    TaskAssignedV1,
    {
      taskId: `${workflowId}:fuzz-${n}`,
      branchIndex: 0,
      branchCount: 1,
      skill: 'count',
      input: { id: `fuzz-${n}`, text: 'fuzz words' },
      params: { n },
    },
    workflowId,
  );
}

/** `{ a: { a: … { a: 1 } } }`, `depth` levels deep, as JSON text (no recursion to build it). */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function payloadOf(kind: FuzzKind, n: number): string {
  const event = validTask(n);
  const data = event['data'] as Plain;
  switch (kind) {
    case 'not-json':
      return `\u0000\u00ff garbage ${n} <xml/>`;
    case 'truncated-json':
      return JSON.stringify(event).slice(0, 40 + (n % 60));
    case 'json-not-an-object':
      return JSON.stringify([event, n]);
    case 'wrong-types':
      return JSON.stringify({ ...event, version: 'one', occurredAt: n, data: 'not an object' });
    case 'wrong-data-types':
      return JSON.stringify({ ...event, data: { ...data, branchIndex: 'zero', input: { id: n, text: ['x'] } } });
    case 'unknown-type':
      return JSON.stringify({ ...event, type: `fuzz.unknown-${n % 7}` });
    case 'unknown-version':
      return JSON.stringify({ ...event, version: 90 + (n % 9) });
    case 'missing-correlation-id': {
      const { correlationId: _dropped, ...rest } = event;
      return JSON.stringify(rest);
    }
    case 'oversize':
      return JSON.stringify({
        ...event,
        data: { ...data, input: { id: `fuzz-${n}`, text: 'x'.repeat(MAX_INPUT_TEXT + 1) } },
      });
    case 'proto-key':
      // JSON.stringify would drop a real __proto__ key: write it into the text.
      return JSON.stringify(event).replace('"data":{', '"data":{"__proto__":{"polluted":true},');
    case 'constructor-key':
      return JSON.stringify(event).replace('"data":{', '"data":{"constructor":{"prototype":{"polluted":true}},');
    case 'deeply-nested':
      return JSON.stringify(event).replace(/"params":\{[^}]*\}/, `"params":${nested(5_000 + n)}`);
  }
}

/** `count` bad messages, the kinds in turn, spread over `topics` in turn. */
export function fuzzMessages(runId: string, count: number, topics: readonly string[]): FuzzMessage[] {
  return Array.from({ length: count }, (_, n) => {
    const kind = FUZZ_KINDS[n % FUZZ_KINDS.length];
    // topics advance once per full round of kinds, so every topic gets every kind
    const topic = topics[(n + Math.floor(n / FUZZ_KINDS.length)) % topics.length];
    return { id: `${runId}-${n}`, kind, topic, payload: payloadOf(kind, n) };
  });
}
