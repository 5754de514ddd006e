--- A two-tier session store for OpenResty: the shared dict (fast, all
-- workers, gone when nginx stops) in front of the core's on-disk store
-- (persists across nginx stop/start and reboots).
--
--   lua_shared_dict tls_sessions 1m;
--   -- once per worker (init_worker_by_lua*) or per request:
--   local tiered = require "resty.tlsresume.tiered"
--   local st = assert(tiered.new("tls_sessions", "/var/cache/nginx/tls"))
--   local sess = st:take(host, port)             -- shared dict, then disk
--   ... sock:sslhandshake(sess, host) ...; st:put(host, port, new)
--
-- put() writes both tiers.  get()/take() look in the shared dict first and
-- fall back to the directory; a session found only on disk is copied into
-- the dict (unless take() consumed it: a TLS 1.3 ticket is single use).  A
-- TLS 1.3 ticket taken from the dict is also taken from the directory, so
-- the tiers hold the same tickets and a restart does not offer a used one
-- again (concurrent puts for one key from two workers can order the tiers
-- differently; then a ticket may be offered twice after a restart, which
-- costs at most a full handshake).  The directory calls block on file I/O
-- only on a put, a dict miss or a TLS 1.3 take.  The directory must belong
-- to the workers' user (0700; see resty.tlsresume.dirstore).
local T = require "resty.tlsresume"
local shdict = require "resty.tlsresume.shdict"
local ffi = require "ffi"

local type, error, setmetatable = type, error, setmetatable

local _M = {}
local Store = {}
Store.__index = Store

local brief_t = ffi.typeof("struct tlsr_session_brief")

-- TLS 1.3 sessions are single-use tickets.
local function is_ticket(sess)
    local b = brief_t()
    return T.C.tlsr_session_get_brief(T._check_session(sess, 1, "tiered"),
                                      b, nil) == 0
        and b.protocol_version >= 0x0304
end

--- new(dict_or_name, dir_or_store [, opts]) -> store | nil, err, code
-- opts: max_tickets, max_lifetime, lean (both tiers), prefix (the dict's
-- key prefix), seal_key, max_entries (the directory).
function _M.new(dict, dir, opts)
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #3 to 'new' (table expected)", 2)
    end
    opts = opts or {}
    local disk
    if type(dir) == "string" then
        local err, code
        disk, err, code = T.store(dir, {
            max_tickets = opts.max_tickets, max_entries = opts.max_entries,
            max_lifetime = opts.max_lifetime, seal_key = opts.seal_key,
            lean = opts.lean,
        })
        if not disk then
            return nil, err, code
        end
    elseif type(dir) == "table" and type(dir.take) == "function" then
        disk = dir
    else
        error("bad argument #2 to 'new' (directory path or store expected)",
              2)
    end
    local mem = shdict.new(dict, {
        max_tickets = opts.max_tickets, max_lifetime = opts.max_lifetime,
        lean = opts.lean, prefix = opts.prefix,
    })
    return setmetatable({ mem = mem, disk = disk }, Store)
end

--- put(host, port, sess [, scope [, opts]]) -> true | nil, err, code (both tiers)
function Store:put(host, port, sess, scope, opts)
    local ok, err, code = self.mem:put(host, port, sess, scope, opts)
    if not ok and (code == T.codes.EINVAL or code == T.codes.ENOTRESUMABLE)
    then
        return nil, err, code
    end
    local dok, derr, dcode = self.disk:put(host, port, sess, scope, opts)
    if not dok then
        return nil, derr, dcode
    end
    if not ok then
        return nil, err, code
    end
    return true
end

local function lookup(self, take, host, port, scope, opts)
    local mem, disk = self.mem, self.disk
    local s, err, code = (take and mem.take or mem.get)(mem, host, port,
                                                        scope, opts)
    if s then
        if take and is_ticket(s) then
            local copy = disk:take(host, port, scope, opts) -- keep the tiers in step
            if copy then
                T.free(copy)
            end
        end
        return s
    end
    if code ~= T.codes.ENOTFOUND then
        return nil, err, code
    end
    s, err, code = (take and disk.take or disk.get)(disk, host, port, scope,
                                                      opts)
    if s and not (take and is_ticket(s)) then
        mem:put(host, port, s, scope, opts) -- warm the dict; best effort
    end
    return s, err, code
end

--- get(host, port [, scope]) -> session cdata, left in the store
function Store:get(host, port, scope, opts)
    return lookup(self, false, host, port, scope, opts)
end

--- take(host, port [, scope]) -> the session to resume with (a TLS 1.3
-- ticket is removed from both tiers)
function Store:take(host, port, scope, opts)
    return lookup(self, true, host, port, scope, opts)
end

--- remove(host, port [, scope]) -> entries removed (the larger tier's count)
function Store:remove(host, port, scope, opts)
    local n, err, code = self.mem:remove(host, port, scope, opts)
    if not n then
        return nil, err, code
    end
    local m, derr, dcode = self.disk:remove(host, port, scope, opts)
    if not m then
        return nil, derr, dcode
    end
    return n > m and n or m
end

--- prune() -> expired entries removed from both tiers (walks both: timers)
function Store:prune()
    local n = self.mem:prune()
    local m, err, code = self.disk:prune()
    if not m then
        return nil, err, code
    end
    return n + m
end

--- count() and entries(): the directory's (it holds every session).
function Store:count()
    return self.disk:count()
end

function Store:entries()
    return self.disk:entries()
end

--- close() closes the directory store (the dict stays).
function Store:close()
    if self.disk.close then
        self.disk:close()
    end
end

return _M
