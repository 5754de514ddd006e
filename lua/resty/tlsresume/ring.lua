--- resty.tlsresume.ring: ticket key rings over LuaJIT's FFI (the core's
-- tlsr_ring_*).  OpenResty has no ticket key API: nginx reads its
-- ssl_session_ticket_key files at (re)load, so a ring reaches nginx as an
-- export followed by a reload (see `tlsresume keys rotate --export-nginx`).
--
--   local ring = require "resty.tlsresume.ring"
--   ring.init(path, {period = 3600, keep = 43200, format = "nginx80"})
--   local r = assert(ring.open(path))
--   r:keys([now])          -- { {name=16 bytes, role=, start=, ["end"]=,
--                          --    expires=}, ... } oldest first
--   r:rotate([force])      -- true if the ring changed
--   r:export("nginx80", dir)   -- number of keys written (0.key encrypts)
--   r:decrypt(ticket)      -- the session inside (cdata, for inspection)
-- Failures return nil, message, code; never a secret.
local ffi = require "ffi"
local base = require "resty.tlsresume"

local C, fail = base.C, base._fail
local ffi_gc, ffi_new, ffi_string = ffi.gc, ffi.new, ffi.string
local type, tonumber, error, setmetatable = type, tonumber, error,
    setmetatable

local err_t = ffi.typeof("struct tlsr_error")

local M = {}

local INIT_FORMATS = { openssl80 = C.TLSR_KEYS_OPENSSL80,
                       nginx80 = C.TLSR_KEYS_OPENSSL80,
                       nginx48 = C.TLSR_KEYS_NGINX48,
                       node48 = C.TLSR_KEYS_NODE48 }
local EXPORT_FORMATS = { nginx80 = C.TLSR_EXPORT_NGINX80,
                         nginx48 = C.TLSR_EXPORT_NGINX48,
                         haproxy = C.TLSR_EXPORT_HAPROXY,
                         node48 = C.TLSR_EXPORT_NODE48 }
local ROLES = { "encrypt", "next", "decrypt", "expired" }

local function check_now(now, i, fn)
    if now ~= nil and type(now) ~= "number" then
        error("bad argument #" .. i .. " to '" .. fn .. "' (number expected)",
              3)
    end
    return now or 0
end

--- init(path [, {period=, keep=, format=}]) -> true | nil, err, code
function M.init(path, opts)
    if type(path) ~= "string" then
        error("bad argument #1 to 'init' (string expected)", 2)
    end
    opts = opts or {}
    local o = ffi_new("struct tlsr_ring_options")
    C.tlsr_ring_options_init(o)
    if opts.period ~= nil then o.period = opts.period end
    if opts.keep ~= nil then o.keep = opts.keep end
    if opts.format ~= nil then
        o.format = INIT_FORMATS[opts.format]
            or error("bad option format (nginx80, openssl80, nginx48 or "
                     .. "node48 expected)", 2)
    end
    local err = err_t()
    if C.tlsr_ring_init(path, o, err) ~= 0 then
        return fail(err)
    end
    return true
end

local Ring = {}
Ring.__index = Ring

--- open(path) -> ring | nil, err, code
function M.open(path)
    if type(path) ~= "string" then
        error("bad argument #1 to 'open' (string expected)", 2)
    end
    local err = err_t()
    local r = C.tlsr_ring_open(path, err)
    if r == nil then
        return fail(err)
    end
    return setmetatable({ ring = ffi_gc(r, C.tlsr_ring_free) }, Ring)
end

function Ring:keys(now)
    now = check_now(now, 1, "keys")
    local out, k, err = {}, ffi_new("struct tlsr_ring_key"), err_t()
    local i = 0
    while true do
        local rc = C.tlsr_ring_key_get(self.ring, i, now, k, err)
        if rc < 0 then
            return fail(err)
        elseif rc == 0 then
            return out
        end
        i = i + 1
        out[i] = { name = ffi_string(k.name, 16), role = ROLES[k.role] or "?",
                   start = tonumber(k.start), ["end"] = tonumber(k["end"]),
                   expires = tonumber(k.expires) }
    end
end

function Ring:rotate(force, now)
    local err = err_t()
    local rc = C.tlsr_ring_rotate(self.ring, check_now(now, 2, "rotate"),
                                  force and 1 or 0, err)
    if rc < 0 then
        return fail(err)
    end
    return rc == 1
end

function Ring:export(format, dir, now)
    local f = EXPORT_FORMATS[format]
    if f == nil then
        error("bad argument #1 to 'export' (nginx80, nginx48, haproxy or "
              .. "node48 expected)", 2)
    end
    if type(dir) ~= "string" then
        error("bad argument #2 to 'export' (string expected)", 2)
    end
    local err = err_t()
    local n = C.tlsr_ring_export(self.ring, f, dir,
                                 check_now(now, 3, "export"), err)
    if n < 0 then
        return fail(err)
    end
    return tonumber(n)
end

function Ring:decrypt(ticket, now)
    if type(ticket) ~= "string" then
        error("bad argument #1 to 'decrypt' (string expected)", 2)
    end
    local err = err_t()
    local keys = C.tlsr_ring_ticket_keys(self.ring,
                                         check_now(now, 2, "decrypt"), err)
    if keys == nil then
        return fail(err)
    end
    keys = ffi_gc(keys, C.tlsr_ticket_keys_free)
    local p = C.tlsr_ticket_decrypt(keys, ticket, #ticket, err)
    if p == nil then
        return fail(err)
    end
    return ffi_gc(p, C.tlsr_session_free)
end

function Ring:close()
    if self.ring ~= nil then
        C.tlsr_ring_free(ffi_gc(self.ring, nil))
        self.ring = nil
    end
end

Ring.__tostring = function()
    return "resty.tlsresume.ring"
end

return M
