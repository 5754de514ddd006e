--- resty.tlsresume: tlsresume for OpenResty, pure Lua over LuaJIT's FFI.
--
-- Loads the core's shared library libtlsresume.so, found in this order:
--   1. the TLSRESUME_LIB environment variable (a path; in nginx declare it
--      with `env TLSRESUME_LIB;`),
--   2. package.searchpath("libtlsresume", package.cpath) (luarocks installs
--      it there; or add "<dir>/?.so" to lua_package_cpath),
--   3. <checkout>/build/libtlsresume.so next to this file's lua/ directory,
--   4. the system loader ("libtlsresume.so" on LD_LIBRARY_PATH / ld.so.conf);
-- if none has it, require fails with a message listing each place.
-- build/libtlsresume.so exists only after `make lib` (or make lua-modules).
--
--   local tlsresume = require "resty.tlsresume"
--   local sess, err = sock:sslhandshake(reused, name)   -- cdata void*
--   local der = tlsresume.serialize(sess)               -- "der" or "pem"
--   local s = tlsresume.deserialize(der)                -- cdata, ffi.gc'd
--   sock:sslhandshake(s, name)                          -- resumes
--
-- Failures return nil, message, code (a negative TLSR_E* number); misuse
-- (wrong argument types) raises.  TLS 1.3: the session sslhandshake returns
-- first has no ticket; read a response, then call sslhandshake again for
-- the resumable session.  Stores: tlsresume.store(dir, opts) (the core's
-- on-disk store, resty.tlsresume.dirstore, blocking file I/O),
-- require("resty.tlsresume.shdict") (an ngx.shared.DICT shared by all
-- workers: survives a reload, not a stop/start) and
-- require("resty.tlsresume.tiered") (the shared dict in front of the
-- on-disk store: persists across restarts).
local ffi = require "ffi"

local C_cdef = require "resty.tlsresume.cdef"
ffi.cdef(C_cdef)

local ffi_new, ffi_gc, ffi_string, ffi_cast, ffi_fill =
    ffi.new, ffi.gc, ffi.string, ffi.cast, ffi.fill
local type, tonumber, error = type, tonumber, error

local M = {}

local function this_dir()
    local src = debug.getinfo(1, "S").source
    return src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
end

local function file_exists(path)
    local f = io.open(path, "rb")
    if f then
        f:close()
        return true
    end
    return false
end

-- Returns the path to load, and the places looked at (for the error).
local function find_library()
    local tried = {}
    local env = os.getenv("TLSRESUME_LIB")
    if env and env ~= "" then
        return env, { "$TLSRESUME_LIB=" .. env }
    end
    tried[#tried + 1] = "$TLSRESUME_LIB (not set)"
    local found = package.searchpath
        and package.searchpath("libtlsresume", package.cpath)
    if found then
        return found, tried
    end
    tried[#tried + 1] = "package.cpath (" .. package.cpath .. ")"
    -- lua/resty/tlsresume.lua -> <checkout>/build/libtlsresume.so
    local local_build = this_dir() .. "/../../build/libtlsresume.so"
    if file_exists(local_build) then
        return local_build, tried
    end
    tried[#tried + 1] = local_build .. " (exists after `make lib`)"
    tried[#tried + 1] = "the system loader (libtlsresume.so)"
    return "tlsresume", tried
end

local lib_tried
M.library_path, lib_tried = find_library()
local lib_ok, C = pcall(ffi.load, M.library_path)
if not lib_ok then
    error("resty.tlsresume: cannot load libtlsresume.so (" .. tostring(C)
          .. "); looked at: " .. table.concat(lib_tried, "; ")
          .. ".  Build it with `make lib` (build/libtlsresume.so) or install "
          .. "the rock, then set TLSRESUME_LIB (nginx: `env TLSRESUME_LIB;`) "
          .. "or add its directory to lua_package_cpath.", 0)
end
M.C = C

local err_t = ffi.typeof("struct tlsr_error")
local size_ptr_t = ffi.typeof("size_t[1]")
local buf_t = ffi.typeof("uint8_t[?]")
local sess_ptr_t = ffi.typeof("struct ssl_session_st *")
local void_ptr_t = ffi.typeof("void *")
local ffi_istype = ffi.istype

M.version = ffi_string(C.tlsr_version())
M.openssl_version_num = tonumber(C.tlsr_openssl_version_num())

M.codes = {}
for code = 0, C.TLSR_ESSL, -1 do
    M.codes[ffi_string(C.tlsr_error_name(code)):sub(6)] = code
end

function M.error_name(code)
    if type(code) ~= "number" then
        error("bad argument #1 to 'error_name' (number expected)", 2)
    end
    return ffi_string(C.tlsr_error_name(code))
end

local function fail(err)
    local code = tonumber(err.code)
    local msg = ffi_string(err.msg)
    if msg == "" then
        msg = ffi_string(C.tlsr_error_name(code))
    end
    return nil, msg, code
end
M._fail = fail

-- Sessions released by free(): a cdata pointer cannot be NULLed, so later
-- use of that cdata raises instead of touching freed memory (weak keys).
local freed = setmetatable({}, { __mode = "k" })

-- A session from sslhandshake() (void*) or from deserialize().
local function check_session(sess, n, fname)
    if type(sess) ~= "cdata" then
        error(("bad argument #%d to '%s' (session cdata expected, got %s)")
              :format(n, fname, type(sess)), 3)
    end
    if freed[sess] then
        error(("bad argument #%d to '%s' (session was freed)")
              :format(n, fname), 3)
    end
    -- Only session pointers: sslhandshake's void*, or our own type.  Any
    -- other cdata (a number, an array) is misuse, never cast.
    if not (ffi_istype(sess_ptr_t, sess) or ffi_istype(void_ptr_t, sess)) then
        error(("bad argument #%d to '%s' (session pointer expected, got %s)")
              :format(n, fname, tostring(ffi.typeof(sess))), 3)
    end
    local p = ffi_cast(sess_ptr_t, sess)
    if p == nil then
        error(("bad argument #%d to '%s' (NULL session)"):format(n, fname), 3)
    end
    return p
end
M._check_session = check_session

local TRUST_SEP = "\1"

-- A store key's arguments, shared by the directory, shared-dict and tiered
-- stores.  Wrong types raise (pointing at the store method's caller, level
-- 3); a NUL inside host or scope returns nil, msg, EINVAL: C would cut the
-- string there and hand out another key's sessions.
function M._check_key(host, port, scope)
    if type(host) ~= "string" then
        error("bad argument #1 (host string expected)", 3)
    end
    if type(port) ~= "number" or port < 0 or port > 65535
        or port ~= math.floor(port) then
        error("bad argument #2 (port must be an integer 0..65535)", 3)
    end
    if scope ~= nil and type(scope) ~= "string" then
        error("bad argument (scope string expected)", 3)
    end
    if host:find("\0", 1, true) then
        return nil, "host contains a NUL byte", C.TLSR_EINVAL
    end
    if scope and scope:find("\0", 1, true) then
        return nil, "scope contains a NUL byte", C.TLSR_EINVAL
    end
    if scope and scope:find(TRUST_SEP, 1, true) then
        return nil, "scope contains a \\1 byte (reserved)", C.TLSR_EINVAL
    end
    return true
end

--[[ The trust rule in OpenResty (issue 8): a session resumed skips the
certificate check, so one made by sslhandshake(..., false), or verified
against other trust anchors, must never be offered to sslhandshake(...,
true).  ngx_lua gives no SSL* to read a policy from, so the stores take it
as options: put(..., opts) files a session as verified (under opts.trust,
a label naming the lua_ssl_trusted_certificate in force) when opts.verify
is not false and the session's own verify result is OK, else as
unverified; get/take(..., opts) with opts.verify not false (the default)
return only sessions verified under the same label, with verify = false
any.  The shared dict keeps trust classes apart in its keys, the directory
store in the core's trust records.  Pass the stores the verify you pass to
sslhandshake. ]]
function M._trust_opts(opts, fname)
    if opts ~= nil and type(opts) ~= "table" then
        error(("bad argument (options table expected in '%s')"):format(fname),
              3)
    end
    opts = opts or {}
    local label = opts.trust or ""
    if type(label) ~= "string" or label:find("\0", 1, true) then
        error(("bad option 'trust' in '%s' (string expected)"):format(fname),
              3)
    end
    return opts.verify ~= false, label
end

-- A trust record or policy for the core (struct tlsr_trust) whose anchor is
-- a label: ngx_lua has no SSL* to read either from.  Used by the directory
-- and Redis stores.
function M._label_trust(verify, host, label)
    local t = ffi.new("struct tlsr_trust")
    local err = ffi.new("struct tlsr_error")
    if verify then
        if #host >= 256 then
            return nil, "host name too long", C.TLSR_EINVAL
        end
        t.verify, t.check_host = 1, 1
        ffi.copy(t.host, host)
    end
    if C.tlsr_trust_set_label(t, label, err) ~= 0 then
        return M._fail(err)
    end
    return t
end

-- The key scope a put files sess under.
function M._trust_put_scope(scope, sess, opts)
    local verify, label = M._trust_opts(opts, "put")
    local info, err, code = M.inspect(sess)
    if not info then
        return nil, err, code
    end
    local verified = verify and info.verify_result == 0
    return (scope or "") .. TRUST_SEP .. (verified and "v" .. label or "u")
end

-- The key scopes a lookup may use, most trusted first.
function M._trust_scopes(scope, opts, fname)
    local verify, label = M._trust_opts(opts, fname)
    scope = scope or ""
    local v = scope .. TRUST_SEP .. "v" .. label
    if verify then
        return { v }
    end
    return { scope .. TRUST_SEP .. "u", v }
end

-- f(nil, msg [, code]): a failed call's results passed straight in, as in
-- save(path, sock:sslhandshake(...)).  Chains return that first error
-- instead of raising about the nil.  options: strings that are arguments,
-- not messages (e.g. "pem").
local function passed_error(sess, msg, code, options)
    if sess == nil and type(msg) == "string"
        and not (options and options[msg]) then
        return true, msg, type(code) == "number" and code or nil
    end
end

local formats = { der = C.TLSR_FORMAT_DER, pem = C.TLSR_FORMAT_PEM }

--- serialize(sess [, "der"|"pem" [, lean]]) -> bytes | nil, err, code
function M.serialize(sess, format, lean)
    local passed, msg, code = passed_error(sess, format, lean, formats)
    if passed then
        return nil, msg, code
    end
    local p = check_session(sess, 1, "serialize")
    local fmt = formats[format or "der"]
    if fmt == nil then
        error("bad argument #2 to 'serialize' (\"der\" or \"pem\" expected)", 2)
    end
    local flags = lean and C.TLSR_SERIALIZE_LEAN or 0
    local err, len = err_t(), size_ptr_t()
    if C.tlsr_session_serialize(p, fmt, flags, nil, len, err) ~= 0 then
        return fail(err)
    end
    local n = tonumber(len[0])
    local buf = buf_t(n > 0 and n or 1)
    if C.tlsr_session_serialize(p, fmt, flags, buf, len, err) ~= 0 then
        ffi_fill(buf, n)
        return fail(err)
    end
    local out = ffi_string(buf, len[0])
    ffi_fill(buf, n) -- the DER holds the master secret
    return out
end

--- deserialize(bytes) -> session cdata (ffi.gc'd) | nil, err, code
-- The cdata can be passed to tcpsock:sslhandshake(sess, ...).
function M.deserialize(bytes)
    if type(bytes) ~= "string" then
        error("bad argument #1 to 'deserialize' (string expected, got "
              .. type(bytes) .. ")", 2)
    end
    local err = err_t()
    local p = C.tlsr_session_parse(bytes, #bytes, err)
    if p == nil then
        return fail(err)
    end
    return ffi_gc(p, C.tlsr_session_free)
end

--- free(sess): release a deserialized session now instead of at GC.
-- Freeing again is a no-op; any other later use raises.
function M.free(sess)
    if type(sess) == "cdata" and freed[sess] then
        return
    end
    local p = check_session(sess, 1, "free")
    ffi_gc(sess, nil)
    freed[sess] = true
    C.tlsr_session_free(p)
end

local function hex(ptr, n)
    local s = ffi_string(ptr, n)
    return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- Same field names and encodings as tlsresume_core.c's push_info().
local function info_table(in_)
    local t = {
        protocol_version = tonumber(in_.protocol_version),
        protocol_name = ffi_string(in_.protocol_name),
        cipher_id = tonumber(in_.cipher_id),
        cipher_name = ffi_string(in_.cipher_name),
        cipher_rfc_name = ffi_string(in_.cipher_rfc_name),
        session_id = hex(in_.session_id, math.min(in_.session_id_len, 32)),
        sid_ctx = ffi_string(in_.sid_ctx, math.min(in_.sid_ctx_len, 32)),
        time = tonumber(in_.time),
        timeout = tonumber(in_.timeout),
        expires = tonumber(in_.expires),
        remaining = tonumber(in_.remaining),
        resumable = in_.resumable ~= 0,
        has_ticket = in_.has_ticket ~= 0,
        ticket_len = tonumber(in_.ticket_len),
        ticket_lifetime_hint = tonumber(in_.ticket_lifetime_hint),
        max_early_data = tonumber(in_.max_early_data),
        alpn = ffi_string(in_.alpn),
        sni = ffi_string(in_.sni),
        has_peer = in_.has_peer ~= 0,
        verify_result = tonumber(in_.verify_result),
        extended_master_secret = in_.extended_master_secret ~= 0,
        master_key_len = tonumber(in_.master_key_len),
    }
    -- Not ticket_age_add: RFC 8446 4.6.1 uses it to hide a ticket's age
    -- from observers (the C struct keeps it).
    if t.has_peer then
        t.peer_subject = ffi_string(in_.peer_subject)
        t.peer_issuer = ffi_string(in_.peer_issuer)
        t.peer_not_after = tonumber(in_.peer_not_after)
        t.peer_sha256 = hex(in_.peer_sha256, 32)
    end
    return t
end
M._info_table = info_table

--- inspect(sess_or_bytes [, now]) -> table | nil, err, code
function M.inspect(sess, now, code)
    local passed, msg, c = passed_error(sess, now, code)
    if passed then
        return nil, msg, c
    end
    local p
    if type(sess) == "string" then
        local s, msg, code = M.deserialize(sess)
        if not s then
            return nil, msg, code
        end
        sess = s
    end
    p = check_session(sess, 1, "inspect")
    if now ~= nil and not (type(now) == "number" and now >= 0
                           and now < 9.2e18) then
        error("bad argument #2 to 'inspect' (time in seconds >= 0 expected)",
              2)
    end
    local err, info = err_t(), ffi_new("struct tlsr_session_info")
    if C.tlsr_session_inspect(p, now or 0, info, err) ~= 0 then
        return fail(err)
    end
    return info_table(info)
end

--- set_id_context(sess, sid_ctx) -> true | nil, err, code
function M.set_id_context(sess, ctx)
    local p = check_session(sess, 1, "set_id_context")
    if type(ctx) ~= "string" then
        error("bad argument #2 to 'set_id_context' (string expected)", 2)
    end
    local err = err_t()
    if C.tlsr_session_set1_id_context(p, ctx, #ctx, err) ~= 0 then
        return fail(err)
    end
    return true
end

--- ticket(sess) -> the ticket bytes the server sent ("" if none)
function M.ticket(sess)
    local p = check_session(sess, 1, "ticket")
    local err, len = err_t(), size_ptr_t()
    if C.tlsr_session_get_ticket(p, nil, len, err) ~= 0 then
        return fail(err)
    end
    local n = tonumber(len[0])
    local buf = buf_t(n > 0 and n or 1)
    if C.tlsr_session_get_ticket(p, buf, len, err) ~= 0 then
        return fail(err)
    end
    return ffi_string(buf, len[0])
end

local key_formats = {
    openssl80 = C.TLSR_KEYS_OPENSSL80,
    nginx48 = C.TLSR_KEYS_NGINX48,
    node48 = C.TLSR_KEYS_NODE48,
}

--- ticket_decrypt(ticket, keys, format) -> server-side session | nil, err,
-- code.  keys: one key file's bytes or an array of them (rotation);
-- format: "openssl80", "nginx48" or "node48".
function M.ticket_decrypt(ticket, keys, format)
    if type(ticket) ~= "string" then
        error("bad argument #1 to 'ticket_decrypt' (string expected)", 2)
    end
    if type(keys) == "string" then
        keys = { keys }
    elseif type(keys) ~= "table" then
        error("bad argument #2 to 'ticket_decrypt' (key bytes expected)", 2)
    end
    for i = 1, #keys do
        if type(keys[i]) ~= "string" then
            error("bad argument #2 to 'ticket_decrypt' (array of key bytes "
                  .. "expected)", 2)
        end
    end
    local fmt = key_formats[format]
    if fmt == nil then
        error("bad argument #3 to 'ticket_decrypt' (\"openssl80\", "
              .. "\"nginx48\" or \"node48\" expected)", 2)
    end
    local err = err_t()
    local k = C.tlsr_ticket_keys_new(err)
    if k == nil then
        return fail(err)
    end
    k = ffi_gc(k, C.tlsr_ticket_keys_free)
    for i = 1, #keys do
        if C.tlsr_ticket_keys_add(k, keys[i], #keys[i], fmt, err) ~= 0 then
            return fail(err)
        end
    end
    local p = C.tlsr_ticket_decrypt(k, ticket, #ticket, err)
    if p == nil then
        return fail(err)
    end
    return ffi_gc(p, C.tlsr_session_free)
end

--- ticket_parse(ticket) -> {key_name=hex, iv=hex, ciphertext_len=, mac=hex}
function M.ticket_parse(ticket)
    if type(ticket) ~= "string" then
        error("bad argument #1 to 'ticket_parse' (string expected)", 2)
    end
    local err, info = err_t(), ffi_new("struct tlsr_ticket_info")
    if C.tlsr_ticket_parse(ticket, #ticket, info, err) ~= 0 then
        return fail(err)
    end
    return {
        key_name = hex(info.key_name, 16),
        iv = hex(info.iv, 16),
        ciphertext_len = tonumber(info.ciphertext_len),
        mac = hex(info.mac, 32),
    }
end

--- save(path, sess [, "pem"|"der"]) -> true | nil, err, code
-- Writes the session to path, mode 0600, through a new temporary file
-- renamed into place (tlsr_file_write_private): a file, FIFO, symlink or
-- hard link at path that is not this user's own regular file is refused
-- (EPERM), never opened.  Blocking file I/O.
function M.save(path, sess, format, code)
    if type(path) ~= "string" then
        error("bad argument #1 to 'save' (string expected, got "
              .. type(path) .. ")", 2)
    end
    local passed, msg, c = passed_error(sess, format, code, formats)
    if passed then
        return nil, msg, c
    end
    if path:find("\0", 1, true) then
        return nil, "path contains a NUL byte", C.TLSR_EINVAL
    end
    check_session(sess, 2, "save")
    if format ~= nil and not formats[format] then
        error("bad argument #3 to 'save' (\"pem\" or \"der\" expected)", 2)
    end
    local bytes, err, ecode = M.serialize(sess, format or "pem")
    if not bytes then
        return nil, err, ecode
    end
    local e = err_t()
    local rc = C.tlsr_file_write_private(path, bytes, #bytes, e)
    if rc ~= 0 then
        return fail(e)
    end
    return true
end

--- load(path) -> session cdata | nil, err, code (PEM or DER file).
-- Refused (EPERM) unless it is a regular file owned by this user or root
-- that group and others cannot write; a FIFO never blocks.
function M.load(path)
    if type(path) ~= "string" then
        error("bad argument #1 to 'load' (string expected)", 2)
    end
    if path:find("\0", 1, true) then
        return nil, "path contains a NUL byte", C.TLSR_EINVAL
    end
    local cap = C.TLSR_MAX_INPUT
    local buf, len, e = buf_t(cap), size_ptr_t(), err_t()
    len[0] = cap
    if C.tlsr_file_read_private(path, buf, len, e) ~= 0 then
        ffi_fill(buf, cap)
        return fail(e)
    end
    local p = C.tlsr_session_parse(buf, len[0], e)
    ffi_fill(buf, cap) -- the file holds the master secret
    if p == nil then
        return fail(e)
    end
    return ffi_gc(p, C.tlsr_session_free)
end

--- store(path [, opts]) -> the core's on-disk store (blocking file I/O).
function M.store(path, opts)
    return require("resty.tlsresume.dirstore").open(M, path, opts)
end

return M
