import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '@agent-mesh/contracts';

/** A script ready for EVAL/EVALSHA: its includes expanded, and the SHA1 Redis caches it under. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

/** Where the scripts sit: next to this file in the sources, and copied next to it by the app build. */
export const LUA_DIR = join(__dirname, 'lua');

/** A whole line `--- @include "name"`, standing for `<dir>/includes/name.lua`. */
const INCLUDE_LINE = /^--- @include "([\w-]+)"[ \t]*$/gm;

/**
 * Reads `<dir>/<name>.lua` and replaces each include line with the included file (expanded the
 * same way). A file is included once per script: a later include of it, or a cycle, adds nothing,
 * so two includes may both include a third.
 */
export function loadLuaScript(name: string, dir: string = LUA_DIR): LuaScript {
  const source = expandIncludes(readLua(join(dir, `${name}.lua`), name), dir, new Set());
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') };
}

function expandIncludes(text: string, dir: string, included: Set<string>): string {
  return text.replace(INCLUDE_LINE, (_line: string, include: string) => {
    if (included.has(include)) return `-- (${include} is included above)`;
    included.add(include);
    const body = readLua(join(dir, 'includes', `${include}.lua`), `include "${include}"`);
    return expandIncludes(body, dir, included).trimEnd();
  });
}

function readLua(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Lua ${what}: cannot read ${file} (${describeError(error)})`, { cause: error });
  }
}
