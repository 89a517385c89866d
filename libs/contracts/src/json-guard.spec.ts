// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import { createMeshEventRegistry, WorkflowRequestedV1 } from './events';
import { jsonShapeProblem, MAX_JSON_DEPTH } from './json-guard';
import type { DecodeResult } from './registry';

/** A valid workflow.requested envelope on the wire, with `params` given as JSON text. */
function wire(params: string, extraData = ''): string {
  return (
    '{"id":"0190b2a4-7d3c-7abc-8def-0123456789ab","type":"workflow.requested","version":1,"correlationId":"wf-1",' +
    '"source":"tester@t-1","region":"test","occurredAt":"2025-01-02T03:04:05.678Z",' +
    `"data":{${extraData}"skill":"keywords","inputs":[{"id":"doc-1","text":"first text"}],"params":${params}}}`
  );
}

/** `{"a":{"a":…1…}}`, `levels` objects deep. */
const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

function codeOf(result: DecodeResult): string {
  return result.ok ? 'ok' : `${result.code}: ${result.reason}`;
}

describe('the shape guard of decode', () => {
  const registry = createMeshEventRegistry();

  it('accepts an event nested exactly MAX_JSON_DEPTH levels deep', () => {
    // envelope (1) → data (2) → params (3): params nested MAX_JSON_DEPTH - 2 objects deep reaches the limit
    expect(codeOf(registry.decode(wire(nested(MAX_JSON_DEPTH - 2))))).toBe('ok');
  });

  it('refuses one level more, and a body thousands of levels deep, without overflowing the stack', () => {
    expect(codeOf(registry.decode(wire(nested(MAX_JSON_DEPTH - 1))))).toBe(
      `unsafe-json: payload refused: nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
    expect(codeOf(registry.decode(wire(nested(50_000))))).toContain('unsafe-json');
    const arrays = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    expect(codeOf(registry.decode(wire(`{"list":${arrays}}`)))).toContain('nested deeper');
  });

  it('refuses __proto__, constructor and prototype keys anywhere (class-transformer would drop __proto__ and pass the event)', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      expect(codeOf(registry.decode(wire(`{"deep":{"${key}":{"polluted":true}}}`)))).toBe(
        `unsafe-json: payload refused: forbidden key "${key}"`,
      );
      expect(codeOf(registry.decode(wire('{}', `"${key}":{"x":1},`)))).toContain(`forbidden key "${key}"`);
    }
    // as a value, the words are fine
    expect(codeOf(registry.decode(wire('{"note":"__proto__ constructor prototype"}')))).toBe('ok');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses to publish what a consumer would refuse: create throws before the event goes out', () => {
    const origin = { source: 'tester@t-1', region: 'test' };
    const inputs = [{ id: 'doc-1', text: 'first text' }];
    const polluted = JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(() =>
      registry.create(WorkflowRequestedV1, { skill: 'keywords', inputs, params: polluted }, origin, {
        correlationId: 'wf-1',
      }),
    ).toThrow('unsafe-json: payload refused: forbidden key "__proto__"');
    const deep = JSON.parse(nested(MAX_JSON_DEPTH)) as Record<string, unknown>;
    expect(() =>
      registry.create(WorkflowRequestedV1, { skill: 'keywords', inputs, params: deep }, origin, {
        correlationId: 'wf-1',
      }),
    ).toThrow(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('says nothing about values that are not objects', () => {
    expect(jsonShapeProblem(null)).toBeUndefined();
    expect(jsonShapeProblem('__proto__')).toBeUndefined();
    expect(jsonShapeProblem([1, [2, [3]]])).toBeUndefined();
  });
});
