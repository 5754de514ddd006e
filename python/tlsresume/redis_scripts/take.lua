-- tlsresume: take a session from Redis in one atomic step (issue 12).
-- The one copy: Python reads this file, the Lua modules carry it verbatim
-- (lua/tlsresume/redis_scripts.lua, `make redis-scripts`).
-- KEYS[1]: the key's TLS 1.3 tickets (a list, newest first)
-- KEYS[2]: the key's TLS 1.2 session (a string)
-- ARGV[1]: now (Unix seconds)
-- Returns {13, ticket}: the newest unexpired ticket, popped (single use:
-- whoever pops it owns it; expired ones on the way are dropped), or
-- {12, session}: the TLS 1.2 session, left in place, or false.
-- A value of another type under our keys is left alone (a miss).
local now = tonumber(ARGV[1]) or 0
if redis.call('TYPE', KEYS[1]).ok == 'list' then
  while true do
    local v = redis.call('LPOP', KEYS[1])
    if not v then break end
    local e = tonumber(string.match(v, '\nexpires (%-?%d+)\n'))
    if e == nil or e > now then return {13, v} end
  end
end
if redis.call('TYPE', KEYS[2]).ok == 'string' then
  local v = redis.call('GET', KEYS[2])
  if v then return {12, v} end
end
return false
