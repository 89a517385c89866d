import { createHash } from 'node:crypto';

/**
 * The one Lua script behind `apply` and `applyOnce`. Redis runs a script atomically, so the
 * marker check, the marker write and every op happen with no other command in between.
 *
 *   KEYS   = [markerKey]? ++ [one key per op]
 *   ARGV   = [mode ('once' | 'apply'), ttlSeconds ('' for apply)] ++ [name, a, b] per op
 *            (set/rpush: a = value; hset/hsetnx: a = field, b = value; hincrby: a = field,
 *             b = by; sadd: a = member; unused slots are '')
 *   result = {applied (1 | 0), result of op 1, result of op 2, ...}
 *
 * Redis does not roll a script back when a command fails half-way, so the script first dry-runs
 * the batch (key types as the batch would leave them; hash values HINCRBY would read) and
 * raises the error before the first write. In 'once' mode it records the marker first (SET NX
 * EX: if that does not set, nothing runs) and removes it again if the dry run fails; being
 * inside the script, the short-lived marker is never visible to anyone else.
 * Error texts match the memory driver's (libs/state/src/internal/validation.ts).
 */
export const APPLY_SCRIPT = `
local once = ARGV[1] == 'once'
local first = 1
if once then
  first = 2
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
    return {0}
  end
end
local nops = #KEYS - first + 1
local MAX_SAFE = 9007199254740991

local function fail(message)
  if once then redis.call('DEL', KEYS[1]) end
  return redis.error_reply(message)
end

local types, replaced, written = {}, {}, {}
local function type_of(key)
  local t = types[key]
  if t == nil then
    t = redis.call('TYPE', key)['ok']
    types[key] = t
  end
  return t
end
local function wrong_type(i, op, actual)
  return 'WRONGTYPE op #' .. i .. ' (' .. op .. ') targets a key holding a ' .. actual
end

for i = 1, nops do
  local key = KEYS[first + i - 1]
  local base = 3 + (i - 1) * 3
  local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  if op == 'set' or op == 'del' then
    if op == 'set' then types[key] = 'string' else types[key] = 'none' end
    replaced[key] = true
    written[key] = nil
  elseif op == 'rpush' or op == 'sadd' then
    local want = 'list'
    if op == 'sadd' then want = 'set' end
    local actual = type_of(key)
    if actual ~= 'none' and actual ~= want then return fail(wrong_type(i, op, actual)) end
    types[key] = want
  elseif op == 'hset' or op == 'hsetnx' or op == 'hincrby' then
    local actual = type_of(key)
    if actual ~= 'none' and actual ~= 'hash' then return fail(wrong_type(i, op, actual)) end
    types[key] = 'hash'
    local fields = written[key]
    if fields == nil then
      fields = {}
      written[key] = fields
    end
    local current = fields[a]
    if current == nil and not replaced[key] and actual == 'hash' then
      current = redis.call('HGET', key, a)
    end
    if current == nil then current = false end
    if op == 'hset' then
      fields[a] = b
    elseif op == 'hsetnx' then
      if current == false then fields[a] = b end
    else
      local n = 0
      if current ~= false then
        if current ~= '0' and not string.match(current, '^%-?[1-9]%d*$') then
          return fail('ERR op #' .. i .. ' (hincrby): hash value is not an integer')
        end
        n = tonumber(current)
      end
      local r = n + tonumber(b)
      if n > MAX_SAFE or n < -MAX_SAFE or r > MAX_SAFE or r < -MAX_SAFE then
        return fail('ERR op #' .. i .. ' (hincrby): result is outside the safe integer range (±' .. string.format('%d', MAX_SAFE) .. ')')
      end
      fields[a] = string.format('%d', r)
    end
  else
    return fail('ERR op #' .. i .. ': unknown op ' .. tostring(op))
  end
end

local out = {1}
for i = 1, nops do
  local key = KEYS[first + i - 1]
  local base = 3 + (i - 1) * 3
  local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  if op == 'set' then
    redis.call('SET', key, a)
    out[i + 1] = 'OK'
  elseif op == 'hset' then
    out[i + 1] = redis.call('HSET', key, a, b)
  elseif op == 'hsetnx' then
    out[i + 1] = redis.call('HSETNX', key, a, b)
  elseif op == 'hincrby' then
    out[i + 1] = redis.call('HINCRBY', key, a, b)
  elseif op == 'rpush' then
    out[i + 1] = redis.call('RPUSH', key, a)
  elseif op == 'sadd' then
    out[i + 1] = redis.call('SADD', key, a)
  else
    out[i + 1] = redis.call('DEL', key)
  end
end
return out
`;

export const APPLY_SCRIPT_SHA1 = createHash('sha1').update(APPLY_SCRIPT).digest('hex');
