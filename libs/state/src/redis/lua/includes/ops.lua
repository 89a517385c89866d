--[[
  The batch of ops every script writes.

  check_ops(first_key, first_arg, count) dry-runs the `count` ops whose keys start at
  KEYS[first_key] and whose [name, a, b] triples start at ARGV[first_arg], returning a
  coded_error or nil; write_ops(first_key, first_arg, count, out) runs them and appends their
  results to `out`.

  Redis does not roll a script back when a command fails half-way, so every script checks first
  and writes after: key types as the batch would leave them, and the hash values HINCRBY would
  read.

  Op triples: set/rpush: a = value; hset/hsetnx: a = field, b = value; hincrby: a = field,
  b = by; sadd/zrem: a = member; zadd: a = score, b = member; pexpire: a = milliseconds;
  del: none (unused slots are '').
]]
--- @include "coded-error"

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
  for i = 1, count do
    local key = KEYS[first_key + i - 1]
    local base = first_arg + (i - 1) * 3
    local op, a, b = ARGV[base], ARGV[base + 1], ARGV[base + 2]
    if op == 'set' or op == 'del' then
      if op == 'set' then types[key] = 'string' else types[key] = 'none' end
      replaced[key] = true
      written[key] = nil
    elseif op == 'pexpire' then
      -- no type to check: a time to live applies to a key of any type
    elseif op == 'rpush' or op == 'sadd' or op == 'zadd' or op == 'zrem' then
      local want = 'list'
      if op == 'sadd' then want = 'set' elseif op == 'zadd' or op == 'zrem' then want = 'zset' end
      local actual = type_of(key)
      if actual ~= 'none' and actual ~= want then return coded_error('OP_WRONG_TYPE', i, op, actual) end
      if op ~= 'zrem' then types[key] = want end
    elseif op == 'hset' or op == 'hsetnx' or op == 'hincrby' then
      local actual = type_of(key)
      if actual ~= 'none' and actual ~= 'hash' then return coded_error('OP_WRONG_TYPE', i, op, actual) end
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
            return coded_error('OP_NOT_INTEGER', i)
          end
          n = tonumber(current)
        end
        local r = n + tonumber(b)
        if n > MAX_SAFE or n < -MAX_SAFE or r > MAX_SAFE or r < -MAX_SAFE then
          return coded_error('OP_UNSAFE_INTEGER', i)
        end
        fields[a] = string.format('%d', r)
      end
    else
      return coded_error('OP_UNKNOWN', i, tostring(op))
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
    elseif op == 'zadd' then
      r = redis.call('ZADD', key, a, b)
    elseif op == 'zrem' then
      r = redis.call('ZREM', key, a)
    elseif op == 'pexpire' then
      r = redis.call('PEXPIRE', key, a)
    else
      r = redis.call('DEL', key)
    end
    out[#out + 1] = r
  end
  return out
end
