// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, ValidateNested } from 'class-validator';
import { requiredFieldsDropped, topicSchema, type AvroRecord } from './avro-schema';
import { MESH_EVENT_DEFINITIONS } from './events';
import { defineEvent, type EventDefinition } from './registry';
import { meshTopicSchemas, schemaRegistrations, TOPIC_EVENTS } from './topic-contracts';
import { Topics } from './topics';

/** The committed schemas: what the bootstrap registers, and what a contract change is checked against. */
const SNAPSHOT_DIR = join(__dirname, '..', 'schemas');

function committed(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const file of readdirSync(SNAPSHOT_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort())
    out[file.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(SNAPSHOT_DIR, file), 'utf8')) as unknown;
  return out;
}

/** The `data` union's record names of a topic schema. */
function bodies(schema: AvroRecord): string[] {
  const data = schema.fields.find((f) => f.name === 'data');
  return (data?.type as AvroRecord[]).map((r) => r.name);
}

describe('topic schemas', () => {
  it('put every event type of the mesh on a topic of Topics', () => {
    const onTopics = new Set(Object.values(TOPIC_EVENTS).flat());
    for (const definition of MESH_EVENT_DEFINITIONS as readonly EventDefinition[])
      expect([definition.type, onTopics.has(definition)]).toEqual([definition.type, true]);
    const fixed: unknown[] = Object.values(Topics).filter((t) => typeof t === 'string');
    for (const topic of Object.keys(TOPIC_EVENTS)) {
      expect([topic, fixed.includes(topic) || /^(tasks|blackboard|workflow\.stream)\.\{\w+\}$/.test(topic)]).toEqual([
        topic,
        true,
      ]);
    }
  });

  it('match the committed schemas in libs/contracts/schemas (a contract change shows in review)', () => {
    // On a difference: check it against the registry and rewrite the files with
    // MESH_UPDATE_SCHEMAS=1 npx jest -c libs/e2e/jest.config.js schema-registry
    expect(JSON.parse(JSON.stringify(meshTopicSchemas()))).toEqual(committed());
  });

  it('describe the envelope with data one of the bodies of the topic, optional fields as null unions', () => {
    const schema = meshTopicSchemas()[Topics.taskResults];
    expect(schema).toMatchObject({ type: 'record', name: 'Envelope', namespace: 'agentmesh' });
    expect(schema.fields.map((f) => f.name)).toEqual([
      'id',
      'type',
      'version',
      'correlationId',
      'causationId',
      'source',
      'region',
      'home',
      'occurredAt',
      'traceparent',
      'data',
    ]);
    expect(schema.fields.find((f) => f.name === 'causationId')).toEqual({
      name: 'causationId',
      type: ['null', 'string'],
      default: null,
    });
    expect(bodies(schema)).toEqual(['FanoutStartedV1', 'TaskCompletedV1', 'TaskFailedV1']);
  });

  it('map each constraint to its Avro type, nested classes to records defined once', () => {
    class Inner {
      @IsString()
      text!: string;
    }
    class Body {
      @IsInt()
      n!: number;

      @IsOptional()
      @IsString()
      note?: string;

      @ValidateNested()
      @Type(() => Inner)
      first!: Inner;

      @IsOptional()
      @ValidateNested()
      @Type(() => Inner)
      second?: Inner;

      @IsObject()
      params!: Record<string, unknown>;
    }
    const schema = topicSchema([defineEvent('test.body', 1, 'event', Body)]);
    expect(bodies(schema)).toEqual(['TestBodyV1']);
    const fields = (schema.fields.at(-1)?.type as AvroRecord[])[0].fields;
    expect(fields.slice(0, 4)).toEqual([
      { name: 'n', type: 'long' },
      { name: 'note', type: ['null', 'string'], default: null },
      { name: 'first', type: { type: 'record', name: 'Inner', fields: [{ name: 'text', type: 'string' }] } },
      { name: 'second', type: ['null', 'Inner'], default: null },
    ]);
    expect(fields[4]).toMatchObject({ name: 'params', type: { type: 'map', values: { name: 'JsonValue' } } });
  });

  it('name the required fields a change drops or makes optional (what BACKWARD lets through)', () => {
    class Before {
      @IsInt()
      n!: number;

      @IsString()
      sku!: string;

      @IsString()
      label!: string;

      @IsOptional()
      @IsString()
      note?: string;
    }
    class After {
      @IsInt()
      n!: number;

      @IsOptional()
      @IsString()
      label?: string;

      @IsString()
      added!: string;
    }
    const schema = (cls: new () => object) => topicSchema([defineEvent('test.item', 1, 'event', cls)]);
    expect(requiredFieldsDropped(schema(Before), schema(After))).toEqual([
      'TestItemV1.sku removed',
      'TestItemV1.label made optional',
    ]);
    expect(requiredFieldsDropped(schema(Before), schema(Before))).toEqual([]);
  });

  it('register fixed topics, and families once per name given', () => {
    const topics = schemaRegistrations({ skill: ['keywords', 'summarize'] }).map((r) => r.topic);
    expect(topics).toContain('task.results');
    expect(topics).toContain('tasks.keywords');
    expect(topics).toContain('tasks.summarize');
    expect(topics.some((t) => t.includes('{'))).toBe(false);
    expect(schemaRegistrations().map((r) => r.topic)).not.toContain('tasks.keywords');
  });
});
