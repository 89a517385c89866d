import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsInt, IsOptional, IsString, Min } from 'class-validator';
import { assertPulsarAnswers, describeWithPulsar } from '@agent-mesh/bus/testing';
import {
  defineEvent,
  meshTopicSchemas,
  qualifyTopic,
  requiredFieldsDropped,
  topicSchema,
  type AvroRecord,
} from '@agent-mesh/contracts';
import { PulsarNamespace } from '@agent-mesh/testing';

/*
 * The contracts against Pulsar's schema registry (the real broker). The committed schemas
 * (libs/contracts/schemas, what the bootstrap registers) stand for the schemas of the running
 * mesh; the schemas generated from the current contracts must be compatible with them under
 * the namespace's strategy, BACKWARD, and keep every required field — or a rolling upgrade
 * would break a consumer.
 *
 * After a compatible contract change, rewrite the committed schemas with
 *   MESH_UPDATE_SCHEMAS=1 npx jest -c libs/e2e/jest.config.js schema-registry
 * (written only when every topic's new schema is compatible; the diff shows in review).
 */

const SNAPSHOT_DIR = join(__dirname, '..', '..', 'contracts', 'schemas');
const UPDATE = process.env['MESH_UPDATE_SCHEMAS'] === '1';

/** A topic family's schema is checked on one topic of the family. */
const concrete = (topic: string): string => topic.replace(/\{\w+\}/, 'schema-check');

function committedSchemas(): Record<string, AvroRecord> {
  const out: Record<string, AvroRecord> = {};
  mkdirSync(SNAPSHOT_DIR, { recursive: true });
  for (const file of readdirSync(SNAPSHOT_DIR).filter((f) => f.endsWith('.json')))
    out[file.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(SNAPSHOT_DIR, file), 'utf8')) as AvroRecord;
  return out;
}

// test.order: the v1 consumer's contract, and changes made to it.
class Order {
  @IsInt()
  @Min(0)
  cents!: number;

  @IsString()
  sku!: string;
}
class OrderWithOptionalNote extends Order {
  @IsOptional()
  @IsString()
  note?: string;
}
class OrderWithRequiredCurrency extends Order {
  @IsString()
  currency!: string;
}
class OrderWithTextCents {
  @IsString()
  cents!: string;

  @IsString()
  sku!: string;
}
class Refund {
  @IsString()
  orderSku!: string;

  @IsString()
  reason!: string;
}
class OrderV2 {
  @IsInt()
  cents!: number;

  @IsString()
  sku!: string;

  @IsString()
  currency!: string;
}
const order = (cls: new () => object) => topicSchema([defineEvent('test.order', 1, 'event', cls)]);

describeWithPulsar("the contracts in Pulsar's schema registry", (env) => {
  const namespace = new PulsarNamespace(env, 'schemas');
  const topic = (short: string): string => qualifyTopic(namespace.naming, short);
  const json = (schema: AvroRecord) => ({ type: 'JSON' as const, schema });

  beforeAll(async () => {
    await assertPulsarAnswers(env);
    await namespace.create();
  }, 60_000);

  afterAll(async () => {
    await namespace.delete();
  }, 60_000);

  it('provisions the namespace as the bootstrap does: BACKWARD, schemas not enforced, a schema on every topic', async () => {
    const { admin, tenant, name } = namespace;
    expect(await admin.getSchemaCompatibilityStrategy(tenant, name)).toBe('BACKWARD');
    // Producers and consumers that send no schema (the agents' pulsar-ws clients) stay welcome.
    expect(await admin.getSchemaValidationEnforced(tenant, name)).toBe(false);
    const stored = await admin.getSchema(topic('task.results'));
    expect(stored).toMatchObject({ type: 'JSON', schema: meshTopicSchemas()['task.results'] });
    expect(await admin.getSchema(topic('tasks.keywords'))).toMatchObject({ type: 'JSON' });
  });

  it('finds the current contracts compatible with the committed schemas of every topic', async () => {
    const committed = committedSchemas();
    const current = meshTopicSchemas();
    const verdicts: Record<string, string> = {};
    for (const [short, schema] of Object.entries(current)) {
      const name = topic(`registered.${concrete(short)}`);
      const before = committed[short];
      if (before) await namespace.admin.uploadSchema(name, json(before));
      const verdict = await namespace.admin.checkSchemaCompatibility(name, json(schema));
      // BACKWARD does not see a required field dropped, which breaks consumers still on the old schema.
      const dropped = before ? requiredFieldsDropped(before, schema) : [];
      if (!verdict.compatible) verdicts[short] = verdict.reason ?? 'incompatible';
      else verdicts[short] = dropped.length > 0 ? `required fields dropped: ${dropped.join(', ')}` : 'compatible';
    }
    const expected = Object.fromEntries(Object.keys(current).map((short) => [short, 'compatible']));
    expect(verdicts).toEqual(expected);
    // A topic no longer carrying events would lose its consumers' schema: it must stay.
    expect(Object.keys(committed).filter((short) => !(short in current))).toEqual([]);
    if (UPDATE) {
      for (const [short, schema] of Object.entries(current))
        writeFileSync(join(SNAPSHOT_DIR, `${short}.json`), `${JSON.stringify(schema, null, 2)}\n`);
    }
  });

  describe('a contract change, checked against the registered schema of its topic', () => {
    const registered = topic('test.orders');

    beforeAll(async () => {
      await namespace.admin.uploadSchema(registered, json(order(Order)));
    });

    it.each<[string, AvroRecord]>([
      ['a new optional field', order(OrderWithOptionalNote)],
      [
        'a new version of the event next to the old one',
        topicSchema([
          defineEvent('test.order', 1, 'event', Order),
          defineEvent('test.order', 2, 'event', OrderV2, {
            upcastFrom: { 1: (v1: Order) => ({ ...v1, currency: 'EUR' }) },
          }),
        ]),
      ],
      [
        'another event type on the topic',
        topicSchema([defineEvent('test.order', 1, 'event', Order), defineEvent('test.refund', 1, 'event', Order)]),
      ],
    ])('accepts %s', async (_label, schema) => {
      expect(await namespace.admin.checkSchemaCompatibility(registered, json(schema))).toMatchObject({
        compatible: true,
        strategy: 'BACKWARD',
      });
    });

    it.each<[string, AvroRecord]>([
      ['a new required field without default', order(OrderWithRequiredCurrency)],
      ['a changed field type (cents: integer → text)', order(OrderWithTextCents)],
      // (unless another type on the topic could read it: Avro resolves an unknown union branch by structure)
      ['an event type dropped from the topic', topicSchema([defineEvent('test.refund', 1, 'event', Refund)])],
      ['a version dropped for the next one', topicSchema([defineEvent('test.order', 2, 'event', OrderV2)])],
    ])('refuses %s', async (_label, schema) => {
      const verdict = await namespace.admin.checkSchemaCompatibility(registered, json(schema));
      expect(verdict.compatible).toBe(false);
      expect(verdict.reason).toMatch(/BACKWARD/);
      // and registering it is refused as well
      await expect(namespace.admin.uploadSchema(registered, json(schema))).rejects.toThrow(/409|incompatible/i);
    });
  });
});
