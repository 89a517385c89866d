--[[
  apply: the script behind `apply` and `applyOnce`. Redis runs a script atomically, so the marker
  check, the marker write and every op happen with no other command in between.

  In 'once' mode it records the marker first (SET NX EX: if that does not set, nothing runs) and
  removes it again if the dry run fails; being inside the script, the short-lived marker is never
  visible to anyone else.

  Input:
    KEYS[1]          marker key ('once' mode only)
    KEYS[...]        one key per op
    ARGV[1]          mode: 'once' | 'apply'
    ARGV[2]          marker TTL in seconds ('' for 'apply')
    ARGV[3...]       [name, a, b] per op (see includes/ops.lua)
  Output:
    {applied (1 | 0), result of op 1, result of op 2, ...}
    or a coded_error (includes/coded-error.lua) when the dry run fails; nothing is written
]]
--- @include "ops"

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
  return failure
end
return write_ops(first, 3, #KEYS - first + 1, {1})
