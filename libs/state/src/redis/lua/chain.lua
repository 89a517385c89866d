--[[
  chain: the script behind `applyOnceChain`. The steps whose markers are absent, up to the first
  whose marker exists, are dry-run together (as one batch, in order), then their markers are
  recorded and their ops run. A chain that fails its dry run writes nothing.

  Input:
    KEYS[1..n]       marker per step
    KEYS[n+1...]     one key per op, steps in order
    ARGV[1]          n, the step count
    ARGV[2]          marker TTL in seconds
    ARGV[3..n+2]     op count per step
    ARGV[n+3...]     [name, a, b] per op (see includes/ops.lua)
  Output:
    {steps applied, result of op 1, ...} (the ops of the applied steps)
    or a coded_error (includes/coded-error.lua) when the dry run fails
]]
--- @include "ops"

local n, ttl = tonumber(ARGV[1]), ARGV[2]
local applied, count = 0, 0
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then break end
  applied = i
  count = count + tonumber(ARGV[2 + i])
end
local failure = check_ops(n + 1, 3 + n, count)
if failure then return failure end
for i = 1, applied do redis.call('SET', KEYS[i], '1', 'EX', ttl) end
return write_ops(n + 1, 3 + n, count, {applied})
