// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import { IsIn, IsInt, IsString } from 'class-validator';
import { EnvelopeProperties, type EventEnvelope } from './envelope';
import {
  createMeshEventRegistry,
  DocumentInput,
  FanOutWorkflowRequest,
  MESH_EVENT_DEFINITIONS,
  TaskAssigned,
  TaskAssignedV1,
  TaskCompletedV1,
  WorkflowRequestedV1,
  WorkflowStartedV1,
} from './events';
import { defineEvent, envelopeProperties, EventRegistry, type DecodeResult, type EventOrigin } from './registry';
import { UUID_PATTERN } from './uuid';
import { ContractValidationError } from './validation';

const origin: EventOrigin = { source: 'tester@t-1', region: 'test' };
const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function request(): FanOutWorkflowRequest {
  return {
    skill: 'keywords',
    inputs: [
      { id: 'doc-1', text: 'first text' },
      { id: 'doc-2', text: 'second text' },
    ],
    params: { top: 3 },
  };
}

/** A valid wire-format workflow.requested envelope, as plain JSON. */
function plainEnvelope(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '0190b2a4-7d3c-7abc-8def-0123456789ab',
    type: 'workflow.requested',
    version: 1,
    correlationId: 'wf-1',
    source: 'tester@t-1',
    region: 'test',
    occurredAt: '2025-01-02T03:04:05.678Z',
    data: request(),
    ...overrides,
  };
}

function decodeJson(registry: EventRegistry, value: unknown): DecodeResult {
  return registry.decode(JSON.stringify(value));
}

function failure(result: DecodeResult): { code: string; reason: string } {
  if (result.ok) throw new Error(`expected a decode failure, got ${result.envelope.type}`);
  return { code: result.code, reason: result.reason };
}

describe('EventRegistry', () => {
  let registry: EventRegistry;

  beforeEach(() => {
    registry = createMeshEventRegistry();
  });

  describe('registration', () => {
    it('knows every mesh event definition by type and version', () => {
      for (const d of MESH_EVENT_DEFINITIONS) expect(registry.get(d.type, d.version)).toBe(d);
      expect(registry.list()).toHaveLength(MESH_EVENT_DEFINITIONS.length);
      expect(registry.get('workflow.requested', 2)).toBeUndefined();
      expect(registry.get('nope.nope', 1)).toBeUndefined();
    });

    it('refuses to register the same type and version twice', () => {
      expect(() => registry.register(WorkflowRequestedV1)).toThrow(/workflow\.requested@1/);
      expect(() => new EventRegistry([TaskAssignedV1, defineEvent('task.assigned', 1, 'event', TaskAssigned)])).toThrow(
        /registered twice/,
      );
    });

    it('accepts another version of a known type', () => {
      class RequestedV2 {
        @IsString()
        prompt!: string;
      }
      const v2 = defineEvent('workflow.requested', 2, 'command', RequestedV2);
      registry.register(v2);
      expect(registry.get('workflow.requested', 2)).toBe(v2);
      expect(registry.get('workflow.requested', 1)).toBe(WorkflowRequestedV1);
    });
  });

  describe('create', () => {
    it('fills the header: new v7 id, occurredAt now, type, version, origin and correlation', () => {
      const before = Date.now();
      const envelope = registry.create(WorkflowRequestedV1, request(), origin, { correlationId: 'wf-9' });
      const after = Date.now();
      expect(envelope.id).toMatch(UUID_PATTERN);
      expect(envelope.id[14]).toBe('7');
      const occurred = Date.parse(envelope.occurredAt);
      expect(occurred).toBeGreaterThanOrEqual(before);
      expect(occurred).toBeLessThanOrEqual(after);
      expect(new Date(occurred).toISOString()).toBe(envelope.occurredAt);
      expect(envelope).toMatchObject({
        type: WorkflowRequestedV1.type,
        version: WorkflowRequestedV1.version,
        correlationId: 'wf-9',
        source: origin.source,
        region: origin.region,
        data: request(),
      });
      expect(envelope.causationId).toBeUndefined();
      expect(envelope.traceparent).toBeUndefined();
    });

    it('gives each new event its own id', () => {
      const ids = Array.from(
        { length: 50 },
        () => registry.create(WorkflowRequestedV1, request(), origin, { correlationId: 'c' }).id,
      );
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('takes causationId and traceparent from causedBy', () => {
      const cause = registry.create(WorkflowRequestedV1, request(), origin, {
        correlationId: 'wf-1',
        traceparent: TRACE,
      });
      const started = registry.create(WorkflowStartedV1, { skill: 'keywords', branchCount: 2 }, origin, {
        correlationId: 'wf-1',
        causedBy: cause,
      });
      expect(started.causationId).toBe(cause.id);
      expect(started.traceparent).toBe(TRACE);
    });

    it('keeps the home of its cause (geo homing), an explicit one first; none when neither has one', () => {
      const cause = registry.create(WorkflowRequestedV1, request(), origin, {
        correlationId: 'wf-1',
        home: 'us-east#1',
      });
      const started = (options: { home?: string }) =>
        registry.create(WorkflowStartedV1, { skill: 'keywords', branchCount: 2 }, origin, {
          correlationId: 'wf-1',
          ...options,
          causedBy: cause,
        });
      expect(started({}).home).toBe('us-east#1');
      expect(started({ home: 'eu-west' }).home).toBe('eu-west');
      expect(envelopeProperties(started({}))[EnvelopeProperties.home]).toBe('us-east#1');
      const homeless = registry.create(WorkflowRequestedV1, request(), origin, { correlationId: 'wf-2' });
      expect(homeless).not.toHaveProperty('home');
      expect(() =>
        registry.create(WorkflowRequestedV1, request(), origin, { correlationId: 'wf-3', home: 'us east' }),
      ).toThrow(ContractValidationError);
    });

    it('prefers an explicit traceparent, id and occurredAt over the defaults', () => {
      const cause = { id: '0190b2a4-7d3c-7abc-8def-000000000001', traceparent: TRACE };
      const own = '00-11111111111111111111111111111111-2222222222222222-01';
      const at = new Date(Date.UTC(2024, 0, 1));
      const id = '0190b2a4-7d3c-7abc-8def-000000000002';
      const envelope = registry.create(WorkflowStartedV1, { skill: 'keywords', branchCount: 1 }, origin, {
        correlationId: 'wf-1',
        causedBy: cause,
        traceparent: own,
        id,
        occurredAt: at,
      });
      expect(envelope).toMatchObject({ id, causationId: cause.id, traceparent: own, occurredAt: at.toISOString() });
    });

    it('validates the body and throws ContractValidationError naming the failing field', () => {
      const bad = {
        skill: 'keywords',
        inputs: [
          { id: 'a', text: 'ok' },
          { id: 'b', text: '' },
        ],
      };
      let thrown: unknown;
      try {
        registry.create(WorkflowRequestedV1, bad, origin, { correlationId: 'wf-1' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ContractValidationError);
      expect((thrown as ContractValidationError).message).toContain('inputs.1.text');
    });

    it('validates the header too (bad traceparent, empty correlation id)', () => {
      expect(() =>
        registry.create(WorkflowRequestedV1, request(), origin, { correlationId: 'wf', traceparent: 'nope' }),
      ).toThrow(ContractValidationError);
      expect(() => registry.create(WorkflowRequestedV1, request(), origin, { correlationId: '' })).toThrow(
        /correlationId/,
      );
    });

    it('refuses an unregistered definition', () => {
      class Ping {
        @IsString()
        note!: string;
      }
      const ping = defineEvent('test.ping', 1, 'event', Ping);
      expect(() => registry.create(ping, { note: 'x' }, origin, { correlationId: 'c' })).toThrow(
        /unknown event type test\.ping@1/,
      );
    });
  });

  describe('encode and decode', () => {
    it('round-trips an envelope into class instances of the body, nested ones included', () => {
      const created = registry.create(WorkflowRequestedV1, request(), origin, {
        correlationId: 'wf-1',
        traceparent: TRACE,
      });
      const decoded = registry.decode(registry.encode(created));
      if (!decoded.ok) throw new Error(`decode failed: ${decoded.reason}`);
      expect(decoded.definition).toBe(WorkflowRequestedV1);
      const data = decoded.envelope.data;
      expect(data).toBeInstanceOf(FanOutWorkflowRequest);
      const typed = data as FanOutWorkflowRequest;
      expect(typed.inputs).toHaveLength(2);
      for (const input of typed.inputs) expect(input).toBeInstanceOf(DocumentInput);
      expect(JSON.parse(JSON.stringify(decoded.envelope))).toEqual(JSON.parse(JSON.stringify(created)));
    });

    it('decodes a string payload as well as a Buffer', () => {
      const created = registry.create(
        TaskCompletedV1,
        {
          taskId: 'wf-1:0',
          branchIndex: 0,
          branchCount: 1,
          skill: 'keywords',
          inputId: 'doc-1',
          output: { keywords: [] },
          durationMs: 3,
          worker: 'worker@w',
        },
        origin,
        { correlationId: 'wf-1' },
      );
      const result = registry.decode(JSON.stringify(created));
      expect(result.ok && result.envelope.id).toBe(created.id);
    });

    it('refuses to encode an envelope that is not valid', () => {
      const created = registry.create(WorkflowRequestedV1, request(), origin, { correlationId: 'wf-1' });
      const broken: EventEnvelope<object> = { ...created, data: { skill: 'Not A Skill', inputs: [] } };
      expect(() => registry.encode(broken)).toThrow(ContractValidationError);
    });

    it('says "unparseable" for a payload that is not JSON', () => {
      for (const payload of ['{"this is": not json', '', Buffer.from([0xff, 0xfe, 0x00])]) {
        expect(failure(registry.decode(payload)).code).toBe('unparseable');
      }
    });

    it('says "invalid-envelope" when the header is wrong or missing', () => {
      const cases: unknown[] = [
        null,
        42,
        'a string',
        [plainEnvelope()],
        plainEnvelope({ id: 'not-a-uuid' }),
        plainEnvelope({ id: undefined }),
        plainEnvelope({ type: 'Workflow Requested' }),
        plainEnvelope({ version: 0 }),
        plainEnvelope({ version: '1' }),
        plainEnvelope({ correlationId: '' }),
        plainEnvelope({ source: '' }),
        plainEnvelope({ occurredAt: 'yesterday' }),
        plainEnvelope({ traceparent: '00-xyz' }),
        plainEnvelope({ data: 'text' }),
      ];
      for (const value of cases) {
        const result = failure(decodeJson(registry, value));
        expect({ value, code: result.code }).toEqual({ value, code: 'invalid-envelope' });
      }
      expect(failure(decodeJson(registry, plainEnvelope({ id: 'nope' }))).reason).toContain('id');
    });

    it('says "unknown-type" for an unknown type, and for a known type at an unknown version', () => {
      const unknownType = failure(decodeJson(registry, plainEnvelope({ type: 'workflow.teleported' })));
      expect(unknownType.code).toBe('unknown-type');
      expect(unknownType.reason).toContain('workflow.teleported@1');
      const unknownVersion = failure(decodeJson(registry, plainEnvelope({ version: 2 })));
      expect(unknownVersion.code).toBe('unknown-type');
      expect(unknownVersion.reason).toContain('workflow.requested@2');
    });

    it('says "invalid-data" with the dotted path of each bad field', () => {
      const cases: [Record<string, unknown>, string[]][] = [
        [{ skill: 'keywords', inputs: [{ id: 'a', text: '' }] }, ['inputs.0.text']],
        [
          {
            skill: 'keywords',
            inputs: [
              { id: 'a', text: 'x' },
              { id: 'b c', text: 'y' },
            ],
          },
          ['inputs.1.id'],
        ],
        [{ skill: 'Keywords!', inputs: [] }, ['skill', 'inputs']],
        [{ skill: 'keywords', inputs: [{ id: 'a', text: 'x' }], params: 'top=3' }, ['params']],
        [{ inputs: [{ id: 'a', text: 'x' }] }, ['skill']],
      ];
      for (const [data, fields] of cases) {
        const result = failure(decodeJson(registry, plainEnvelope({ data })));
        expect(result.code).toBe('invalid-data');
        for (const field of fields) expect(result.reason).toContain(`${field}:`);
      }
    });

    it('accepts fields it does not know, in the header and the body, nested ones too, and keeps them', () => {
      const payload = JSON.stringify(
        plainEnvelope({
          tenant: 'a newer header field',
          data: { ...request(), colour: 'blue', inputs: [{ id: 'a', text: 'x', lang: 'en', tags: ['t'] }] },
        }),
      );
      const result = registry.decode(payload);
      if (!result.ok) throw new Error(result.reason);
      const data = result.envelope.data as FanOutWorkflowRequest & { colour: string };
      expect(data).toBeInstanceOf(FanOutWorkflowRequest);
      expect(data.inputs[0]).toBeInstanceOf(DocumentInput);
      expect(data.colour).toBe('blue');
      expect(data.inputs[0]).toEqual({ id: 'a', text: 'x', lang: 'en', tags: ['t'] });
      expect((result.envelope as unknown as Record<string, unknown>)['tenant']).toBe('a newer header field');
      // Republished, the unknown fields go on untouched.
      const republished = registry.create(WorkflowRequestedV1, data, origin, { correlationId: 'wf-2' });
      expect(JSON.parse(registry.encode(republished).toString())).toMatchObject({
        data: { colour: 'blue', inputs: [{ id: 'a', text: 'x', lang: 'en', tags: ['t'] }] },
      });
    });

    it('still refuses what breaks the contract next to an unknown field (missing or wrong-typed known fields)', () => {
      const missing = failure(decodeJson(registry, plainEnvelope({ data: { inputs: request().inputs, colour: 'x' } })));
      expect(missing.code).toBe('invalid-data');
      expect(missing.reason).toContain('skill');
      expect(missing.reason).not.toContain('colour');
      const wrongType = failure(
        decodeJson(
          registry,
          plainEnvelope({ data: { skill: 'keywords', inputs: [{ id: 'a', text: 7, lang: 'en' }] } }),
        ),
      );
      expect(wrongType.reason).toContain('inputs.0.text');
      expect(wrongType.reason).not.toContain('lang');
    });

    it('checks a failure before the next one: unparseable, then header, then type, then body', () => {
      // bad header and bad body: the header is reported
      expect(failure(decodeJson(registry, plainEnvelope({ id: 'x', data: { skill: 1 } }))).code).toBe(
        'invalid-envelope',
      );
      // unknown type with a body no definition would accept: the type is reported
      expect(failure(decodeJson(registry, plainEnvelope({ type: 'x.y', data: { anything: true } }))).code).toBe(
        'unknown-type',
      );
    });
  });
});

/** A test event whose v2 added a required field: v1 events are upcast with a default. */
class PriceV1Data {
  @IsInt()
  cents!: number;
}
class PriceV2Data {
  @IsInt()
  cents!: number;

  @IsIn(['EUR', 'USD'])
  currency!: string;
}
const PriceV1 = defineEvent('test.price', 1, 'event', PriceV1Data);
const PriceV2 = defineEvent('test.price', 2, 'event', PriceV2Data, {
  upcastFrom: { 1: (v1: PriceV1Data): PriceV2Data => ({ ...v1, currency: 'EUR' }) },
});

describe('EventRegistry upcasting', () => {
  const wire = (version: number, data: object): string =>
    JSON.stringify({ ...plainEnvelope(), type: 'test.price', version, data });

  it('decodes a v1 event as v2 when it knows both: handlers see v2 only', () => {
    const registry = new EventRegistry([PriceV1, PriceV2]);
    const result = registry.decode(wire(1, { cents: 250, note: 'from an old producer' }));
    if (!result.ok) throw new Error(result.reason);
    expect(result.definition).toBe(PriceV2);
    expect(result.envelope.version).toBe(2);
    expect(result.envelope.data).toBeInstanceOf(PriceV2Data);
    expect(result.envelope.data).toEqual({ cents: 250, currency: 'EUR', note: 'from an old producer' });
    // v2 events are decoded as they are
    const v2 = registry.decode(wire(2, { cents: 5, currency: 'USD' }));
    expect(v2.ok && v2.envelope.data).toEqual({ cents: 5, currency: 'USD' });
  });

  it('validates the upcast body against v2, and refuses a v1 body that breaks v1', () => {
    const broken = defineEvent('test.price', 2, 'event', PriceV2Data, {
      upcastFrom: { 1: (v1: PriceV1Data): PriceV2Data => ({ ...v1, currency: 'GBP' }) },
    });
    const upcastWrong = failure(new EventRegistry([PriceV1, broken]).decode(wire(1, { cents: 1 })));
    expect(upcastWrong.code).toBe('invalid-data');
    expect(upcastWrong.reason).toContain('upcast from version 1');
    expect(upcastWrong.reason).toContain('currency');
    const v1Wrong = failure(new EventRegistry([PriceV1, PriceV2]).decode(wire(1, { cents: 'many' })));
    expect(v1Wrong.reason).toContain('test.price@1 data is invalid: cents');
  });

  it('chains upcasters version by version, and refuses two upcasters of one version', () => {
    class PriceV3Data extends PriceV2Data {
      @IsString()
      label!: string;
    }
    const PriceV3 = defineEvent('test.price', 3, 'event', PriceV3Data, {
      upcastFrom: { 2: (v2: PriceV2Data): PriceV3Data => ({ ...v2, label: `${v2.cents} ${v2.currency}` }) },
    });
    const result = new EventRegistry([PriceV1, PriceV2, PriceV3]).decode(wire(1, { cents: 3 }));
    expect(result.ok && [result.envelope.version, result.envelope.data]).toEqual([
      3,
      { cents: 3, currency: 'EUR', label: '3 EUR' },
    ]);
    const twice = defineEvent('test.price', 3, 'event', PriceV3Data, { upcastFrom: { 1: () => new PriceV3Data() } });
    expect(() => new EventRegistry([PriceV1, PriceV2, twice])).toThrow(/test\.price@1 is upcast twice/);
  });

  it('without the newer definition, a v1 consumer decodes v1 as before', () => {
    const result = new EventRegistry([PriceV1]).decode(wire(1, { cents: 3 }));
    expect(result.ok && [result.envelope.version, result.definition]).toEqual([1, PriceV1]);
  });
});

describe('envelopeProperties', () => {
  it('mirrors the header onto broker message properties, traceparent only when present', () => {
    const registry = createMeshEventRegistry();
    const withTrace = registry.create(WorkflowStartedV1, { skill: 'keywords', branchCount: 2 }, origin, {
      correlationId: 'wf-1',
      traceparent: TRACE,
    });
    expect(envelopeProperties(withTrace)).toEqual({
      [EnvelopeProperties.eventId]: withTrace.id,
      [EnvelopeProperties.eventType]: 'workflow.started',
      [EnvelopeProperties.eventVersion]: '1',
      [EnvelopeProperties.correlationId]: 'wf-1',
      [EnvelopeProperties.source]: origin.source,
      [EnvelopeProperties.region]: origin.region,
      [EnvelopeProperties.traceparent]: TRACE,
    });
    const withoutTrace = registry.create(WorkflowStartedV1, { skill: 'keywords', branchCount: 2 }, origin, {
      correlationId: 'wf-1',
    });
    expect(Object.keys(envelopeProperties(withoutTrace))).not.toContain(EnvelopeProperties.traceparent);
  });
});
