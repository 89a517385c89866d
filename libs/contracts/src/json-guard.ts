/**
 * Limits on the shape of a decoded message that no contract states but every consumer needs:
 * nesting deeper than MAX_JSON_DEPTH (class-transformer and class-validator recurse, and a
 * free-form field such as `params` would otherwise carry any depth to every handler), and the
 * keys `__proto__`, `constructor` and `prototype` anywhere (prototype pollution; class-transformer
 * silently drops `__proto__`, so such an event would otherwise pass as valid).
 */

/** Deepest nesting of objects and arrays an event may have, the envelope itself at depth 1. */
export const MAX_JSON_DEPTH = 128;

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What is wrong with the shape of a JSON value (parsed, or about to be serialised), or undefined.
 * Iterative: any depth is safe to check (a cycle ends as too deep).
 */
export function jsonShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const stack: [object, number][] = [[value, 1]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [node, depth] = next;
    if (depth > MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
    if (Array.isArray(node)) {
      for (const child of node as unknown[])
        if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
      continue;
    }
    for (const [key, child] of Object.entries(node)) {
      // keys JSON.stringify leaves out (undefined, functions) are not on the wire
      if (FORBIDDEN_KEYS.has(key) && child !== undefined && typeof child !== 'function')
        return `forbidden key "${key}"`;
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}
