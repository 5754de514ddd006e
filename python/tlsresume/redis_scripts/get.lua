-- tlsresume: read a key's entries from Redis in one step (issue 12).
-- The one copy: Python reads this file, the Lua modules carry it verbatim
-- (lua/tlsresume/redis_scripts.lua, `make redis-scripts`).
-- KEYS[1]: the key's TLS 1.3 tickets (a list, newest first)
-- KEYS[2]: the key's TLS 1.2 session (a string)
-- ARGV[1]: how many tickets at most
-- Returns the newest tickets, then the TLS 1.2 session, all left in place
-- (a peek); a value of another type under our keys is left out.
local out = {}
if redis.call('TYPE', KEYS[1]).ok == 'list' then
  out = redis.call('LRANGE', KEYS[1], 0, (tonumber(ARGV[1]) or 8) - 1)
end
if redis.call('TYPE', KEYS[2]).ok == 'string' then
  out[#out + 1] = redis.call('GET', KEYS[2])
end
return out
