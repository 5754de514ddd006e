--- Client sessions in Redis for Lua 5.4 (and LuaJIT): the entries, keys
-- and atomic take of Python's tlsresume.RedisStore (see
-- tlsresume/redis_store.lua), over Debian's lua-redis (redis-lua) or any
-- client with the same methods.
--
--   local redis = require "redis"
--   local client = redis.connect("127.0.0.1", 6379); client:auth(pw)
--   local st = require("tlsresume.redis").new(client, {seal_key = key32})
--   st:put(host, port, sess [, scope])
--   local sess = st:take(host, port [, scope [, conn]])  -- nil, msg, code
-- With a LuaSec connection (before its handshake) as conn, only sessions
-- it may resume (the trust rule).
local core = require "tlsresume_core"

local function now()
    return os.time()
end

local Codec = {}
Codec.__index = Codec

function Codec:encode(host, port, scope, sess)
    return self.c:encode(host, port, scope, sess)
end

function Codec:decode(bytes, host, port, scope, opts)
    return self.c:decode(bytes, host, port, scope, opts)
end

return require("tlsresume.redis_store")({
    codes = core.codes,
    now = now,
    key = core.entry_key,
    codec = function(opts)
        local c, err, code = core.codec_new({
            max_lifetime = opts.max_lifetime, seal_key = opts.seal_key,
            lean = opts.lean })
        if not c then
            return nil, err, code
        end
        return setmetatable({ c = c }, Codec)
    end,
})
