import { RE2JS } from 're2js';

/** Compiled patterns kept (a gate is evaluated on every stage it checks). */
const CACHE_ENTRIES = 256;
const compiled = new Map<string, RE2JS>();

/**
 * A gate's `matches` pattern, compiled with RE2 (re2js, pure JavaScript): matching takes time
 * linear in the text whatever the pattern, so no client-supplied pattern can stall the
 * orchestrator's event loop (a backtracking RegExp can: `(a+)+$` doubles its time with each
 * character). Throws, with the parser's message, on what RE2 does not support (backreferences,
 * lookaround) — a spec with such a pattern is refused at submission.
 */
export function compileGatePattern(pattern: string): RE2JS {
  let found = compiled.get(pattern);
  if (found) return found;
  found = RE2JS.compile(pattern);
  if (compiled.size >= CACHE_ENTRIES) compiled.delete(compiled.keys().next().value as string);
  compiled.set(pattern, found);
  return found;
}

/**
 * Whether `text` contains a match of the gate's pattern (as RegExp.test would say). `test` asks
 * for no capture groups, so RE2 runs its DFA: a matcher's `find` runs the capturing NFA, linear
 * too but slow enough (1.5 s for `(.*a){20}` over 200,000 characters) to stall the event loop.
 */
export function gatePatternMatches(pattern: string, text: string): boolean {
  return compileGatePattern(pattern).test(text);
}
