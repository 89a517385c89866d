import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLuaScript } from './lua-loader';

describe('loadLuaScript', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lua-loader-'));
    mkdirSync(join(dir, 'includes'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (file: string, text: string): void => writeFileSync(join(dir, file), text);

  it('replaces an include line with the included file, and hashes what it returns', () => {
    write('includes/one.lua', 'local one = 1\n');
    write('main.lua', '-- header\n--- @include "one"\nreturn one\n');
    const script = loadLuaScript('main', dir);
    expect(script.source).toBe('-- header\nlocal one = 1\nreturn one\n');
    expect(script.sha1).toBe(createHash('sha1').update(script.source).digest('hex'));
  });

  it('expands nested includes and includes a file once, even in a cycle', () => {
    write('includes/base.lua', 'local base = 1');
    write('includes/left.lua', '--- @include "base"\nlocal left = base');
    write('includes/right.lua', '--- @include "base"\n--- @include "right"\nlocal right = base');
    write('main.lua', '--- @include "left"\n--- @include "right"\nreturn left + right\n');
    const { source } = loadLuaScript('main', dir);
    expect(source.match(/local base = 1/g)).toHaveLength(1);
    expect(source).toBe(
      [
        'local base = 1',
        'local left = base',
        '-- (base is included above)',
        '-- (right is included above)',
        'local right = base',
        'return left + right',
        '',
      ].join('\n'),
    );
  });

  it('leaves lines that only mention @include alone', () => {
    write('main.lua', '  --- @include "indented"\n-- @include "two dashes"\nreturn 1\n');
    expect(loadLuaScript('main', dir).source).toBe('  --- @include "indented"\n-- @include "two dashes"\nreturn 1\n');
  });

  it('names the script or include it cannot read', () => {
    expect(() => loadLuaScript('absent', dir)).toThrow(/^Lua absent: cannot read .*absent\.lua/);
    write('main.lua', '--- @include "missing"\n');
    expect(() => loadLuaScript('main', dir)).toThrow(/^Lua include "missing": cannot read .*includes\/missing\.lua/);
  });
});
