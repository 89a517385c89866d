--[[
  reserve: the script behind `reserve`. Sliding windows held as sorted sets (member `<weight>:<id>`,
  score = when it was granted, on Redis's clock so every process agrees). Atomic: every claim is
  added, or none.

  Input:
    KEYS[1], KEYS[2], ...   one window per claim (claim i's window is KEYS[i])
    ARGV[1], ARGV[2], ARGV[3]  member, limit and window (ms) of claim 1; ARGV[3i-2..3i] of claim i
  Output:
    {granted (1 | 0), now (ms), retry after (ms, 0 when granted)}
]]
local function weight(member)
  return tonumber(string.match(member, '^(%d+):')) or 1
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local wait = 0
for i = 1, #KEYS do
  local member = ARGV[3 * i - 2]
  local limit = tonumber(ARGV[3 * i - 1])
  local window = tonumber(ARGV[3 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local entries = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
  local used = 0
  for j = 1, #entries, 2 do
    if entries[j] ~= member then used = used + weight(entries[j]) end
  end
  local need = weight(member)
  if used > 0 and used + need > limit then
    for j = 1, #entries, 2 do
      if entries[j] ~= member then
        used = used - weight(entries[j])
        if used == 0 or used + need <= limit then
          local until_free = tonumber(entries[j + 1]) + window - now
          if until_free > wait then wait = until_free end
          break
        end
      end
    end
  end
end
if wait > 0 then return {0, now, wait} end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[3 * i - 2])
  redis.call('PEXPIRE', KEYS[i], ARGV[3 * i])
end
return {1, now, 0}
