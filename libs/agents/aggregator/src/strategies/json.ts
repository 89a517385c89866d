function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON with object keys sorted at every depth, so equal data gives equal text whatever the key
 * order. As in JSON, non-finite numbers become `null`, `undefined` (and functions, symbols)
 * are dropped from objects and become `null` in arrays. Throws on bigint and on cycles.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, new Set()) ?? 'null';
}

function encode(value: unknown, stack: Set<object>): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: bigint is not JSON');
    case 'object':
      break;
    default:
      return undefined; // undefined, function, symbol
  }
  if (stack.has(value)) throw new TypeError('canonicalJson: cyclic value');
  stack.add(value);
  try {
    if (Array.isArray(value)) return `[${value.map((item) => encode(item, stack) ?? 'null').join(',')}]`;
    const source = value instanceof Date ? value.toJSON() : value;
    if (!isPlainObject(source)) return encode(source, stack);
    const parts: string[] = [];
    for (const key of Object.keys(source).sort()) {
      const encoded = encode(source[key], stack);
      if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.delete(value);
  }
}

/**
 * Reads a dotted path (`answer.choice`, `hits.0.id`): own properties of objects, and numeric
 * segments as array indexes. Returns undefined if any step is missing.
 */
export function readPath(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const segment of path.split('.')) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (isPlainObject(current)) {
      if (!Object.hasOwn(current, segment)) return undefined;
      current = current[segment];
    } else {
      return undefined;
    }
  }
  return current;
}
