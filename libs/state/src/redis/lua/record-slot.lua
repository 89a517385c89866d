--[[
  record-slot: the script behind `recordSlot` (see SlotWrite in state-store.ts), in the memory
  driver's order: key types, `requires`, the slot's version, the marker, the counts it moves and
  the ops' dry run; then the writes; then the reads.

  Input:
    KEYS[1]          marker key
    KEYS[2]          slots key (hash: slot -> '<version>:<state>')
    KEYS[3]          counts key (hash: state -> number of slots in it)
    KEYS[4]          requires key (only when ARGV[6] is '1')
    KEYS[...]        one key per read, then one key per op
    ARGV[1]          marker TTL in seconds
    ARGV[2]          slot
    ARGV[3]          version
    ARGV[4]          state
    ARGV[5]          requires field, or ''
    ARGV[6]          has requires: '1' | '0'
    ARGV[7]          read count
    ARGV[8...]       field per read, then [name, a, b] per op (see includes/ops.lua)
  Output:
    {outcome ('recorded' | 'duplicate' | 'stale' | 'missing'), {state, count, ...},
     {value per read}, {result per op} (empty unless recorded)}
    or a coded_error (includes/coded-error.lua); nothing is written
]]
--- @include "ops"

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
  if t ~= 'none' and t ~= 'hash' then return coded_error('SLOT_WRONG_TYPE', what, t) end
  return nil
end
local failure = nil
if has_requires then failure = hash_type(KEYS[4], 'requires') end
failure = failure or hash_type(slots, 'slotsKey') or hash_type(counts, 'countsKey')
for i = 1, nreads do
  failure = failure or hash_type(KEYS[first_read + i - 1], 'reads #' .. i)
end
if failure then return failure end

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
  if not v or tonumber(v) > MAX_SAFE then return coded_error('SLOT_MALFORMED', slot) end
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
    return coded_error('SLOT_COUNT_NOT_INTEGER', s)
  end
end
failure = check_ops(first_op, first_op_arg, #KEYS - first_op + 1)
if failure then return failure end

redis.call('SET', marker, '1', 'EX', ttl)
redis.call('HSET', slots, slot, ARGV[3] .. ':' .. state)
if previous ~= nil and previous ~= state then redis.call('HINCRBY', counts, previous, -1) end
if previous ~= state then redis.call('HINCRBY', counts, state, 1) end
return finish('recorded', write_ops(first_op, first_op_arg, #KEYS - first_op + 1, {}))
