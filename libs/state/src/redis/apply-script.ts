import { createHash } from 'node:crypto';

/**
 * Lua shared by the scripts: `check_ops(first_key, first_arg, count)` dry-runs the `count` ops
 * whose keys start at KEYS[first_key] and whose [name, a, b] triples start at ARGV[first_arg],
 * returning an error message or nil; `write_ops` runs them and appends their
 * results to `out`. Redis does not roll a script back when a command fails half-way, so every
 * script checks first and writes after: key types as the batch would leave them, and the hash
 * values HINCRBY would read. Error texts match the memory driver's
 * (libs/state/src/internal/validation.ts).
 */
const OPS_LUA = `
local MAX_SAFE = 9007199254740991

local function check_ops(first_key, first_arg, count)
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
  for i = 1, count do
    local key = KEYS[first_key + i - 1]
    local base = first_arg + (i - 1) * 3
    local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
    if op == 'set' or op == 'del' then
      if op == 'set' then types[key] = 'string' else types[key] = 'none' end
      replaced[key] = true
      written[key] = nil
    elseif op == 'rpush' or op == 'sadd' then
      local want = 'list'
      if op == 'sadd' then want = 'set' end
      local actual = type_of(key)
      if actual ~= 'none' and actual ~= want then return wrong_type(i, op, actual) end
      types[key] = want
    elseif op == 'hset' or op == 'hsetnx' or op == 'hincrby' then
      local actual = type_of(key)
      if actual ~= 'none' and actual ~= 'hash' then return wrong_type(i, op, actual) end
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
            return 'ERR op #' .. i .. ' (hincrby): hash value is not an integer'
          end
          n = tonumber(current)
        end
        local r = n + tonumber(b)
        if n > MAX_SAFE or n < -MAX_SAFE or r > MAX_SAFE or r < -MAX_SAFE then
          return 'ERR op #' .. i .. ' (hincrby): result is outside the safe integer range (±' .. string.format('%d', MAX_SAFE) .. ')'
        end
        fields[a] = string.format('%d', r)
      end
    else
      return 'ERR op #' .. i .. ': unknown op ' .. tostring(op)
    end
  end
  return nil
end

local function write_ops(first_key, first_arg, count, out)
  for i = 1, count do
    local key = KEYS[first_key + i - 1]
    local base = first_arg + (i - 1) * 3
    local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
    local r
    if op == 'set' then
      redis.call('SET', key, a)
      r = 'OK'
    elseif op == 'hset' then
      r = redis.call('HSET', key, a, b)
    elseif op == 'hsetnx' then
      r = redis.call('HSETNX', key, a, b)
    elseif op == 'hincrby' then
      r = redis.call('HINCRBY', key, a, b)
    elseif op == 'rpush' then
      r = redis.call('RPUSH', key, a)
    elseif op == 'sadd' then
      r = redis.call('SADD', key, a)
    else
      r = redis.call('DEL', key)
    end
    out[#out + 1] = r
  end
  return out
end
`;

/**
 * The script behind `apply` and `applyOnce`. Redis runs a script atomically, so the marker
 * check, the marker write and every op happen with no other command in between.
 *
 *   KEYS   = [markerKey]? ++ [one key per op]
 *   ARGV   = [mode ('once' | 'apply'), ttlSeconds ('' for apply)] ++ [name, a, b] per op
 *            (set/rpush: a = value; hset/hsetnx: a = field, b = value; hincrby: a = field,
 *             b = by; sadd: a = member; unused slots are '')
 *   result = {applied (1 | 0), result of op 1, result of op 2, ...}
 *
 * In 'once' mode it records the marker first (SET NX EX: if that does not set, nothing runs)
 * and removes it again if the dry run fails; being inside the script, the short-lived marker is
 * never visible to anyone else.
 */
export const APPLY_SCRIPT = `${OPS_LUA}
local once = ARGV[1] == 'once'
local first = 1
if once then
  first = 2
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
    return {0}
  end
end
local failure = check_ops(first, 3, #KEYS - first + 1)
if failure then
  if once then redis.call('DEL', KEYS[1]) end
  return redis.error_reply(failure)
end
return write_ops(first, 3, #KEYS - first + 1, {1})
`;

/**
 * The script behind `recordSlot` (see SlotWrite), in the memory driver's order: key types,
 * `requires`, the slot's version, the marker, the counts it moves and the ops' dry run; then
 * the writes; then the reads.
 *
 *   KEYS   = [markerKey, slotsKey, countsKey] ++ [requires key]? ++ [one key per read]
 *            ++ [one key per op]
 *   ARGV   = [ttlSeconds, slot, version, state, requires field or '', has requires (1 | 0),
 *             read count] ++ [field per read] ++ [name, a, b] per op
 *   result = {outcome, {state, count, ...}, {value per read}, {result per op}}
 */
export const SLOT_SCRIPT = `${OPS_LUA}
local marker, slots, counts = KEYS[1], KEYS[2], KEYS[3]
local ttl, slot, version, state = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local has_requires = ARGV[6] == '1'
local nreads = tonumber(ARGV[7])
local first_read = 4
if has_requires then first_read = 5 end
local first_op = first_read + nreads
local first_op_arg = 8 + nreads

local function hash_type(key, what)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= 'hash' then return 'WRONGTYPE recordSlot: ' .. what .. ' holds a ' .. t .. ', not a hash' end
  return nil
end
local failure = nil
if has_requires then failure = hash_type(KEYS[4], 'requires') end
failure = failure or hash_type(slots, 'slotsKey') or hash_type(counts, 'countsKey')
for i = 1, nreads do
  failure = failure or hash_type(KEYS[first_read + i - 1], 'reads #' .. i)
end
if failure then return redis.error_reply(failure) end

local function finish(outcome, results)
  local values = {}
  for i = 1, nreads do
    values[i] = redis.call('HGET', KEYS[first_read + i - 1], ARGV[7 + i])
  end
  return {outcome, redis.call('HGETALL', counts), values, results}
end

if has_requires and redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then return finish('missing', {}) end
local stored = redis.call('HGET', slots, slot)
local previous = nil
if stored then
  local v, s = string.match(stored, '^(0)[:](.+)$')
  if not v then v, s = string.match(stored, '^([1-9]%d*)[:](.+)$') end
  if not v or tonumber(v) > MAX_SAFE then return redis.error_reply('ERR recordSlot: slot ' .. slot .. ' does not hold <version>:<state>') end
  if tonumber(v) > version then return finish('stale', {}) end
  previous = s
end
if redis.call('EXISTS', marker) == 1 then return finish('duplicate', {}) end

local moved = {}
if previous == nil then
  moved = {state}
elseif previous ~= state then
  moved = {previous, state}
end
for _, s in ipairs(moved) do
  local count = redis.call('HGET', counts, s)
  if count and count ~= '0' and not string.match(count, '^%-?[1-9]%d*$') then
    return redis.error_reply('ERR recordSlot: the count of ' .. s .. ' is not an integer')
  end
end
failure = check_ops(first_op, first_op_arg, #KEYS - first_op + 1)
if failure then return redis.error_reply(failure) end

redis.call('SET', marker, '1', 'EX', ttl)
redis.call('HSET', slots, slot, ARGV[3] .. ':' .. state)
if previous ~= nil and previous ~= state then redis.call('HINCRBY', counts, previous, -1) end
if previous ~= state then redis.call('HINCRBY', counts, state, 1) end
return finish('recorded', write_ops(first_op, first_op_arg, #KEYS - first_op + 1, {}))
`;

/**
 * The script behind `applyOnceChain`: the steps whose markers are absent, up to the first whose
 * marker exists, are dry-run together (as one batch, in order), then their markers are recorded
 * and their ops run. A chain that fails its dry run writes nothing.
 *
 *   KEYS   = [marker per step] ++ [one key per op, steps in order]
 *   ARGV   = [step count, ttlSeconds] ++ [op count per step] ++ [name, a, b] per op
 *   result = {steps applied, result of op 1, ...} (the ops of the applied steps)
 */
export const CHAIN_SCRIPT = `${OPS_LUA}
local n, ttl = tonumber(ARGV[1]), ARGV[2]
local applied, count = 0, 0
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then break end
  applied = i
  count = count + tonumber(ARGV[2 + i])
end
local failure = check_ops(n + 1, 3 + n, count)
if failure then return redis.error_reply(failure) end
for i = 1, applied do redis.call('SET', KEYS[i], '1', 'EX', ttl) end
return write_ops(n + 1, 3 + n, count, {applied})
`;

export const APPLY_SCRIPT_SHA1 = createHash('sha1').update(APPLY_SCRIPT).digest('hex');
export const SLOT_SCRIPT_SHA1 = createHash('sha1').update(SLOT_SCRIPT).digest('hex');
export const CHAIN_SCRIPT_SHA1 = createHash('sha1').update(CHAIN_SCRIPT).digest('hex');
