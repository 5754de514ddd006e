--- The core's on-disk session store (tlsr_store_*) over LuaJIT's FFI.
-- Same methods as the Lua 5.4 module's store: put(host, port, sess
-- [, scope [, opts]]), get/take(host, port [, scope [, opts]]),
-- remove(host, port [, scope]), prune(), count(), entries(), close();
-- opts = {verify =, trust =} follows the trust rule (see resty.tlsresume).  Calls do blocking file I/O: in nginx keep them off
-- hot paths (resty.tlsresume.tiered puts a shared dict in front).  The
-- workers' user must own the directory (0700): nginx runs its workers as
-- `nobody` unless nginx.conf's `user` says otherwise.
local ffi = require "ffi"
local bit = require "bit"

local ffi_new, ffi_gc, ffi_string = ffi.new, ffi.gc, ffi.string
local type, tonumber, error = type, tonumber, error

local Store = {}
Store.__index = Store

local _M = {}
local worker_hint

local function u32(opts, k, dflt)
    local v = opts[k]
    if v == nil then
        return dflt
    end
    if type(v) ~= "number" or v < 0 or v > 4294967295 then
        error("option " .. k .. ": number 0..2^32-1 expected", 3)
    end
    return v
end

-- One declaration at a time: another module may have declared some already.
for _, decl in ipairs({
    "unsigned int geteuid(void);",
    "unsigned int getegid(void);",
    "struct tlsr_passwd_head { char *pw_name; };",
    "struct tlsr_passwd_head *getpwuid(unsigned int uid);",
    "struct tlsr_passwd_head *getgrgid(unsigned int gid);",
}) do
    pcall(ffi.cdef, decl)
end

-- The account name of an id (pw_name / gr_name are the first fields of
-- glibc's and musl's struct passwd and struct group), or the number.
local function name_of(p, id)
    if p ~= nil and p.pw_name ~= nil then
        return ffi_string(p.pw_name)
    end
    return tostring(id)
end

-- In nginx, a store directory the workers may not use gets the fix: who
-- the workers run as, and the command that makes the directory for them.
worker_hint = function(path, code, msg)
    if not (ngx and ngx.worker) then
        return ""
    end
    local perm = code == -19 -- TLSR_EPERM
        or msg:find("Permission denied", 1, true)
        or msg:find("owned by", 1, true)
    if not perm then
        return ""
    end
    local uid, gid = ffi.C.geteuid(), ffi.C.getegid()
    local user = name_of(ffi.C.getpwuid(uid), uid)
    local group = name_of(ffi.C.getgrgid(gid), gid)
    return (" (nginx workers run as user %s here: nginx.conf's `user`, "
        .. "`nobody` by default; create the directory for them: "
        .. "install -d -m 0700 -o %s -g %s %s)"):format(user, user, group,
                                                          path)
end

function _M.open(T, path, opts)
    local C = T.C
    if type(path) ~= "string" then
        error("bad argument #1 to 'store' (string expected)", 3)
    end
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #2 to 'store' (table expected)", 3)
    end
    local o = ffi_new("struct tlsr_store_options")
    C.tlsr_store_options_init(o)
    local key -- kept alive until open returns
    if opts then
        o.max_tickets = u32(opts, "max_tickets", o.max_tickets)
        o.max_entries = u32(opts, "max_entries", o.max_entries)
        o.max_lifetime = u32(opts, "max_lifetime", o.max_lifetime)
        if opts.lean then
            o.flags = bit.bor(o.flags, C.TLSR_STORE_LEAN)
        end
        if opts.seal_key ~= nil then
            if type(opts.seal_key) ~= "string" then
                error("option seal_key: string expected", 3)
            end
            key = opts.seal_key
            o.seal_key = key
            o.seal_key_len = #key
        end
    end
    local err = ffi_new("struct tlsr_error")
    local p = C.tlsr_store_open(path, o, err)
    if p == nil then
        local _, msg, code = T._fail(err)
        return nil, msg .. worker_hint(path, code, msg), code
    end
    return setmetatable({ T = T, p = ffi_gc(p, C.tlsr_store_free) }, Store)
end

local function check_open(self)
    if getmetatable(self) ~= Store then
        error("store method called without a store (use st:method())", 3)
    end
    if self.p == nil then
        error("store is closed", 3)
    end
    return self.p
end

-- The trust rule (resty.tlsresume's comment) as the core's records: ngx_lua
-- has no SSL* to read a policy from, so both sides are labels (opts.trust,
-- for the lua_ssl_trusted_certificate in force) and the verify flag the
-- caller passes to sslhandshake.  A session filed by another binding (with
-- a certificate anchor) goes only to lookups that do not verify.  opts:
-- {verify =, trust =}.
function Store:put(host, port, sess, scope, opts)
    local p = check_open(self)
    local ok, bad, code = self.T._check_key(host, port, scope)
    local s = self.T._check_session(sess, 3, "put")
    if not ok then
        return nil, bad, code
    end
    local T, C = self.T, self.T.C
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
    -- The record goes on a copy: the caller's session stays as it was.
    local copy = C.tlsr_session_dup(s, err)
    if copy == nil then
        return T._fail(err)
    end
    local rc = C.tlsr_session_set1_trust(copy, made, err)
    if rc == 0 then
        rc = C.tlsr_store_put(p, host, port, scope, copy, err)
    end
    C.tlsr_session_free(copy)
    if rc ~= 0 then
        return T._fail(err)
    end
    return true
end

local function lookup(self, take, host, port, scope, opts)
    local p = check_open(self)
    local ok, bad, code = self.T._check_key(host, port, scope)
    if not ok then
        return nil, bad, code
    end
    local T, C = self.T, self.T.C
    local verify, label = T._trust_opts(opts, take and "take" or "get")
    local policy = nil
    if verify then
        local perr, pcode
        policy, perr, pcode = T._label_trust(true, host, label)
        if not policy then
            return nil, perr, pcode
        end
    end
    local err = ffi_new("struct tlsr_error")
    local s = take and C.tlsr_store_take(p, host, port, scope, policy, nil,
                                         err)
        or C.tlsr_store_get(p, host, port, scope, policy, nil, err)
    if s == nil then
        return self.T._fail(err)
    end
    return ffi_gc(s, C.tlsr_session_free)
end

function Store:get(host, port, scope, opts)
    return lookup(self, false, host, port, scope, opts)
end

function Store:take(host, port, scope, opts)
    return lookup(self, true, host, port, scope, opts)
end

function Store:remove(host, port, scope)
    local p = check_open(self)
    local ok, bad, code = self.T._check_key(host, port, scope)
    if not ok then
        return nil, bad, code
    end
    local err = ffi_new("struct tlsr_error")
    local n = self.T.C.tlsr_store_remove(p, host, port, scope, err)
    if n < 0 then
        return self.T._fail(err)
    end
    return tonumber(n)
end

function Store:prune()
    local p = check_open(self)
    local err = ffi_new("struct tlsr_error")
    local n = self.T.C.tlsr_store_prune(p, err)
    if n < 0 then
        return self.T._fail(err)
    end
    return tonumber(n)
end

function Store:count()
    local p = check_open(self)
    local err = ffi_new("struct tlsr_error")
    local n = self.T.C.tlsr_store_count(p, err)
    if n < 0 then
        return self.T._fail(err)
    end
    return tonumber(n)
end

--- entries() -> array of {host, port, scope, sealed, info}
function Store:entries()
    local p = check_open(self)
    local C = self.T.C
    local err = ffi_new("struct tlsr_error")
    local it = C.tlsr_store_iter_new(p, err)
    if it == nil then
        return self.T._fail(err)
    end
    it = ffi_gc(it, C.tlsr_store_iter_free)
    local e = ffi_new("struct tlsr_store_entry")
    local out = {}
    while true do
        local r = C.tlsr_store_iter_next(it, e, err)
        if r < 0 then
            return self.T._fail(err)
        elseif r == 0 then
            break
        end
        out[#out + 1] = {
            host = ffi_string(e.host),
            port = tonumber(e.port),
            scope = ffi_string(e.context), -- the C field is the scope
            sealed = e.sealed ~= 0,
            info = self.T._info_table(e.info),
        }
    end
    C.tlsr_store_iter_free(ffi_gc(it, nil))
    return out
end

function Store:close()
    if self.p ~= nil then
        local p = self.p
        self.p = nil
        self.T.C.tlsr_store_free(ffi_gc(p, nil))
    end
end

return _M
