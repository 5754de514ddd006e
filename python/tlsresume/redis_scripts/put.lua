-- tlsresume: put an entry into Redis in one atomic step (issue 12).
-- The one copy: Python reads this file, the Lua modules carry it verbatim
-- (lua/tlsresume/redis_scripts.lua, `make redis-scripts`).
-- KEYS[1]: the key's TLS 1.3 tickets (a list, newest first)
-- KEYS[2]: the key's TLS 1.2 session (a string)
-- ARGV: kind (13 or 12), the entry's bytes, its expiry and now (Unix
-- seconds), max_tickets.  A ticket goes first in the list, which keeps the
-- max_tickets newest and lives as long as its longest-lived ticket; a TLS
-- 1.2 session replaces the one before.  Each value's TTL is its expiry.
-- Returns 1, or 0 if expired or a value of another type is in the way.
local ttl = (tonumber(ARGV[3]) or 0) - (tonumber(ARGV[4]) or 0)
if ttl <= 0 then return 0 end
if ARGV[1] == '13' then
  local t = redis.call('TYPE', KEYS[1]).ok
  if t ~= 'list' and t ~= 'none' then return 0 end
  redis.call('LPUSH', KEYS[1], ARGV[2])
  redis.call('LTRIM', KEYS[1], 0, (tonumber(ARGV[5]) or 8) - 1)
  local cur = redis.call('TTL', KEYS[1])
  if cur < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
else
  local t = redis.call('TYPE', KEYS[2]).ok
  if t ~= 'string' and t ~= 'none' then return 0 end
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ttl)
end
return 1
