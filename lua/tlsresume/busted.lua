--- busted helpers for tlsresume.probe (issue 11).
--
--   local tb = require "tlsresume.busted"     -- registers assert.resumes
--   local srv = tb.server({ tls = "1.3" })    -- a local openssl s_server
--   assert.resumes(srv.host, srv.port, { cafile = srv.cafile })
--   assert.is_not.resumes(...)                -- nothing resumed at all
--   srv:stop()
--
-- The failure message says what happened ("0/5 TLS 1.3 resumptions; 0
-- tickets per connection (TLS 1.3); ...").
local tlsresume = require "tlsresume"
local say = require "say"
local luassert = require "luassert"

local M = {}

local function count_text(c, label)
    if type(c) == "table" and c.attempts then
        return ("%d/%d %s"):format(c.resumed, c.attempts, label)
    end
end

--- One line on what a probe report saw.
function M.describe(r)
    local parts = {}
    local function add(x)
        if x then
            parts[#parts + 1] = x
        end
    end
    add(count_text(r.session_id, "session-ID resumptions"))
    add(count_text(r.ticket_tls12, "TLS 1.2 ticket resumptions"))
    add(count_text(r.tls13, "TLS 1.3 resumptions"))
    for _, v in ipairs({ "tls1.2", "tls1.3" }) do
        local per = r.tickets_per_connection[v]
        if #per > 0 then
            local seen, list = {}, {}
            for _, n in ipairs(per) do
                if not seen[n] then
                    seen[n] = true
                    list[#list + 1] = n
                end
            end
            table.sort(list)
            add(("%s tickets per connection (%s)"):format(
                table.concat(list, "/"), v:gsub("tls", "TLS ")))
        end
    end
    if r.ticket_key_names.same_across_connections == false then
        add("key name changed between connections")
    end
    if r.ticket_key_names.same_across_addresses == false then
        add("key names differ between addresses")
    end
    for _, f in ipairs(r.failures) do
        add(f)
    end
    return table.concat(parts, "; ")
end

-- assert.resumes(host, port [, opts]): every mechanism probed resumed in
-- every try.  Negated: no mechanism resumed at all.
local function resumes(state, args)
    local host, port, opts = args[1], args[2], args[3]
    local r, err = tlsresume.probe(host, port, opts)
    if not r then
        args[1] = ("%s:%s cannot be probed: %s"):format(host, port, err)
        args.n = 1
        return state.mod == false and false or false
    end
    local any = false
    for _, k in ipairs({ "session_id", "ticket_tls12", "tls13" }) do
        local c = r[k]
        if type(c) == "table" and c.resumed and c.resumed > 0 then
            any = true
        end
    end
    args[1] = ("%s:%s: %s"):format(host, port, M.describe(r))
    args.n = 1
    if state.mod then
        return r.exit_status == 0
    end
    return any                  -- negated: fails when anything resumed
end

say:set("assertion.resumes.positive", "Expected to resume every time: %s")
say:set("assertion.resumes.negative", "Expected no resumption: %s")
luassert:register("assertion", "resumes", resumes,
                  "assertion.resumes.positive", "assertion.resumes.negative")

local function sh_quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- A local `openssl s_server` on 127.0.0.1 (ephemeral port) with a fresh
-- self-signed certificate.  opts: tls ("1.2"|"1.3"), tickets (default
-- true), cache (default true), early_data, num_tickets.  Returns
-- { host, port, cafile, pid, stop = function }.
function M.server(opts)
    opts = opts or {}
    local p = assert(io.popen("mktemp -d /tmp/tlsr-busted.XXXXXX"))
    local dir = p:read("*l")
    p:close()
    local cert, key, log = dir .. "/cert.pem", dir .. "/key.pem",
                           dir .. "/server.log"
    assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s"
        .. " -out %s -days 2 -subj /CN=localhost -addext"
        .. " subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1")
        :format(sh_quote(key), sh_quote(cert))))
    local args = { "openssl s_server -accept 127.0.0.1:0 -cert", sh_quote(cert),
                   "-key", sh_quote(key) }
    if opts.tls == "1.2" then args[#args + 1] = "-tls1_2" end
    if opts.tls == "1.3" then args[#args + 1] = "-tls1_3" end
    if opts.tickets == false then args[#args + 1] = "-no_ticket" end
    if opts.cache == false then args[#args + 1] = "-no_cache" end
    if opts.num_tickets then
        args[#args + 1] = "-num_tickets " .. math.floor(opts.num_tickets)
    end
    -- s_server cannot combine -early_data with -www; keep stdin open.
    args[#args + 1] = opts.early_data and "-early_data" or "-www"
    p = assert(io.popen("setsid sh -c " .. sh_quote(
        "tail -f /dev/null | exec " .. table.concat(args, " ") .. " >"
        .. sh_quote(log) .. " 2>&1") .. " & echo $!"))
    local pid = tonumber(p:read("*l"))
    p:close()
    local srv = { host = "127.0.0.1", cafile = cert, pid = pid, dir = dir }
    function srv.stop()
        -- The whole process group (setsid): s_server and its stdin feeder.
        os.execute("kill -- -" .. pid .. " 2>/dev/null")
        os.execute("rm -rf " .. sh_quote(dir))
    end
    for _ = 1, 200 do
        local f = io.open(log)
        local text = f and f:read("*a") or ""
        if f then f:close() end
        local port = text:match("ACCEPT 127%.0%.0%.1:(%d+)")
        if port then
            srv.port = tonumber(port)
            return srv
        end
        os.execute("sleep 0.05")
    end
    srv.stop()
    error("openssl s_server did not start")
end

return M
