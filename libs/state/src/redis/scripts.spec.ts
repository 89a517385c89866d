import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LUA_DIR } from './lua-loader';
import { APPLY_SCRIPT, CHAIN_SCRIPT, SLOT_SCRIPT, scriptError } from './scripts';

describe('the Lua scripts', () => {
  it.each([APPLY_SCRIPT, CHAIN_SCRIPT, SLOT_SCRIPT])('$name has its includes expanded', (script) => {
    expect(script.source).not.toMatch(/@include/);
    expect(script.source).toMatch(/local function check_ops/);
    expect(script.source.match(/local function coded_error/g)).toHaveLength(1);
  });

  it('each script documents its KEYS and ARGV in its header', () => {
    const scripts = readdirSync(LUA_DIR).filter((file) => file.endsWith('.lua'));
    expect(scripts.sort()).toEqual(['apply.lua', 'chain.lua', 'record-slot.lua', 'reserve.lua']);
    for (const file of scripts) {
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(readFileSync(join(LUA_DIR, file), 'utf8'))?.[1] ?? '';
      expect(header).toMatch(/Input:\n\s+KEYS\[1/);
      expect(header).toMatch(/ARGV\[1\]/);
      expect(header).toMatch(/Output:/);
    }
  });
});

describe('scriptError', () => {
  const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });

  it.each([
    ['OP_WRONG_TYPE [2,"hset","string"]', 'WRONGTYPE op #2 (hset) targets a key holding a string'],
    ['OP_NOT_INTEGER [1]', 'ERR op #1 (hincrby): hash value is not an integer'],
    [
      'OP_UNSAFE_INTEGER [3]',
      `ERR op #3 (hincrby): result is outside the safe integer range (±${Number.MAX_SAFE_INTEGER})`,
    ],
    ['OP_UNKNOWN [1,"lpush"]', 'ERR op #1: unknown op lpush'],
    ['SLOT_WRONG_TYPE ["reads #1","list"]', 'WRONGTYPE recordSlot: reads #1 holds a list, not a hash'],
    ['SLOT_MALFORMED ["a\\nb"]', 'ERR recordSlot: slot a\nb does not hold <version>:<state>'],
    ['SLOT_COUNT_NOT_INTEGER ["done"]', 'ERR recordSlot: the count of done is not an integer'],
  ])('%s becomes the shared message', (code, message) => {
    const cause = reply(code);
    const error = scriptError(cause);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(message);
    expect((error as Error).cause).toBe(cause);
  });

  it.each([
    'NOSCRIPT No matching script. Please use EVAL.',
    'OOM command not allowed when used memory > maxmemory',
    'OP_WRONG_TYPE ["not an index","hset","string"]',
    'OP_NOT_INTEGER not json',
    'NOT_A_CODE [1]',
  ])('returns anything else as it is: %s', (message) => {
    const error = reply(message);
    expect(scriptError(error)).toBe(error);
  });

  it('returns a value that is not an error as it is', () => {
    expect(scriptError('text')).toBe('text');
    expect(scriptError(null)).toBeNull();
  });
});
