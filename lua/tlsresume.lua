--- tlsresume: save, restore and inspect TLS sessions from Lua (5.4, 5.1/LuaJIT).
--
-- A thin C module (tlsresume_core) over the tlsresume core; this file adds
-- the conveniences.  Runtime failures return nil, message, code (code is a
-- negative TLSR_E* number, see tlsresume.codes / tlsresume.error_name);
-- misuse (wrong argument types) raises.
--
--   local tlsresume = require "tlsresume"
--   local der = tlsresume.serialize(sess)            -- "der" (default) or "pem"
--   local sess, err, code = tlsresume.deserialize(der)
--   local info = tlsresume.inspect(sess_or_bytes)    -- table of the core's fields
--
-- LuaSec 1.2 client connections (LuaSec has no session API):
--   local conn = ssl.wrap(tcp, params)
--   tlsresume.set_session(conn, sess_or_bytes)       -- before dohandshake
--   conn:dohandshake()
--   tlsresume.session_reused(conn)                   -- true / false
--   tlsresume.send_early(conn, req [, alpn])         -- before dohandshake
--   tlsresume.early_data_status(conn)                -- after it
--   local sess = tlsresume.get_session(conn)         -- TLS 1.3: after a receive
--
-- The on-disk store (the core's tlsr_store_*):
--   local st = tlsresume.store(dir, {max_tickets=8, seal_key=key32})
--   st:put(host, port, sess [, scope]); st:take(host, port [, scope])
-- (scope: an optional string that keeps sessions apart, e.g. a client
-- identity; a session is only offered under the key it was stored with).
--
-- Chains report the first error: tlsresume.save(path, tlsresume.get_session(
-- conn)) returns get_session's nil, msg, code when it failed.
local core = require "tlsresume_core"

local M = {
    version = core.version,
    openssl_version_num = core.openssl_version_num,
    codes = core.codes,             -- { OK = 0, EINVAL = -1, ... }
    error_name = core.error_name,   -- -14 -> "TLSR_EMAC"
    serialize = core.serialize,     -- (sess [, "der"|"pem" [, lean]])
    deserialize = core.deserialize, -- (bytes) -> session
    inspect = core.inspect,         -- (sess_or_bytes [, now]) -> table
    set_id_context = core.set_id_context,
    ticket = core.ticket,           -- (sess) -> the server's ticket bytes
    -- Server side: (ticket, key_bytes_or_array, "openssl80"|"nginx48"|
    -- "node48") -> the session inside the ticket.
    ticket_decrypt = core.ticket_decrypt,
    ticket_parse = core.ticket_parse, -- (ticket) -> {key_name, iv, ...}
    get_session = core.luasec_get_session,
    session_reused = core.luasec_session_reused,
    -- TLS 1.3 0-RTT on LuaSec: (conn, data) before dohandshake() -> bytes
    -- sent early (0: not possible); early_data_status(conn) after it ->
    -- "accepted" | "rejected" (send again) | "not sent".
    send_early = core.luasec_send_early,
    early_data_status = core.luasec_early_data_status,
    store = core.store_open,        -- (path [, opts]) -> store
    -- Ticket key rings: ring_init(path [, {period=, keep=, format=}]),
    -- ring(path) -> r; r:keys([now]), r:rotate([force]), r:export(format,
    -- dir), r:decrypt(ticket) -> the session inside (inspection).
    ring_init = core.ring_init,
    ring = core.ring_open,
}

-- f(nil, msg [, code]) is how a failed call's results arrive when passed
-- straight in: save(path, get_session(conn)).  Such chains return that
-- first error (nil, msg, code) instead of raising about the nil.
local function passed_error(sess, msg, code, options)
    if sess == nil and type(msg) == "string" and not options[msg] then
        return true, msg, type(code) == "number" and code or nil
    end
end

local FORMATS = { pem = true, der = true }
local NONE = {}

--- Offer a session (userdata, or its PEM/DER bytes) on a LuaSec client
-- connection before dohandshake().
function M.set_session(conn, sess, m, c)
    local passed, msg, code = passed_error(sess, m, c, NONE)
    if passed then
        return nil, msg, code
    end
    if type(sess) == "string" then
        local s, err, ecode = core.deserialize(sess)
        if not s then
            return nil, err, ecode
        end
        sess = s
    end
    return core.luasec_set_session(conn, sess)
end

--- Write a session to path, mode 0600, through a new temporary file renamed
-- into place (tlsr_file_write_private): a file, FIFO, symlink or hard link
-- that exists at path and is not this user's own regular file is refused
-- (nil, msg, tlsresume.codes.EPERM), never opened.
function M.save(path, sess, format, c)
    if type(path) ~= "string" then
        error("bad argument #1 to 'save' (string expected, got "
              .. type(path) .. ")", 2)
    end
    local passed, msg, pcode = passed_error(sess, format, c, FORMATS)
    if passed then
        return nil, msg, pcode
    end
    if type(sess) ~= "userdata" then
        error("bad argument #2 to 'save' (tlsresume.session expected, got "
              .. type(sess) .. ")", 2)
    end
    if format ~= nil and not FORMATS[format] then
        error("bad argument #3 to 'save' (\"pem\" or \"der\" expected)", 2)
    end
    local bytes, err, code = core.serialize(sess, format or "pem")
    if not bytes then
        return nil, err, code
    end
    return core.write_private(path, bytes)
end

--- Read a session file (PEM or DER, e.g. from openssl s_client -sess_out).
-- Refused (nil, msg, EPERM) unless it is a regular file owned by this user
-- or root that group and others cannot write: a session someone else put
-- there would resume with them, no certificate asked.  A FIFO never blocks.
function M.load(path)
    if type(path) ~= "string" then
        error("bad argument #1 to 'load' (string expected)", 2)
    end
    local bytes, err, code = core.read_private(path)
    if not bytes then
        return nil, err, code
    end
    return core.deserialize(bytes)
end

-- ---- probe (issue 11) ------------------------------------------------------
-- tlsresume.probe(host, port [, opts]) -> report table | nil, msg, code
-- opts: sni, ips = {addr...}, all_ips, tries (5), tls ("1.2"|"1.3"),
-- mechanisms = {"session_id"|"ticket_tls12"|"tls13"...}, early_data,
-- request, timeout (seconds, per operation), insecure, cafile.
-- The report has the fields of the JSON schema (docs/probe.md); JSON null
-- is tlsresume.null.  Blocking: Lua 5.4 / LuaJIT scripts and test suites,
-- not OpenResty request handlers (resty.tlsresume leaves it out).
M.null = setmetatable({}, { __tostring = function() return "null" end })

local function json_decode(s)
    local pos = 1
    local value

    local function ws()
        pos = s:find("[^ \t\r\n]", pos) or #s + 1
    end
    local function str()
        local out, i = {}, pos + 1
        while true do
            local c = s:sub(i, i)
            if c == '"' then
                pos = i + 1
                return table.concat(out)
            elseif c == "\\" then
                local e = s:sub(i + 1, i + 1)
                if e == "u" then
                    local code = tonumber(s:sub(i + 2, i + 5), 16)
                    out[#out + 1] = string.char(code < 256 and code or 63)
                    i = i + 6
                else
                    out[#out + 1] = ({ n = "\n", t = "\t", r = "\r",
                                       b = "\b", f = "\f" })[e] or e
                    i = i + 2
                end
            elseif c == "" then
                error("unterminated string in probe report")
            else
                local j = s:find('["\\]', i) or #s + 1
                out[#out + 1] = s:sub(i, j - 1)
                i = j
            end
        end
    end
    function value()
        ws()
        local c = s:sub(pos, pos)
        if c == "{" then
            local t = {}
            pos = pos + 1
            ws()
            if s:sub(pos, pos) == "}" then
                pos = pos + 1
                return t
            end
            while true do
                ws()
                local k = str()
                ws()
                pos = pos + 1               -- ':'
                t[k] = value()
                ws()
                c = s:sub(pos, pos)
                pos = pos + 1
                if c == "}" then
                    return t
                end
            end
        elseif c == "[" then
            local t, n = {}, 0
            pos = pos + 1
            ws()
            if s:sub(pos, pos) == "]" then
                pos = pos + 1
                return t
            end
            while true do
                n = n + 1
                t[n] = value()
                ws()
                c = s:sub(pos, pos)
                pos = pos + 1
                if c == "]" then
                    return t
                end
            end
        elseif c == '"' then
            return str()
        elseif s:sub(pos, pos + 3) == "true" then
            pos = pos + 4
            return true
        elseif s:sub(pos, pos + 4) == "false" then
            pos = pos + 5
            return false
        elseif s:sub(pos, pos + 3) == "null" then
            pos = pos + 4
            return M.null
        end
        local num = s:match("^-?[%d.eE+-]+", pos)
        if not num then
            error("bad probe report at byte " .. pos)
        end
        pos = pos + #num
        return tonumber(num)
    end
    return value()
end

function M.probe(host, port, opts)
    if type(host) ~= "string" then
        error("bad argument #1 to 'probe' (string expected)", 2)
    end
    if type(port) ~= "number" then
        error("bad argument #2 to 'probe' (number expected)", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #3 to 'probe' (table expected)", 2)
    end
    local json, status, code = core.probe(host, port, opts)
    if not json then
        return nil, status, code
    end
    local report = json_decode(json)
    report.json = json
    return report
end
-- ---- end probe -------------------------------------------------------------

return M
