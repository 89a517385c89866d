import 'reflect-metadata';
import { createMeshEventRegistry } from '@agent-mesh/contracts';
import { FUZZ_KINDS, fuzzMessages } from './fuzz-messages';

/*
 * The fault suite's bad messages (npm run test:faults publishes them to a real broker): each
 * kind must break the contract — a decode failure with a reason, which the transport turns into
 * a dead letter — so a contract change that starts accepting one shows here, in `npm test`.
 */
describe('the fault suite’s bad messages', () => {
  const registry = createMeshEventRegistry();
  const topics = ['t-1', 't-2', 't-3'];
  const messages = fuzzMessages('spec', FUZZ_KINDS.length * topics.length, topics);

  const EXPECTED: Record<(typeof FUZZ_KINDS)[number], string> = {
    'not-json': 'unparseable',
    'truncated-json': 'unparseable',
    'json-not-an-object': 'invalid-envelope',
    'wrong-types': 'invalid-envelope',
    'wrong-data-types': 'invalid-data',
    'unknown-type': 'unknown-type',
    'unknown-version': 'unknown-type',
    'missing-correlation-id': 'invalid-envelope',
    oversize: 'invalid-data',
    'proto-key': 'unsafe-json',
    'constructor-key': 'unsafe-json',
    'deeply-nested': 'unsafe-json',
  };

  it.each(FUZZ_KINDS.map((kind) => [kind]))('%s fails to decode, with a reason', (kind) => {
    const of = messages.filter((m) => m.kind === kind);
    expect(of).toHaveLength(topics.length);
    for (const message of of) {
      const decoded = registry.decode(message.payload);
      expect(decoded.ok).toBe(false);
      if (decoded.ok) return;
      expect(decoded.code).toBe(EXPECTED[kind]);
      expect(decoded.reason.length).toBeGreaterThan(0);
    }
  });

  it('sends every kind to every topic, each message with an id of its own', () => {
    for (const topic of topics) {
      expect(new Set(messages.filter((m) => m.topic === topic).map((m) => m.kind))).toEqual(new Set(FUZZ_KINDS));
    }
    expect(new Set(messages.map((m) => m.id)).size).toBe(messages.length);
  });
});
