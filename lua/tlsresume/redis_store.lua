--- The Redis session store both Lua bindings share: tlsresume.redis (Lua
-- 5.4 / LuaJIT, the C module's codec) and resty.tlsresume.redis (OpenResty,
-- the FFI codec).  Same entries, keys and scripts as Python's RedisStore:
--   <prefix><SHA-256 of (host, port, scope) as hex>     TLS 1.3 tickets, a
--        list, newest first, max_tickets of them, taken once (take.lua)
--   <prefix><hex>:s                                     the TLS 1.2 session
-- Each value's TTL is its expiry; values are store-file bytes.
--
-- The client is the caller's: a redis-lua client (redis.connect), a
-- lua-resty-redis object, or anything with the same methods (evalsha,
-- eval, del) returning a result or nil, err, or raising.
-- Redis failing is a miss (nil, msg, EIO), never a raise.
local scripts = require "tlsresume.redis_scripts"

local type, tostring, pcall, setmetatable, error = type, tostring, pcall,
    setmetatable, error
local unpack = table.unpack or unpack
local null = ngx and ngx.null

-- make(B): B = {codes, codec(opts) -> codec | nil, msg, code,
-- key(host, port, scope) -> hex | nil, msg, code, now() -> seconds};
-- a codec has :encode(host, port, scope, sess, opts) -> bytes, expires,
-- kind and :decode(bytes, host, port, scope, opts) -> sess (nil, msg,
-- code: ENOTFOUND for another key's or expired, ETRUST if refused).
return function(B)
    local M = {}
    local Store = {}
    Store.__index = Store
    local EIO, ENOTFOUND = B.codes.EIO, B.codes.ENOTFOUND

    function M.new(client, opts)
        if type(client) ~= "table" and type(client) ~= "userdata" then
            error("bad argument #1 to 'new' (redis client expected)", 2)
        end
        if opts ~= nil and type(opts) ~= "table" then
            error("bad argument #2 to 'new' (table expected)", 2)
        end
        opts = opts or {}
        local prefix = opts.prefix or "tlsresume:"
        if type(prefix) ~= "string" then
            error("bad option 'prefix' (string expected)", 2)
        end
        local codec, err, code = B.codec(opts)
        if not codec then
            return nil, err, code
        end
        return setmetatable({ client = client, codec = codec,
                              prefix = prefix,
                              max_tickets = opts.max_tickets or 8 }, Store)
    end

    -- One call: its result, or nil and a message (errors returned or
    -- raised, as each client does).
    local function call(self, cmd, ...)
        local f = self.client[cmd]
        if type(f) ~= "function" then
            return nil, "redis client has no method " .. cmd
        end
        local ok, res, err = pcall(f, self.client, ...)
        if not ok then
            return nil, tostring(res)
        end
        if res == nil and err ~= nil then
            return nil, tostring(err)
        end
        if res == null then
            return false
        end
        return res == nil and false or res
    end

    local function script(self, s, keys, args)
        local n = #keys
        local all = { unpack(keys) }
        for i = 1, #args do
            all[n + i] = args[i]
        end
        local res, err = call(self, "evalsha", s.sha1, n, unpack(all))
        if res == nil and err and err:find("NOSCRIPT", 1, true) then
            res, err = call(self, "eval", s.text, n, unpack(all))
        end
        return res, err
    end

    local function keys(self, host, port, scope)
        local k, err, code = B.key(host, port, scope)
        if not k then
            return nil, err, code
        end
        k = self.prefix .. k
        return { k, k .. ":s" }
    end

    local function redis_failed(err)
        return nil, "redis: " .. tostring(err), EIO
    end

    --- put(host, port, sess [, scope [, opts]]) -> true | nil, msg, code
    function Store:put(host, port, sess, scope, opts)
        local ks, kerr, kcode = keys(self, host, port, scope)
        if not ks then
            return nil, kerr, kcode
        end
        local bytes, expires, kind = self.codec:encode(host, port, scope,
                                                       sess, opts)
        if not bytes then
            return nil, expires, kind
        end
        local res, err = script(self, scripts.put, ks,
            { tostring(kind), bytes, ("%d"):format(expires),
              ("%d"):format(B.now()), tostring(self.max_tickets) })
        if res == nil then
            return redis_failed(err)
        end
        if res ~= 1 then
            return nil, "redis: a value of another type is in the way",
                B.codes.EINVAL
        end
        return true
    end

    local function decode(self, v, host, port, scope, opts)
        if type(v) ~= "string" then
            return nil, "not an entry", ENOTFOUND
        end
        return self.codec:decode(v, host, port, scope, opts)
    end

    --- get(host, port [, scope [, opts]]): the newest usable session, left
    -- in Redis; nil, msg, code if none.
    function Store:get(host, port, scope, opts)
        local ks, kerr, kcode = keys(self, host, port, scope)
        if not ks then
            return nil, kerr, kcode
        end
        local values, err = script(self, scripts.get, ks,
                                   { tostring(self.max_tickets) })
        if values == nil then
            return redis_failed(err)
        end
        if type(values) ~= "table" then
            values = {}
        end
        local last = { nil, "no session for " .. host, ENOTFOUND }
        for i = 1, #values do
            local s, msg, code = decode(self, values[i], host, port, scope,
                                        opts)
            if s then
                return s
            end
            last = { nil, msg, code }
        end
        return unpack(last, 1, 3)
    end

    --- take(host, port [, scope [, opts]]): the session to resume with; a
    -- TLS 1.3 ticket is popped in the same server-side step (one taker
    -- gets it, whatever the machine).
    function Store:take(host, port, scope, opts)
        local ks, kerr, kcode = keys(self, host, port, scope)
        if not ks then
            return nil, kerr, kcode
        end
        local last = { nil, "no session for " .. host, ENOTFOUND }
        for _ = 1, self.max_tickets + 1 do
            local res, err = script(self, scripts.take, ks,
                                    { ("%d"):format(B.now()) })
            if res == nil then
                return redis_failed(err)
            end
            if type(res) ~= "table" then
                break
            end
            local s, msg, code = decode(self, res[2], host, port, scope,
                                        opts)
            if s then
                return s
            end
            last = { nil, msg, code }
            if res[1] ~= 13 then
                break
            end
        end
        return unpack(last, 1, 3)
    end

    --- remove(host, port [, scope]) -> number of Redis keys removed
    function Store:remove(host, port, scope)
        local ks, kerr, kcode = keys(self, host, port, scope)
        if not ks then
            return nil, kerr, kcode
        end
        local n, err = call(self, "del", ks[1], ks[2])
        if n == nil then
            return redis_failed(err)
        end
        return n
    end

    --- Redis drops expired entries itself (each value's TTL).
    function Store:prune()
        return 0
    end

    return M
end
