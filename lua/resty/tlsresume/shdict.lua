--- A session store over an ngx.shared.DICT, so all nginx workers share it.
--
--   lua_shared_dict tls_sessions 1m;
--   local shdict = require "resty.tlsresume.shdict"
--   local st = shdict.new("tls_sessions", {max_tickets = 8})
--   local sess = st:take(host, port)          -- nil, err, code if none
--   local new, err = sock:sslhandshake(sess, host)
--   st:put(host, port, new)
--
-- Same semantics as the core's on-disk store:
--   * values are DER (i2d_SSL_SESSION), prefixed with their expiry; an entry
--     lives min(session lifetime, max_lifetime) and the dict's TTL drops it;
--   * TLS 1.2: one session per key, reused until it expires (take leaves it);
--   * TLS 1.3: up to max_tickets tickets per key in a dict list; take pops
--     the newest (lpop is atomic across workers: each ticket is used once),
--     the oldest fall off when the list is full;
--   * keys are host, port and an optional scope (e.g. the SNI or client
--     certificate identity): a session is only offered where it came from.
-- The dict lives as long as nginx's master: it survives a reload (HUP), not
-- a stop/start; resty.tlsresume.tiered adds the on-disk store behind it.
-- get() peeks (a TLS 1.3 ticket is popped and pushed back).  Only resumable
-- sessions are stored (TLS 1.3: call sslhandshake again after reading a
-- response, to get the session with the server's ticket).
local T = require "resty.tlsresume"

local ngx = ngx
local type, tonumber, error, ipairs = type, tonumber, error, ipairs
local now = ngx and ngx.time or os.time

local _M = {}
local Store = {}
Store.__index = Store

local DEFAULT_TICKETS = 8
local DEFAULT_LIFETIME = 7 * 24 * 3600

function _M.new(dict, opts)
    if type(dict) == "string" then
        local name = dict
        dict = ngx.shared[name]
        if not dict then
            error("no lua_shared_dict named " .. name, 2)
        end
    elseif type(dict) ~= "table" and type(dict) ~= "userdata" then
        error("bad argument #1 to 'new' (shared dict or its name expected)", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #2 to 'new' (table expected)", 2)
    end
    opts = opts or {}
    return setmetatable({
        dict = dict,
        max_tickets = opts.max_tickets or DEFAULT_TICKETS,
        max_lifetime = opts.max_lifetime or DEFAULT_LIFETIME,
        lean = opts.lean and true or false,
        prefix = opts.prefix or "tlsr:",
    }, Store)
end

-- Length-prefixed parts: no host, port or scope can collide with another.
local function key(self, host, port, scope)
    scope = scope or ""
    return ("%s%d:%s:%d:%d:%s"):format(self.prefix, #host, host, port,
                                       #scope, scope)
end

local function encode(expires, der)
    return expires .. ":" .. der
end

local function decode(v)
    local e, der = v:match("^(%d+):(.*)$")
    return tonumber(e), der
end

--- put(host, port, sess [, scope [, opts]]) -> true | nil, err, code;
-- opts = {verify =, trust =}: the trust rule (see resty.tlsresume)
function Store:put(host, port, sess, scope, opts)
    local ok, bad, bcode = T._check_key(host, port, scope)
    if not ok then
        return nil, bad, bcode
    end
    T._check_session(sess, 3, "put")
    local filed, ferr, fcode = T._trust_put_scope(scope, sess, opts)
    if not filed then
        return nil, ferr, fcode
    end
    local info, err, code = T.inspect(sess)
    if not info then
        return nil, err, code
    end
    if not info.resumable then
        return nil, "session not resumable (TLS 1.3: no ticket yet; call "
            .. "sslhandshake again after reading a response)",
            T.codes.ENOTRESUMABLE
    end
    local t = now()
    local expires = info.expires
    if expires > t + self.max_lifetime then
        expires = t + self.max_lifetime
    end
    local ttl = expires - t
    if ttl <= 0 then
        return nil, "session expired", T.codes.ENOTRESUMABLE
    end
    local der, e2, c2 = T.serialize(sess, "der", self.lean)
    if not der then
        return nil, e2, c2
    end
    local k = key(self, host, port, filed)
    local dict = self.dict
    if info.protocol_version >= 0x0304 then
        local lk = k .. "#t"
        local n, perr = dict:lpush(lk, encode(expires, der))
        if not n then
            return nil, "shared dict: " .. tostring(perr), T.codes.ENOMEM
        end
        while n > self.max_tickets do -- the oldest fall off
            dict:rpop(lk)
            n = n - 1
        end
        -- The list lives as long as its newest ticket.
        dict:expire(lk, ttl)
    else
        local ok, serr = dict:set(k .. "#s", encode(expires, der), ttl)
        if not ok then
            return nil, "shared dict: " .. tostring(serr), T.codes.ENOMEM
        end
    end
    return true
end

local function usable(v, t)
    if not v then
        return nil
    end
    local expires, der = decode(v)
    if not expires or expires <= t then
        return nil
    end
    return T.deserialize(der)
end

local function lookup_one(self, take, k, t)
    local dict = self.dict
    local lk = k .. "#t"
    -- TLS 1.3 tickets: newest first, popped atomically, expired ones dropped.
    while true do
        local v = dict:lpop(lk)
        if not v then
            break
        end
        local sess = usable(v, t)
        if sess then
            if not take then
                dict:lpush(lk, v) -- peek: put it back
            end
            return sess
        end
    end
    return usable(dict:get(k .. "#s"), t)
end

local function lookup(self, take, host, port, scope, opts)
    local ok, bad, bcode = T._check_key(host, port, scope)
    if not ok then
        return nil, bad, bcode
    end
    local t = now()
    for _, filed in ipairs(T._trust_scopes(scope, opts,
                                           take and "take" or "get")) do
        local sess = lookup_one(self, take, key(self, host, port, filed), t)
        if sess then
            return sess
        end
    end
    return nil, "no usable session for " .. host .. ":" .. port,
        T.codes.ENOTFOUND
end

--- get(host, port [, scope [, opts]]) -> session cdata (left in the store)
function Store:get(host, port, scope, opts)
    return lookup(self, false, host, port, scope, opts)
end

--- take(host, port [, scope [, opts]]) -> the session to resume with; a
-- TLS 1.3 ticket is removed (single use).
function Store:take(host, port, scope, opts)
    return lookup(self, true, host, port, scope, opts)
end

--- remove(host, port [, scope [, opts]]) -> number of entries removed
-- (both trust classes of opts.trust's label)
function Store:remove(host, port, scope, opts)
    local ok, bad, bcode = T._check_key(host, port, scope)
    if not ok then
        return nil, bad, bcode
    end
    local dict = self.dict
    local n = 0
    for _, filed in ipairs(T._trust_scopes(scope,
            { verify = false, trust = opts and opts.trust }, "remove")) do
        local k = key(self, host, port, filed)
        while dict:lpop(k .. "#t") do
            n = n + 1
        end
        if dict:get(k .. "#s") then
            n = n + 1
        end
        dict:delete(k .. "#s")
    end
    return n
end

local function our_keys(self)
    local out = {}
    local p = self.prefix
    for _, k in ipairs(self.dict:get_keys(0)) do
        if k:sub(1, #p) == p then
            out[#out + 1] = k
        end
    end
    return out
end

--- prune() -> number of expired entries removed (walks the dict's keys:
-- keep it for timers, not request paths).
function Store:prune()
    local dict, t, n = self.dict, now(), 0
    for _, k in ipairs(our_keys(self)) do
        if k:sub(-2) == "#t" then
            local keep = {}
            while true do
                local v = dict:rpop(k)
                if not v then
                    break
                end
                local expires = decode(v)
                if expires and expires > t then
                    keep[#keep + 1] = v
                else
                    n = n + 1
                end
            end
            -- oldest first back in, so the newest stays at the head
            for i = 1, #keep do
                dict:lpush(k, keep[i])
            end
        end
    end
    return n + (dict:flush_expired() or 0)
end

--- count() -> number of entries (walks the dict's keys).
function Store:count()
    local dict, n = self.dict, 0
    for _, k in ipairs(our_keys(self)) do
        if k:sub(-2) == "#t" then
            n = n + (dict:llen(k) or 0)
        elseif dict:get(k) then
            n = n + 1
        end
    end
    return n
end

return _M
