// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import { getMetadataStorage, IsArray, IsString, Length, MinLength } from 'class-validator';
import { compiledContract, jsonFitsCompiledPath } from './compiled-contract';
import { EnvelopeHeader, type EventEnvelope } from './envelope';
import { jsonShapeProblem } from './json-guard';
import { createMeshEventRegistry, MESH_EVENT_DEFINITIONS } from './events';
import { type DecodeResult, type EventDefinition, type EventRegistry } from './registry';
import { uuidv7 } from './uuid';
import { ContractValidationError, validatePlain, type Constructor, type FieldError } from './validation';
import { WorkflowSpec } from './workflow-spec';

/**
 * The compiled contracts must never say yes where class-transformer + class-validator say no,
 * and a yes must decode to what class-transformer builds. Checked here on every event type of
 * the registry, with valid bodies generated from the classes' own metadata and thousands of
 * mutations of them (wrong types, missing and unknown fields, values that serialise otherwise
 * than they look: Date, undefined, NaN, boxed primitives, toJSON, Map, class instances).
 */

// A small seeded PRNG, so that a failure can be replayed.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Random = () => number;
const pick = <T>(rnd: Random, items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
const int = (rnd: Random, min: number, max: number): number => min + Math.floor(rnd() * (max - min + 1));

const typeStorage = (
  require('class-transformer/cjs/storage') as {
    defaultMetadataStorage: {
      findTypeMetadata(
        target: object,
        property: string,
      ):
        | {
            typeFunction: () => unknown;
            options?: { discriminator?: { subTypes: { name: string; value: unknown }[] } };
          }
        | undefined;
    };
  }
).defaultMetadataStorage;

const STRINGS_FOR_PATTERNS = [
  'root',
  'root.0',
  'root.stages.1.step',
  'keywords',
  'summarize',
  'doc-1',
  'a.b_c',
  'field_1',
  'entry-kind',
  'task.completed',
  'task.results',
  'task.results.saga',
  '0190b2a4-7d3c-7abc-8def-0123456789ab',
  '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
];

function randomJson(rnd: Random, depth = 0): unknown {
  const kind = int(rnd, 0, depth > 2 ? 3 : 5);
  switch (kind) {
    case 0:
      return `s${int(rnd, 0, 99)}`;
    case 1:
      return int(rnd, -5, 1000) / pick(rnd, [1, 4]);
    case 2:
      return rnd() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: int(rnd, 0, 3) }, () => randomJson(rnd, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(rnd, 0, 3) }, (_, i) => [`k${i}`, randomJson(rnd, depth + 1)]),
      );
  }
}

/** A body class-validator accepts, built from the class's validation and type metadata. */
function validSample(cls: Constructor<object>, rnd: Random, depth = 0): Record<string, unknown> {
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(cls, '', false, false);
  const byProperty = new Map<string, typeof metadatas>();
  for (const m of metadatas) byProperty.set(m.propertyName, [...(byProperty.get(m.propertyName) ?? []), m]);
  const out: Record<string, unknown> = {};
  for (const [property, group] of byProperty) {
    const named = (name: string) => group.find((m) => m.name === name);
    const constraint = (name: string): unknown => named(name)?.constraints?.[0];
    if (named('isOptional') && rnd() < 0.35) {
      if (rnd() < 0.3) out[property] = null;
      continue;
    }
    const nested = group.some((m) => m.type === 'nestedValidation');
    if (nested) {
      const type = typeStorage.findTypeMetadata(cls, property);
      if (!type) throw new Error(`${cls.name}.${property}: ValidateNested without @Type`);
      const subTypes = type.options?.discriminator?.subTypes;
      const one = (): Record<string, unknown> => {
        if (!subTypes) return validSample(type.typeFunction() as Constructor<object>, rnd, depth + 1);
        const subType = depth > 2 ? subTypes[0] : pick(rnd, subTypes);
        return { ...validSample(subType.value as Constructor<object>, rnd, depth + 1), kind: subType.name };
      };
      if (named('isArray') || group.some((m) => m.type === 'nestedValidation' && m.each)) {
        const min = Number(constraint('arrayMinSize') ?? 0);
        out[property] = Array.from({ length: Math.max(min, int(rnd, 1, depth > 1 ? 1 : 3)) }, one);
      } else {
        out[property] = one();
      }
      continue;
    }
    const min = constraint('min') as number | undefined;
    const max = constraint('max') as number | undefined;
    if (named('isIn')) out[property] = pick(rnd, constraint('isIn') as unknown[]);
    else if (named('matches')) {
      const pattern = constraint('matches') as RegExp;
      const fits = STRINGS_FOR_PATTERNS.filter((s) => pattern.test(s));
      if (fits.length === 0)
        throw new Error(`${cls.name}.${property}: add a string matching ${pattern} to STRINGS_FOR_PATTERNS`);
      out[property] = pick(rnd, fits);
    } else if (named('isArray')) {
      const each = group.find((m) => m.each)?.name;
      out[property] = Array.from({ length: int(rnd, 0, 3) }, (_, i) => (each === 'isInt' ? i : `item ${i}`));
    } else if (named('isInt')) out[property] = int(rnd, min ?? 0, max ?? (min ?? 0) + 1000);
    else if (named('isNumber')) out[property] = (min ?? 0) + rnd() * ((max ?? (min ?? 0) + 100) - (min ?? 0));
    else if (named('isBoolean')) out[property] = rnd() < 0.5;
    else if (named('isObject')) out[property] = { ...(randomJson(rnd, 1) as object), result: randomJson(rnd, 1) };
    else if (named('isIso8601')) out[property] = new Date(int(rnd, 0, 2e12)).toISOString();
    else if (named('isString') || named('isNotEmpty') || named('maxLength'))
      out[property] = `text ${int(rnd, 0, 999)} ü ✓`;
    else out[property] = randomJson(rnd); // only IsOptional / IsDefined: any value
  }
  return out;
}

function header(definition: EventDefinition, rnd: Random): Omit<EventEnvelope<unknown>, 'data'> {
  return {
    id: uuidv7(),
    type: definition.type,
    version: definition.version,
    correlationId: `wf-${int(rnd, 0, 99)}`,
    causationId: rnd() < 0.5 ? uuidv7() : undefined,
    source: 'tester@t-1',
    region: 'test',
    occurredAt: new Date(int(rnd, 0, 2e12)).toISOString(),
    traceparent: rnd() < 0.5 ? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' : undefined,
  };
}

class Unregistered {
  constructor(readonly id = 'doc-1') {}
}

/** Values that are wrong, or serialise otherwise than they look. */
function oddValue(rnd: Random): unknown {
  return pick(rnd, [
    () => null,
    () => undefined,
    () => '',
    () => 'x',
    () => 'x'.repeat(300),
    () => 0,
    () => -1,
    () => 1.5,
    () => 1e21,
    () => Number.NaN,
    () => Number.POSITIVE_INFINITY,
    () => true,
    () => [],
    () => [1, 'a'],
    () => [undefined],
    () => ({}),
    () => ({ a: 1 }),
    () => new Date(0),
    () => new String('root'), // serialises as "root"
    () => Object(7), // serialises as 7
    () => () => 1,
    () => Symbol('s'),
    () => new Map([['a', 1]]),
    () => new Set([1]),
    () => new Unregistered(),
    () => ({ toJSON: () => 'root' }),
    () => ({ toJSON: () => ({ id: 'doc-1', text: 'from toJSON' }) }),
    () => Object.assign(Object.create(null) as object, { id: 'doc-1', text: 'no prototype' }),
    () => randomJson(rnd),
  ])();
}

/** Containers (objects and arrays) of a value, for mutation. */
function containers(
  value: unknown,
  out: (Record<string, unknown> | unknown[])[] = [],
): (Record<string, unknown> | unknown[])[] {
  if (Array.isArray(value)) {
    out.push(value);
    for (const item of value) containers(item, out);
  } else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    out.push(value as Record<string, unknown>);
    for (const item of Object.values(value)) containers(item, out);
  }
  return out;
}

/** Mutates a copy of a valid body in one to three places. */
function mutate(body: Record<string, unknown>, rnd: Random): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  for (let n = int(rnd, 1, 3); n > 0; n--) {
    const target = pick(rnd, containers(copy));
    if (Array.isArray(target)) {
      const action = int(rnd, 0, 3);
      if (action === 0) target.push(oddValue(rnd));
      else if (action === 1) target.length = 0;
      else if (action === 2 && target.length > 0) target[int(rnd, 0, target.length - 1)] = oddValue(rnd);
      else target.length += 1; // a hole
      continue;
    }
    const keys = Object.keys(target);
    const action = int(rnd, 0, 5);
    if (action === 0 && keys.length > 0) delete target[pick(rnd, keys)];
    else if (action <= 2 && keys.length > 0) target[pick(rnd, keys)] = oddValue(rnd);
    else if (action === 3)
      target[pick(rnd, ['extra', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'])] = oddValue(rnd);
    else if (action === 4)
      Object.defineProperty(target, '__proto__', {
        value: { id: 'x' },
        enumerable: true,
        configurable: true,
        writable: true,
      });
    else if ('kind' in target) target['kind'] = pick(rnd, ['task', 'fan-out', 'chain', 'saga', 'market', 'nope', 3]);
    else if (keys.length > 0) target[pick(rnd, keys)] = validSample(EnvelopeHeader, rnd);
  }
  return copy;
}

/** The registry's decoding before compiled contracts: class-transformer + class-validator only. */
function referenceDecode(registry: EventRegistry, plain: unknown): DecodeResult {
  const fieldErrorsOf = (error: unknown): readonly FieldError[] | undefined =>
    error instanceof ContractValidationError ? error.fieldErrors : undefined;
  const unsafe = jsonShapeProblem(plain); // checked before anything else (json-guard.ts)
  if (unsafe) return { ok: false, code: 'unsafe-json', reason: `payload refused: ${unsafe}` };
  let head: EnvelopeHeader;
  try {
    head = validatePlain(EnvelopeHeader, plain, 'envelope', 'keep');
  } catch (error) {
    return { ok: false, code: 'invalid-envelope', reason: (error as Error).message, fieldErrors: fieldErrorsOf(error) };
  }
  const definition = registry.get(head.type, head.version);
  if (!definition)
    return { ok: false, code: 'unknown-type', reason: `unknown event type ${head.type}@${head.version}` };
  try {
    const data = validatePlain(definition.data, head.data, `${head.type}@${head.version} data`, 'keep');
    return { ok: true, envelope: { ...head, data }, definition };
  } catch (error) {
    const fieldErrors = fieldErrorsOf(error)?.map((e) => ({ ...e, field: `data.${e.field}` }));
    return { ok: false, code: 'invalid-data', reason: (error as Error).message, fieldErrors };
  }
}

function serialised(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

describe('compiled contracts', () => {
  const registry = createMeshEventRegistry();

  it('compile for the envelope header, every event body of the mesh and workflow specs', () => {
    expect(compiledContract(EnvelopeHeader)).toBeDefined();
    expect(compiledContract(WorkflowSpec)).toBeDefined();
    for (const definition of MESH_EVENT_DEFINITIONS as readonly EventDefinition[])
      expect([definition.type, compiledContract(definition.data)]).toEqual([definition.type, expect.anything()]);
  });

  it('accept valid bodies of every event type, decoding them to what class-transformer builds', () => {
    const rnd = prng(1);
    for (const definition of MESH_EVENT_DEFINITIONS as readonly EventDefinition[]) {
      const contract = compiledContract(definition.data);
      for (let i = 0; i < 20; i++) {
        const body = validSample(definition.data, rnd);
        const reference = validatePlain(definition.data, body, definition.type); // the sample is valid
        expect([definition.type, contract?.accepts(body)]).toEqual([definition.type, true]);
        expect(contract?.materialize(body)).toStrictEqual(reference);
      }
    }
  });

  it('never accept what class-validator refuses, on the wire or on receipt (property test over every event type)', () => {
    const rnd = prng(7);
    const tally = { cases: 0, refused: 0, acceptedCompiled: 0, acceptedOnlyBySlowPath: 0 };
    for (const definition of MESH_EVENT_DEFINITIONS as readonly EventDefinition[]) {
      for (let i = 0; i < 80; i++) {
        const body = mutate(validSample(definition.data, rnd), rnd);
        const envelope = { ...header(definition, rnd), data: body };
        const wire = serialised(envelope);
        if (wire === undefined) continue;
        tally.cases++;
        const reference = referenceDecode(registry, JSON.parse(wire));
        const bodyContract = compiledContract(definition.data);
        const headerContract = compiledContract(EnvelopeHeader);
        const fits = jsonFitsCompiledPath(wire);
        // On the wire: the object as the publisher holds it (undefined, Date, NaN, ... inside).
        const acceptedBeforeSerialising =
          fits && headerContract?.accepts(envelope) === true && bodyContract?.accepts(body) === true;
        // On receipt: the parsed JSON.
        const parsed = JSON.parse(wire) as EventEnvelope<object>;
        const acceptedOnReceipt =
          fits && headerContract?.accepts(parsed) === true && bodyContract?.accepts(parsed.data) === true;
        if (acceptedBeforeSerialising || acceptedOnReceipt) {
          expect([definition.type, wire, reference.ok]).toEqual([definition.type, wire, true]);
        }
        if (acceptedOnReceipt) tally.acceptedCompiled++;
        else if (reference.ok) tally.acceptedOnlyBySlowPath++;
        else tally.refused++;
        // Whatever path it takes, the registry decodes and encodes as before.
        expect(registry.decode(wire)).toStrictEqual(reference);
        let encodeError: unknown;
        let encoded: Buffer | undefined;
        try {
          encoded = registry.encode(envelope as EventEnvelope<object>);
        } catch (error) {
          encodeError = error;
        }
        if (reference.ok) expect(encoded?.toString()).toBe(wire);
        else
          expect((encodeError as Error | undefined)?.message).toBe(
            `event ${definition.type}@1 is invalid: ${failureText(reference)}`,
          );
      }
    }
    // The mutations must exercise both answers, or the test proves nothing.
    expect(tally.refused).toBeGreaterThan(tally.cases / 3);
    expect(tally.acceptedCompiled).toBeGreaterThan(tally.cases / 20);
  });

  it('judge values as JSON.stringify writes them', () => {
    const contract = compiledContract(WorkflowSpec);
    const taskStep = { kind: 'task', skill: 'keywords', input: { id: 'doc-1', text: 'some text' } };
    // undefined properties are absent on the wire: accepted, as class-validator accepts the JSON.
    expect(contract?.accepts({ name: undefined, step: { ...taskStep, params: undefined, inputFrom: undefined } })).toBe(
      true,
    );
    // Each of these serialises to something else than it is: not sure, so class-validator decides.
    for (const name of [new Date(0), new String('n'), () => 'n', Number.NaN, { toJSON: () => 'n' }]) {
      expect(contract?.accepts({ name, step: taskStep })).toBe(false);
    }
    expect(contract?.accepts({ step: { ...taskStep, input: new Unregistered() } })).toBe(false);
    expect(contract?.accepts({ step: { ...taskStep, params: new Map() } })).toBe(false);
    // An unknown key is not looked at, whatever it holds (class-validator does not validate it).
    expect(contract?.accepts({ step: taskStep, extra: undefined })).toBe(true);
    expect(contract?.accepts({ step: taskStep, extra: 1 })).toBe(true);
    expect(contract?.accepts({ step: { ...taskStep, extra: new Date(0) } })).toBe(true);
    // An object of an unknown prototype may serialise otherwise (getters, inherited toJSON): not sure.
    expect(contract?.accepts(Object.assign(Object.create({ extra: 1 }) as object, { step: taskStep }))).toBe(false);
  });

  it('compile length constraints, and agree with class-validator on them', () => {
    class Coded {
      @Length(3, 5)
      code!: string;

      @MinLength(2)
      @IsString({ each: true })
      @IsArray()
      names!: string[];
    }
    const contract = compiledContract(Coded);
    expect(contract).toBeDefined();
    const cases: unknown[] = [
      { code: 'abc', names: ['xy'] },
      { code: 'abcde', names: [] },
      { code: 'ab', names: [] },
      { code: 'abcdef', names: [] },
      { code: '𝒜𝒝𝒞', names: [] }, // surrogate pairs count as one character, as in validator's isLength
      { code: 3, names: [] },
      { code: 'abc', names: 'xy' },
    ];
    for (const value of cases) {
      let valid = true;
      try {
        validatePlain(Coded, value, 'coded');
      } catch (error) {
        if (!(error instanceof ContractValidationError)) throw error;
        valid = false;
      }
      // A yes must be class-validator's yes; valid values of these simple shapes must be a yes.
      expect([value, contract?.accepts(value)]).toEqual([value, valid]);
    }
  });

  it('leave texts with keys class-transformer treats specially to the class-transformer path', () => {
    expect(jsonFitsCompiledPath('{"a":{"b":1}}')).toBe(true);
    for (const text of [
      '{"constructor":1}',
      '{"__proto__":{}}',
      '{"toString":1}',
      '{"hasOwnProperty":1}',
      '{"\\u0063onstructor":1}',
    ]) {
      expect(jsonFitsCompiledPath(text)).toBe(false);
    }
  });
});

function failureText(result: DecodeResult): string {
  if (result.ok) return '';
  return (result.fieldErrors ?? [{ field: result.code, messages: [result.reason] }])
    .map((e) => `${e.field}: ${e.messages.join('; ')}`)
    .join(', ');
}
