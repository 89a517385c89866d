--[[
  coded_error(code, ...): the error reply every script fails with. Its text is the code and its
  arguments as a JSON array, e.g. `OP_WRONG_TYPE [2,"hset","string"]`; scriptError() in
  ../scripts.ts is the one place that turns it into the message callers see (the same text the
  memory driver throws, internal/validation.ts). cjson escapes newlines, which an error reply
  may not hold.
]]
local function coded_error(code, ...)
  return redis.error_reply(code .. ' ' .. cjson.encode({...}))
end
