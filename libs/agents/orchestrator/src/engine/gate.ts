import type { GateCheckSpec, GateSpec } from '@agent-mesh/contracts';
import { fieldOf, gatePatternMatches } from '@agent-mesh/contracts';

export type GateVerdict =
  { readonly ok: true; readonly reason?: string } | { readonly ok: false; readonly reason: string };

function sizeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  return undefined;
}

function check(output: Record<string, unknown>, rule: GateCheckSpec): string | undefined {
  const value = fieldOf(output, rule.field);
  const shown = JSON.stringify(value)?.slice(0, 80) ?? 'undefined';
  switch (rule.op) {
    case 'exists':
      return value === undefined || value === null || value === '' ? `${rule.field} is missing` : undefined;
    case 'min':
    case 'max': {
      const size = sizeOf(value);
      const bound = Number(rule.value);
      if (size === undefined) return `${rule.field} (${shown}) has no size to compare`;
      if (rule.op === 'min' && size < bound) return `${rule.field} is ${size}, below the minimum ${bound}`;
      if (rule.op === 'max' && size > bound) return `${rule.field} is ${size}, above the maximum ${bound}`;
      return undefined;
    }
    case 'equals':
      return JSON.stringify(value) === JSON.stringify(rule.value)
        ? undefined
        : `${rule.field} is ${shown}, not ${JSON.stringify(rule.value)}`;
    case 'matches':
      // RE2: linear in the output whatever the client's pattern (no backtracking to stall the loop)
      return typeof value === 'string' && gatePatternMatches(String(rule.value), value)
        ? undefined
        : `${rule.field} (${shown}) does not match /${String(rule.value)}/`;
  }
}

/** A validation gate: every check must hold on the stage's output. */
export function evaluateGate(gate: GateSpec, output: Record<string, unknown>): GateVerdict {
  const failures = gate.checks
    .map((rule) => {
      try {
        return check(output, rule);
      } catch (error) {
        return `${rule.field}: the check could not run (${(error as Error).message})`;
      }
    })
    .filter((f): f is string => f !== undefined);
  return failures.length === 0 ? { ok: true } : { ok: false, reason: failures.join('; ') };
}

/**
 * A judge's answer, `{ accept, reason? }` at the top of its output or in `json` (an llm
 * skill's structured output): accepted, or rejected with its reason. An answer without a
 * boolean `accept` is a rejection: a gate holds only on a clear yes.
 */
export function judgeVerdict(output: Record<string, unknown>): GateVerdict {
  const json = output['json'];
  const answer =
    typeof output['accept'] !== 'boolean' && json !== null && typeof json === 'object'
      ? (json as Record<string, unknown>)
      : output;
  const said = typeof answer['reason'] === 'string' && answer['reason'] !== '' ? answer['reason'] : undefined;
  if (typeof answer['accept'] !== 'boolean')
    return { ok: false, reason: 'the judge gave no verdict ({ "accept": true | false })' };
  if (answer['accept']) return { ok: true, reason: said };
  return { ok: false, reason: `the judge rejected it: ${said ?? 'no reason given'}` };
}
