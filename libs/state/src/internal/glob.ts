/**
 * Redis glob patterns (as used by KEYS/SCAN MATCH): `*` any run, `?` one character, `[abc]`,
 * `[^abc]`, `[a-z]` classes and `\x` for a literal `x`. An unclosed `[` is a literal.
 * (Redis matches bytes, this matches code points: they differ only for `?` on non-ASCII.)
 */
export function globToRegExp(pattern: string): RegExp {
  const chars = Array.from(pattern);
  let source = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] ?? '';
    if (c === '*') {
      source += '[^]*';
    } else if (c === '?') {
      source += '[^]';
    } else if (c === '\\' && i + 1 < chars.length) {
      source += escapeRegExp(chars[++i] ?? '');
    } else if (c === '[') {
      const parsed = parseClass(chars, i + 1);
      if (parsed === null) {
        source += escapeRegExp(c);
      } else {
        source += parsed.source;
        i = parsed.end;
      }
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${source}$`, 'u');
}

/** Escapes glob metacharacters so `text` matches itself in a Redis MATCH pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Parses a class starting after `[`; null when it never closes. */
function parseClass(chars: readonly string[], start: number): { source: string; end: number } | null {
  const at = (i: number): string => chars[i] ?? '';
  let i = start;
  const negate = at(i) === '^';
  if (negate) i++;
  let body = '';
  for (; i < chars.length; i++) {
    let c = at(i);
    if (c === ']') return { source: `[${negate ? '^' : ''}${body}]`, end: i };
    if (c === '\\' && i + 1 < chars.length) {
      c = at(++i);
    } else if (at(i + 1) === '-' && i + 2 < chars.length && at(i + 2) !== ']') {
      let from = c;
      let to = at(i + 2);
      i += 2;
      if ((from.codePointAt(0) ?? 0) > (to.codePointAt(0) ?? 0)) [from, to] = [to, from];
      body += `${escapeClassChar(from)}-${escapeClassChar(to)}`;
      continue;
    }
    body += escapeClassChar(c);
  }
  return null;
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}
