--- Client sessions in Redis for OpenResty, over cosockets: the entries,
-- keys and atomic take of Python's tlsresume.RedisStore (see
-- lua/tlsresume/redis_store.lua), so nginx workers, Python processes and
-- Lua 5.4 programs on any machine share one store.
--
--   local redis = require "resty.redis"        -- or any client with the
--   local red = redis:new()                    -- same methods (evalsha,
--   red:set_timeouts(200, 200, 200)            -- eval, del)
--   assert(red:connect("10.0.0.5", 6379)); red:auth(pw)
--   local st = require("resty.tlsresume.redis").new(red, {seal_key = k})
--   local sess = st:take(host, port)           -- nil, msg, code if none
--   local new = sock:sslhandshake(sess, host, true)
--   st:put(host, port, new)
--   red:set_keepalive(10000, 32)
-- opts = {verify =, trust =} on put/get/take follows the trust rule (see
-- resty.tlsresume): pass the verify you pass to sslhandshake.  A Redis
-- failure is nil, msg, EIO: go on with a full handshake.
local ffi = require "ffi"
local T = require "resty.tlsresume"

local C = T.C
local ffi_new, ffi_gc, ffi_string = ffi.new, ffi.gc, ffi.string
local type, error = type, error

local buf = ffi_new("uint8_t[?]", C.TLSR_ENTRY_MAX)
local len = ffi_new("size_t[1]")
local expires = ffi_new("int64_t[1]")
local kind = ffi_new("int[1]")

local Codec = {}
Codec.__index = Codec

function Codec:encode(host, port, scope, sess, opts)
    local s = T._check_session(sess, 4, "put")
    local verify, label = T._trust_opts(opts, "put")
    local info, ierr, icode = T.inspect(sess)
    if not info then
        return nil, ierr, icode
    end
    local made, merr, mcode = T._label_trust(
        verify and info.verify_result == 0, host, label)
    if not made then
        return nil, merr, mcode
    end
    local err = ffi_new("struct tlsr_error")
    local copy = C.tlsr_session_dup(s, err)     -- the caller's stays as is
    if copy == nil then
        return T._fail(err)
    end
    local rc = C.tlsr_session_set1_trust(copy, made, err)
    len[0] = C.TLSR_ENTRY_MAX
    if rc == 0 then
        rc = C.tlsr_entry_encode(self.p, host, port, scope, copy, buf, len,
                                 expires, kind, err)
    end
    C.tlsr_session_free(copy)
    if rc ~= 0 then
        return T._fail(err)
    end
    local out = ffi_string(buf, len[0])
    ffi.fill(buf, len[0])
    return out, tonumber(expires[0]), tonumber(kind[0])
end

function Codec:decode(bytes, host, port, scope, opts)
    local verify, label = T._trust_opts(opts, "get")
    local policy
    if verify then
        local perr, pcode
        policy, perr, pcode = T._label_trust(true, host, label)
        if not policy then
            return nil, perr, pcode
        end
    end
    local err = ffi_new("struct tlsr_error")
    local s = C.tlsr_entry_decode(self.p, bytes, #bytes, host, port, scope,
                                  policy, nil, err)
    if s == nil then
        return T._fail(err)
    end
    return ffi_gc(s, C.tlsr_session_free)
end

local function key(host, port, scope)
    local ok, bad, code = T._check_key(host, port, scope)
    if not ok then
        return nil, bad, code
    end
    local out = ffi_new("char[65]")
    local n = ffi_new("size_t[1]", 65)
    local err = ffi_new("struct tlsr_error")
    if C.tlsr_entry_key(host, port, scope, out, n, err) ~= 0 then
        return T._fail(err)
    end
    return ffi_string(out, n[0])
end

return require("tlsresume.redis_store")({
    codes = T.codes,
    now = ngx and ngx.time or os.time,
    key = key,
    codec = function(opts)
        local o = ffi_new("struct tlsr_store_options")
        C.tlsr_store_options_init(o)
        if opts.max_lifetime ~= nil then
            if type(opts.max_lifetime) ~= "number" then
                error("option max_lifetime: number expected", 4)
            end
            o.max_lifetime = opts.max_lifetime
        end
        if opts.lean then
            o.flags = C.TLSR_STORE_LEAN
        end
        local k = opts.seal_key
        if k ~= nil then
            if type(k) ~= "string" then
                error("option seal_key: string expected", 4)
            end
            o.seal_key, o.seal_key_len = k, #k
        end
        local err = ffi_new("struct tlsr_error")
        local p = C.tlsr_codec_new(o, err)
        if p == nil then
            return T._fail(err)
        end
        return setmetatable({ p = ffi_gc(p, C.tlsr_codec_free), key = k },
                            Codec)
    end,
})
