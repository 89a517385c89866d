import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { DeadLetterProperties } from '@agent-mesh/bus';
import type { EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from './decorators';
import {
  MESH_DLQ,
  MeshHarness,
  Ping,
  PingV1,
  PingV2,
  rawPingEnvelope,
  readTopic,
  sleep,
  testRegistry,
  topicOf,
  waitFor,
} from './testing/mesh-test-kit';

const TOPIC = 'bad.topic';
const SUB = 'bad-sub';

function withoutFields(envelope: Record<string, unknown>, ...fields: string[]): Record<string, unknown> {
  const copy = { ...envelope };
  for (const field of fields) delete copy[field];
  return copy;
}

describe('MeshTransportServer with bad input (memory bus)', () => {
  let h: MeshHarness;
  let handled: number[];

  @Controller()
  class PingController {
    @OnMeshEvent(PingV1, { topic: TOPIC, subscription: SUB, nackRedeliveryDelayMs: 20, maxRedeliverCount: 5 })
    onPing(@Payload() envelope: EventEnvelope<Ping>): void {
      handled.push(envelope.data.n);
    }
  }

  beforeEach(() => {
    h = new MeshHarness();
    handled = [];
  });

  afterEach(async () => {
    await h.dispose();
  });

  it.each<[string, () => string, RegExp]>([
    ['an unparseable payload', () => 'not json{', /^unparseable: payload is not JSON/],
    [
      'an unknown event type',
      () => JSON.stringify({ ...rawPingEnvelope(1), type: 'test.unknown' }),
      /^unknown-type: unknown event type test\.unknown@1/,
    ],
    [
      'a known type with invalid data',
      () => JSON.stringify({ ...rawPingEnvelope(1), data: { n: 'one' } }),
      /^invalid-data: test\.ping@1 data is invalid: n: /,
    ],
    [
      'a known type with an undeclared data field next to a wrong-typed one',
      () => JSON.stringify({ ...rawPingEnvelope(1), data: { n: 'one', extra: true } }),
      /^invalid-data: test\.ping@1 data is invalid: n: /,
    ],
    [
      'an envelope missing required header fields',
      () => JSON.stringify(withoutFields(rawPingEnvelope(1), 'correlationId', 'source')),
      /^invalid-envelope: .*correlationId.*source|^invalid-envelope: .*source.*correlationId/,
    ],
    ['a JSON array payload', () => JSON.stringify([rawPingEnvelope(1)]), /^invalid-envelope: /],
    [
      'a __proto__ key in the body (class-transformer would drop it and pass the event)',
      () => JSON.stringify(rawPingEnvelope(1)).replace('"data":{', '"data":{"__proto__":{"polluted":true},'),
      /^unsafe-json: payload refused: forbidden key "__proto__"/,
    ],
    [
      'a constructor.prototype key in the body',
      () =>
        JSON.stringify(rawPingEnvelope(1)).replace(
          '"data":{',
          '"data":{"constructor":{"prototype":{"polluted":true}},',
        ),
      /^unsafe-json: payload refused: forbidden key "constructor"/,
    ],
    [
      'a prototype key in the body',
      () => JSON.stringify(rawPingEnvelope(1)).replace('"data":{', '"data":{"prototype":{"polluted":true},'),
      /^unsafe-json: payload refused: forbidden key "prototype"/,
    ],
    [
      'a body nested thousands of levels deep',
      () =>
        JSON.stringify(rawPingEnvelope(1)).replace(
          '"data":{',
          `"data":{"deep":${'['.repeat(10_000)}${']'.repeat(10_000)},`,
        ),
      /^unsafe-json: payload refused: nested deeper than/,
    ],
    [
      'an event over the 5 MiB limit publishers keep to (valid otherwise: JSON whitespace)',
      () => `${JSON.stringify(rawPingEnvelope(1))}${' '.repeat(5 * 1024 * 1024)}`,
      /^payload-too-large: \d{7} bytes, over the 5242880-byte limit$/,
    ],
  ])('dead-letters %s with the reason and keeps serving', async (_label, payload, reason) => {
    await h.start({ controllers: [PingController] });
    const raw = payload();
    const badId = await h.publishRaw(TOPIC, raw, 'bad-key');
    await h.publisher.publish(TOPIC, PingV1, { n: 7 }, { correlationId: 'c-good' });

    await waitFor('valid event handled and backlog empty', () => handled.length === 1 && h.backlog(TOPIC, SUB) === 0);
    const dead = await readTopic(h.external, MESH_DLQ);
    expect(handled).toEqual([7]);
    expect(dead).toHaveLength(1);
    expect(dead[0].properties[DeadLetterProperties.reason]).toMatch(reason);
    expect(dead[0].properties[DeadLetterProperties.originTopic]).toBe(topicOf(TOPIC));
    expect(dead[0].properties[DeadLetterProperties.originMessageId]).toBe(badId);
    expect(dead[0].properties[DeadLetterProperties.subscription]).toBe(SUB);
    // Dead-lettered on first sight, not after retries.
    expect(dead[0].properties[DeadLetterProperties.redeliveryCount]).toBe('0');
    expect(dead[0].payload.toString('utf8')).toBe(raw);
    expect(dead[0].key).toBe('bad-key');

    // Still serving afterwards, and the bad message does not come back.
    await h.publisher.publish(TOPIC, PingV1, { n: 8 }, { correlationId: 'c-good' });
    await waitFor('second valid event handled', () => handled.length === 2);
    await sleep(60);
    expect(handled).toEqual([7, 8]);
    expect(await readTopic(h.external, MESH_DLQ)).toHaveLength(1);
    // and nothing was polluted on the way
    for (const prototype of [Object.prototype, Array.prototype, Function.prototype])
      expect(Object.getOwnPropertyNames(prototype)).not.toContain('polluted');
  });

  it('dead-letters a registered version the handler does not declare', async () => {
    const registry = testRegistry().register(PingV2);
    await h.start({ controllers: [PingController], registry });
    const v2 = { ...rawPingEnvelope(2), version: 2 };
    await h.publishRaw(TOPIC, JSON.stringify(v2));
    await h.publisher.publish(TOPIC, PingV1, { n: 1 }, { correlationId: 'c-good' });

    await waitFor('v1 handled and backlog empty', () => handled.length === 1 && h.backlog(TOPIC, SUB) === 0);
    const dead = await readTopic(h.external, MESH_DLQ);
    expect(handled).toEqual([1]);
    expect(dead).toHaveLength(1);
    expect(dead[0].properties[DeadLetterProperties.reason]).toMatch(
      /^unsupported-version: .*test\.ping@1, got test\.ping@2/,
    );
  });
});
