import { compiledContract, jsonFitsCompiledPath, type CompiledContract } from './compiled-contract';
import { EnvelopeHeader, EnvelopeProperties, type EventEnvelope } from './envelope';
import { jsonShapeProblem } from './json-guard';
import { uuidv7 } from './uuid';
import { ContractValidationError, validatePlain, type Constructor, type FieldError } from './validation';

export type EventKind = 'event' | 'command';

/**
 * Turns the validated body of an older version into this version's body (e.g. `(v1) => ({ ...v1,
 * priority: 'normal' })`). Its result is validated against this version's class.
 */
export type Upcaster<TData extends object> = (older: never) => TData;

/** A versioned event type: its name, schema version and body class. */
export interface EventDefinition<TData extends object = object> {
  readonly type: string;
  readonly version: number;
  readonly kind: EventKind;
  readonly data: Constructor<TData>;
  /** Older versions this one reads, by version: a registry knowing both hands handlers this version only. */
  readonly upcastFrom?: Readonly<Record<number, Upcaster<TData>>>;
}

export interface EventDefinitionOptions<TData extends object> {
  readonly upcastFrom?: Readonly<Record<number, Upcaster<TData>>>;
}

export function defineEvent<TData extends object>(
  type: string,
  version: number,
  kind: EventKind,
  data: Constructor<TData>,
  options: EventDefinitionOptions<TData> = {},
): EventDefinition<TData> {
  return options.upcastFrom
    ? { type, version, kind, data, upcastFrom: options.upcastFrom }
    : { type, version, kind, data };
}

/** Type of the body of an event definition. */
export type EventData<D> = D extends EventDefinition<infer T> ? T : never;

export type DecodeFailureCode = 'unparseable' | 'unsafe-json' | 'invalid-envelope' | 'unknown-type' | 'invalid-data';

export type DecodeResult =
  | { readonly ok: true; readonly envelope: EventEnvelope<object>; readonly definition: EventDefinition }
  | {
      readonly ok: false;
      readonly code: DecodeFailureCode;
      readonly reason: string;
      /** The failed fields, with dotted paths, for validation failures. */
      readonly fieldErrors?: readonly FieldError[];
    };

/** Who produces an envelope: stamped on every event it creates. */
export interface EventOrigin {
  readonly source: string;
  readonly region: string;
}

export interface NewEventOptions {
  readonly correlationId: string;
  /** The event this one is a consequence of; its id becomes causationId, its trace is continued and its home kept. */
  readonly causedBy?: Pick<EventEnvelope, 'id' | 'traceparent' | 'home'>;
  /** The workflow's home (geo, docs/geo.md); default the cause's; none when neither has one. */
  readonly home?: string;
  readonly traceparent?: string;
  readonly id?: string;
  readonly occurredAt?: Date;
}

/** A new event and the JSON text that goes on the wire for it. */
export interface EncodedEvent<TData extends object> {
  readonly envelope: EventEnvelope<TData>;
  readonly payload: Buffer;
}

/**
 * The set of event types a process understands. Decoding checks, in order: JSON, its shape
 * (json-guard.ts: depth, forbidden keys), envelope header, known type and version, body schema —
 * and says which failed and why. Fields the contracts do not declare, in the envelope or the body, are neither checked nor refused: they
 * stay on the decoded envelope and body as they came, so republishing the data passes them on.
 * An event of a version that a registered definition upcasts (`upcastFrom`) is decoded as that
 * version, then upcast, then validated as the newer one: handlers see the newest version only.
 *
 * Validation runs on a compiled contract first (compiled-contract.ts), which says yes to valid
 * events at a fraction of class-validator's cost; anything it is not sure of goes through
 * class-transformer and class-validator, whose errors are the ones reported.
 */
export class EventRegistry {
  private readonly definitions = new Map<string, EventDefinition>();
  private readonly header = compiledContract(EnvelopeHeader);
  private readonly bodies = new Map<EventDefinition, CompiledContract<object> | undefined>();
  /** `type@version` → the definition that upcasts it. */
  private readonly upcasts = new Map<string, EventDefinition>();

  constructor(definitions: readonly EventDefinition[] = []) {
    for (const d of definitions) this.register(d);
  }

  register(definition: EventDefinition): this {
    const key = `${definition.type}@${definition.version}`;
    if (this.definitions.has(key)) throw new Error(`event ${key} is registered twice`);
    const olders = Object.keys(definition.upcastFrom ?? {}).map((from) => {
      const older = `${definition.type}@${from}`;
      const other = this.upcasts.get(older);
      if (other)
        throw new Error(`event ${older} is upcast twice (to versions ${other.version} and ${definition.version})`);
      if (Number(from) >= definition.version)
        throw new Error(`event ${key} can only upcast older versions, not ${from}`);
      return older;
    });
    for (const older of olders) this.upcasts.set(older, definition);
    this.definitions.set(key, definition);
    return this;
  }

  get(type: string, version: number): EventDefinition | undefined {
    return this.definitions.get(`${type}@${version}`);
  }

  list(): EventDefinition[] {
    return [...this.definitions.values()];
  }

  /** Builds and validates a new envelope; throws ContractValidationError on a bad body. */
  create<TData extends object>(
    definition: EventDefinition<TData>,
    data: TData,
    origin: EventOrigin,
    options: NewEventOptions,
  ): EventEnvelope<TData> {
    const envelope = this.newEnvelope(definition, data, origin, options);
    this.serialiseChecked(envelope);
    return envelope;
  }

  /** create(), and the envelope's JSON: serialised once, and what was validated is that JSON. */
  createEncoded<TData extends object>(
    definition: EventDefinition<TData>,
    data: TData,
    origin: EventOrigin,
    options: NewEventOptions,
  ): EncodedEvent<TData> {
    const envelope = this.newEnvelope(definition, data, origin, options);
    return { envelope, payload: Buffer.from(this.serialiseChecked(envelope)) };
  }

  private newEnvelope<TData extends object>(
    definition: EventDefinition<TData>,
    data: TData,
    origin: EventOrigin,
    options: NewEventOptions,
  ): EventEnvelope<TData> {
    const home = options.home ?? options.causedBy?.home;
    return {
      id: options.id ?? uuidv7(),
      type: definition.type,
      version: definition.version,
      correlationId: options.correlationId,
      causationId: options.causedBy?.id,
      source: origin.source,
      region: origin.region,
      ...(home === undefined ? {} : { home }),
      occurredAt: (options.occurredAt ?? new Date()).toISOString(),
      traceparent: options.traceparent ?? options.causedBy?.traceparent,
      data,
    };
  }

  /** Validates an envelope about to be published (header, registration, body). */
  check(envelope: EventEnvelope<object>): void {
    this.serialiseChecked(envelope);
  }

  encode(envelope: EventEnvelope<object>): Buffer {
    return Buffer.from(this.serialiseChecked(envelope));
  }

  decode(payload: Buffer | string): DecodeResult {
    const json = typeof payload === 'string' ? payload : payload.toString('utf8');
    let plain: unknown;
    try {
      plain = JSON.parse(json);
    } catch (error) {
      return { ok: false, code: 'unparseable', reason: `payload is not JSON: ${(error as Error).message}` };
    }
    const unsafe = unsafeJson(plain);
    if (unsafe) return unsafe;
    const result = (jsonFitsCompiledPath(json) && this.decodeCompiled(plain)) || this.decodePlain(plain);
    return result.ok && this.upcasts.size > 0 ? this.upcast(result) : result;
  }

  /** The decoded event, upcast version by version while a registered definition reads its version. */
  private upcast(decoded: DecodeResult & { ok: true }): DecodeResult {
    let { envelope, definition } = decoded;
    for (let target = this.upcasts.get(`${envelope.type}@${envelope.version}`); target;) {
      const upcaster = target.upcastFrom?.[envelope.version] as ((older: object) => object) | undefined;
      const subject = `${target.type}@${target.version} data (upcast from version ${envelope.version})`;
      let data: object;
      try {
        data = this.validBody(target, upcaster ? upcaster(envelope.data) : envelope.data, subject);
      } catch (error) {
        const fieldErrors = fieldErrorsOf(error)?.map((e) => ({ ...e, field: `data.${e.field}` }));
        return { ok: false, code: 'invalid-data', reason: (error as Error).message, fieldErrors };
      }
      envelope = { ...envelope, version: target.version, data };
      definition = target;
      target = this.upcasts.get(`${envelope.type}@${envelope.version}`);
    }
    return { ok: true, envelope, definition };
  }

  /** A body validated against `definition` as it goes on the wire (compiled contract first), as class instances. */
  private validBody(definition: EventDefinition, data: object, subject: string): object {
    const json = JSON.stringify(data);
    const plain = JSON.parse(json) as object;
    const body = this.bodyContract(definition);
    if (jsonFitsCompiledPath(json) && body?.accepts(plain)) return body.materialize(plain);
    return validatePlain(definition.data, plain, subject, 'keep');
  }

  /**
   * The envelope's JSON, once validated; throws ContractValidationError. The compiled check
   * judges the envelope as it serialises; when it is not sure, the JSON itself is parsed and
   * validated by class-validator, as a consumer would.
   */
  private serialiseChecked(envelope: EventEnvelope<object>): string {
    const json = JSON.stringify(envelope);
    // What the compiled contracts accept serialises as it is, so its shape is the wire's; a
    // consumer would refuse an unsafe-json one, so it is refused here, before it is published.
    if (jsonFitsCompiledPath(json) && this.acceptedCompiled(envelope) && !jsonShapeProblem(envelope)) return json;
    const plain = JSON.parse(json) as unknown;
    const result = unsafeJson(plain) ?? this.decodePlain(plain);
    if (!result.ok) {
      throw new ContractValidationError(
        `event ${envelope.type}@${envelope.version}`,
        result.fieldErrors ?? [{ field: result.code, messages: [result.reason] }],
      );
    }
    return json;
  }

  private bodyContract(definition: EventDefinition): CompiledContract<object> | undefined {
    if (!this.bodies.has(definition)) this.bodies.set(definition, compiledContract(definition.data));
    return this.bodies.get(definition);
  }

  /** The compiled contracts' yes to header and body, with what they matched; undefined: invalid or not sure. */
  private acceptedCompiled(
    envelope: unknown,
  ):
    | { header: CompiledContract<EnvelopeHeader>; definition: EventDefinition; body: CompiledContract<object> }
    | undefined {
    const header = this.header;
    if (!header?.accepts(envelope)) return undefined;
    const { type, version, data } = envelope as EventEnvelope<unknown>;
    const definition = this.get(type, version);
    if (!definition) return undefined;
    const body = this.bodyContract(definition);
    return body?.accepts(data) ? { header, definition, body } : undefined;
  }

  /** decodePlain's result for a valid event, built without class-transformer; undefined: not sure. */
  private decodeCompiled(plain: unknown): DecodeResult | undefined {
    const accepted = this.acceptedCompiled(plain);
    if (!accepted) return undefined;
    const header = accepted.header.materialize(plain as object);
    return {
      ok: true,
      envelope: { ...header, data: accepted.body.materialize(header.data) },
      definition: accepted.definition,
    };
  }

  private decodePlain(plain: unknown): DecodeResult {
    let header: EnvelopeHeader;
    try {
      header = validatePlain(EnvelopeHeader, plain, 'envelope', 'keep');
    } catch (error) {
      return {
        ok: false,
        code: 'invalid-envelope',
        reason: (error as Error).message,
        fieldErrors: fieldErrorsOf(error),
      };
    }
    const definition = this.get(header.type, header.version);
    if (!definition) {
      return { ok: false, code: 'unknown-type', reason: `unknown event type ${header.type}@${header.version}` };
    }
    let data: object;
    try {
      data = validatePlain(definition.data, header.data, `${header.type}@${header.version} data`, 'keep');
    } catch (error) {
      const fieldErrors = fieldErrorsOf(error)?.map((e) => ({ ...e, field: `data.${e.field}` }));
      return { ok: false, code: 'invalid-data', reason: (error as Error).message, fieldErrors };
    }
    return { ok: true, envelope: { ...header, data }, definition };
  }
}

/** The decode failure of a value whose shape json-guard.ts refuses, or undefined. */
function unsafeJson(value: unknown): DecodeResult | undefined {
  const problem = jsonShapeProblem(value);
  return problem === undefined ? undefined : { ok: false, code: 'unsafe-json', reason: `payload refused: ${problem}` };
}

/** Broker message properties mirroring the envelope (for broker-side routing and inspection). */
export function envelopeProperties(envelope: EventEnvelope<object>): Record<string, string> {
  const props: Record<string, string> = {
    [EnvelopeProperties.eventId]: envelope.id,
    [EnvelopeProperties.eventType]: envelope.type,
    [EnvelopeProperties.eventVersion]: String(envelope.version),
    [EnvelopeProperties.correlationId]: envelope.correlationId,
    [EnvelopeProperties.source]: envelope.source,
    [EnvelopeProperties.region]: envelope.region,
  };
  if (envelope.home) props[EnvelopeProperties.home] = envelope.home;
  if (envelope.traceparent) props[EnvelopeProperties.traceparent] = envelope.traceparent;
  return props;
}

function fieldErrorsOf(error: unknown): readonly FieldError[] | undefined {
  return error instanceof ContractValidationError ? error.fieldErrors : undefined;
}
