import { getMetadataStorage, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { EnvelopeHeader } from './envelope';
import type { EventDefinition } from './registry';
import type { Constructor } from './validation';

/**
 * The Avro-style record definitions Pulsar's schema registry takes for a JSON schema, generated
 * from the contracts' own class-validator and class-transformer metadata. A topic's schema is the
 * envelope with `data` a union of the bodies of the event types on that topic, so the registry's
 * compatibility check (BACKWARD: the new schema reads what the old one wrote) refuses what would
 * break a consumer: a new required field, a changed field type, an event type no longer on the
 * topic; it accepts a new optional field, a new event type, a new version of one.
 *
 * The schema describes the JSON on the wire; it is not used to serialise it (the agents publish
 * JSON text with no schema of their own, and the namespace does not enforce schemas).
 */
export type AvroType =
  | string
  | readonly AvroType[]
  | AvroRecord
  | { readonly type: 'array'; readonly items: AvroType }
  | { readonly type: 'map'; readonly values: AvroType };

export interface AvroField {
  readonly name: string;
  readonly type: AvroType;
  readonly default?: null;
}

export interface AvroRecord {
  readonly type: 'record';
  readonly name: string;
  readonly namespace?: string;
  readonly doc?: string;
  readonly fields: readonly AvroField[];
}

/** The Avro namespace of every generated record. */
export const AVRO_NAMESPACE = 'agentmesh';
const JSON_VALUE = 'JsonValue';

/** class-transformer's (0.5) metadata storage, the part read here (not in its public API). */
const transformerStorage = (
  require('class-transformer/cjs/storage') as {
    defaultMetadataStorage: {
      findTypeMetadata(
        target: object,
        property: string,
      ):
        | {
            readonly typeFunction: () => unknown;
            readonly options?: {
              readonly discriminator?: { readonly subTypes: readonly { readonly value: unknown }[] };
            };
          }
        | undefined;
    };
  }
).defaultMetadataStorage;

/** The schema of a topic carrying `definitions`: the envelope, `data` one of their bodies. */
export function topicSchema(definitions: readonly EventDefinition[], doc?: string): AvroRecord {
  const names = new NameTable();
  const header = fieldsOf(EnvelopeHeader, names, 'data');
  const bodies = [...definitions]
    .sort((a, b) => a.type.localeCompare(b.type) || a.version - b.version)
    .map((d): AvroRecord => {
      // Each event type its own record, even when two share a body class (a union holds a name once).
      const name = names.claimName(bodyRecordName(d));
      return { type: 'record', name, doc: `${d.type}@${d.version}`, fields: fieldsOf(d.data, names) };
    });
  return {
    type: 'record',
    name: 'Envelope',
    namespace: AVRO_NAMESPACE,
    ...(doc ? { doc } : {}),
    fields: [...header, { name: 'data', type: bodies }],
  };
}

/** `task.completed`@1 → `TaskCompletedV1`. */
export function bodyRecordName(definition: Pick<EventDefinition, 'type' | 'version'>): string {
  const words = definition.type.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return `${words.map((w) => w[0].toUpperCase() + w.slice(1)).join('')}V${definition.version}`;
}

/** Record names given so far in one schema: a class is defined once, then referred to by name. */
class NameTable {
  private readonly byClass = new Map<Constructor<object>, string>();
  private readonly taken = new Set<string>([JSON_VALUE]);
  jsonValueDefined = false;

  nameOf(cls: Constructor<object>): string | undefined {
    return this.byClass.get(cls);
  }

  claim(cls: Constructor<object>, wanted: string): string {
    const name = this.claimName(wanted);
    this.byClass.set(cls, name);
    return name;
  }

  claimName(wanted: string): string {
    let name = wanted;
    for (let i = 2; this.taken.has(name); i++) name = `${wanted}${i}`;
    this.taken.add(name);
    return name;
  }
}

function recordOf(cls: Constructor<object>, names: NameTable): AvroType {
  const known = names.nameOf(cls);
  if (known) return known;
  // Named before its fields: a class that nests itself (steps in a chain) refers to it by name.
  const name = names.claim(cls, cls.name);
  return { type: 'record', name, fields: fieldsOf(cls, names) };
}

function fieldsOf(cls: Constructor<object>, names: NameTable, except?: string): AvroField[] {
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(cls, '', false, false, undefined);
  const grouped = new Map<string, ValidationMetadata[]>();
  for (const m of metadatas) {
    if (m.propertyName !== except) grouped.set(m.propertyName, [...(grouped.get(m.propertyName) ?? []), m]);
  }
  return [...grouped].map(([property, group]) => fieldOf(cls, property, group, names));
}

function fieldOf(cls: Constructor<object>, property: string, group: ValidationMetadata[], names: NameTable): AvroField {
  const optional = group.some((m) => m.type === ValidationTypes.CONDITIONAL_VALIDATION && m.name === 'isOptional');
  const type = typeOf(cls, property, group, names);
  if (!optional) return { name: property, type };
  const branches = Array.isArray(type) ? (type as AvroType[]) : [type];
  return { name: property, type: ['null', ...branches], default: null };
}

function typeOf(cls: Constructor<object>, property: string, group: ValidationMetadata[], names: NameTable): AvroType {
  const has = (name: string): ValidationMetadata | undefined => group.find((m) => m.name === name);
  const designType = Reflect.getMetadata('design:type', cls.prototype, property) as unknown;
  const isArray = designType === Array || !!has('isArray');
  const nested = group.find((m) => m.type === ValidationTypes.NESTED_VALIDATION);
  if (nested) {
    const item = nestedType(cls, property, names);
    return isArray || nested.each ? { type: 'array', items: item } : item;
  }
  if (isArray) {
    const each = group.filter((m) => m.each && m.name).map((m) => scalarOf(m));
    return { type: 'array', items: each.find((t) => t !== undefined) ?? jsonValue(names) };
  }
  for (const m of group) {
    const scalar = scalarOf(m);
    if (scalar) return scalar;
  }
  if (has('isObject')) return { type: 'map', values: jsonValue(names) };
  if (designType === String) return 'string';
  if (designType === Number) return 'double';
  if (designType === Boolean) return 'boolean';
  return jsonValue(names);
}

/** The Avro type a constraint pins a value to, if it does. */
function scalarOf(m: ValidationMetadata): AvroType | undefined {
  switch (m.name) {
    case 'isString':
    case 'matches':
    case 'isIso8601':
    case 'maxLength':
    case 'minLength':
    case 'isLength':
      return 'string';
    case 'isInt':
      return 'long';
    case 'isNumber':
      return 'double';
    case 'isBoolean':
      return 'boolean';
    case 'isIn': {
      const values = (m.constraints?.[0] ?? []) as readonly unknown[];
      if (values.length > 0 && values.every((v) => typeof v === 'string')) return 'string';
      if (values.length > 0 && values.every((v) => typeof v === 'number')) return 'double';
      return undefined;
    }
    default:
      return undefined;
  }
}

/** A nested class: its record, or the union of its subtypes' records when it has a discriminator. */
function nestedType(cls: Constructor<object>, property: string, names: NameTable): AvroType {
  const typeMetadata = transformerStorage.findTypeMetadata(cls, property);
  if (!typeMetadata) return jsonValue(names);
  const subTypes = typeMetadata.options?.discriminator?.subTypes;
  if (!subTypes) return recordOf(typeMetadata.typeFunction() as Constructor<object>, names);
  const classes = [...new Set(subTypes.map((s) => s.value as Constructor<object>))];
  return classes.map((c) => recordOf(c, names));
}

/** Any JSON value (free-form objects such as a skill's params or output): a recursive record. */
function jsonValue(names: NameTable): AvroType {
  if (names.jsonValueDefined) return JSON_VALUE;
  names.jsonValueDefined = true;
  return {
    type: 'record',
    name: JSON_VALUE,
    doc: 'any JSON value',
    fields: [
      {
        name: 'value',
        type: [
          'null',
          'boolean',
          'double',
          'string',
          { type: 'array', items: JSON_VALUE },
          { type: 'map', values: JSON_VALUE },
        ],
      },
    ],
  };
}

/**
 * What the registry's BACKWARD check cannot see and a consumer still on the old schema would
 * trip on: a required field of a record removed, or made optional, in the new schema (a newer
 * producer may then leave it out). Records are matched by name; `Record.field` per problem.
 */
export function requiredFieldsDropped(before: AvroRecord, after: AvroRecord): string[] {
  const now = recordsByName(after);
  const problems: string[] = [];
  for (const [name, record] of recordsByName(before)) {
    const current = now.get(name);
    if (!current) continue; // a record gone from a union: the registry's own check refuses it
    for (const field of record.fields.filter(isRequired)) {
      const next = current.fields.find((f) => f.name === field.name);
      if (!next) problems.push(`${name}.${field.name} removed`);
      else if (!isRequired(next)) problems.push(`${name}.${field.name} made optional`);
    }
  }
  return problems;
}

function isRequired(field: AvroField): boolean {
  return !(Array.isArray(field.type) && field.type.includes('null'));
}

function recordsByName(type: AvroType, out = new Map<string, AvroRecord>()): Map<string, AvroRecord> {
  if (typeof type === 'string') return out;
  if (Array.isArray(type)) {
    for (const branch of type as readonly AvroType[]) recordsByName(branch, out);
    return out;
  }
  const complex = type as Exclude<AvroType, string | readonly AvroType[]>;
  if (complex.type === 'array') return recordsByName(complex.items, out);
  if (complex.type === 'map') return recordsByName(complex.values, out);
  if (out.has(complex.name)) return out;
  out.set(complex.name, complex);
  for (const field of complex.fields) recordsByName(field.type, out);
  return out;
}
