-- tlsresume.probe from Lua (issue 11): the busted helper's assert.resumes
-- and local server, bad targets (nil, msg, code), and a pool matrix
-- against nginx listening on 127.0.0.1 and 127.0.0.2 with the same ticket
-- key file and with different ones (Lua 5.4 only: the C module is the same
-- code under LuaJIT, and nginx takes a while).
local tlsresume = require "tlsresume"
local tb = require "tlsresume.busted"
local S = require "support"
local socket = require "socket"

describe("tlsresume.probe", function()
    it("assert.resumes passes against a default s_server", function()
        local srv = tb.server({ tls = "1.3" })
        finally(srv.stop)
        assert.resumes(srv.host, srv.port, { cafile = srv.cafile, tries = 2 })
        local r = assert(tlsresume.probe(srv.host, srv.port,
                                         { cafile = srv.cafile, tries = 2 }))
        assert.equals(2, r.tls13.resumed)
        assert.same({ 2, 1, 1 }, r.tickets_per_connection["tls1.3"])
        assert.equals(tlsresume.null, r.session_id)
        assert.equals(0, r.exit_status)
    end)

    it("assert.resumes fails with what happened; is_not.resumes passes",
       function()
        local srv = tb.server({ tls = "1.2", tickets = false, cache = false })
        finally(srv.stop)
        local opts = { cafile = srv.cafile, tries = 2 }
        assert.is_not.resumes(srv.host, srv.port, opts)
        local ok, err = pcall(function()
            assert.resumes(srv.host, srv.port, opts)
        end)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("0/2 session-ID resumptions", 1,
                                         true), tostring(err))
    end)

    it("bad targets: nil, one-line message, ECONNECT, within the timeout",
       function()
        local s = assert(socket.bind("127.0.0.1", 0))
        local _, port = s:getsockname()
        s:close()
        local r, msg, code = tlsresume.probe("127.0.0.1", tonumber(port),
                                             { timeout = 1 })
        assert.is_nil(r)
        assert.equals(tlsresume.codes.ECONNECT, code)
        assert.truthy(msg:find("refused"), msg)
        local l = assert(socket.bind("127.0.0.1", 0))   -- never accepts
        local _, lport = l:getsockname()
        local t0 = socket.gettime()
        r, msg = tlsresume.probe("127.0.0.1", tonumber(lport),
                                 { timeout = 0.3 })
        l:close()
        assert.is_nil(r)
        assert.truthy(msg:find("no answer within 300 ms", 1, true), msg)
        assert.is_true(socket.gettime() - t0 < 1.5)
        assert.has_error(function() tlsresume.probe(1, 2) end)
        r, msg = tlsresume.probe("127.0.0.1", 443, { tries = 0 })
        assert.is_nil(r)
    end)
end)

local function free_port_on_both()
    for _ = 1, 50 do
        local a = assert(socket.bind("127.0.0.1", 0))
        local _, port = a:getsockname()
        local b = socket.bind("127.0.0.2", tonumber(port))
        a:close()
        if b then
            b:close()
            return tonumber(port)
        end
    end
end

local NGINX_CONF = [[
@USER@
worker_processes 1;
daemon off;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path @DIR@/body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    ssl_certificate @VECTORS@/certs/ec.crt;
    ssl_certificate_key @VECTORS@/certs/ec.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    # the same key file and session cache on both addresses of port SAME
    server { listen 127.0.0.1:@SAME@ ssl; ssl_session_cache shared:A:1m;
             ssl_session_ticket_key @DIR@/a.key; return 200 "a\n"; }
    server { listen 127.0.0.2:@SAME@ ssl; ssl_session_cache shared:A:1m;
             ssl_session_ticket_key @DIR@/a.key; return 200 "a\n"; }
    # different key files and caches on the addresses of port DIFF
    server { listen 127.0.0.1:@DIFF@ ssl; ssl_session_cache shared:B:1m;
             ssl_session_ticket_key @DIR@/a.key; return 200 "a\n"; }
    server { listen 127.0.0.2:@DIFF@ ssl; ssl_session_cache shared:C:1m;
             ssl_session_ticket_key @DIR@/b.key; return 200 "b\n"; }
    # 0-RTT on (nginx turns OpenSSL's anti-replay off: replays get in)
    server { listen 127.0.0.1:@EARLY@ ssl; ssl_early_data on;
             ssl_session_ticket_key @DIR@/a.key; return 200 "e\n"; }
    # tickets that live two days
    server { listen 127.0.0.1:@LONG@ ssl; ssl_session_timeout 2d;
             ssl_session_ticket_key @DIR@/a.key; return 200 "l\n"; }
}
]]

local found = os.execute("command -v nginx >/dev/null 2>&1")
local describe_nginx = (jit or (found ~= true and found ~= 0)) and pending
                       or describe

describe_nginx("tlsresume.probe, an nginx pool", function()
    local dir, pid, same, diff, long, early

    setup(function()
        dir = S.tmpdir()
        same, diff = free_port_on_both(), free_port_on_both()
        long, early = free_port_on_both(), free_port_on_both()
        local _, uid = S.run("id -u")
        local vars = { DIR = dir, VECTORS = S.vectors, SAME = same,
                       DIFF = diff, LONG = long, EARLY = early,
                       USER = uid:match("^0") and "user root;" or "" }
        S.write(dir .. "/nginx.conf", (NGINX_CONF:gsub("@([%w_]+)@",
            function(k) return tostring(assert(vars[k], k)) end)))
        assert(S.run(("head -c 80 /dev/urandom > %s/a.key && head -c 80"
            .. " /dev/urandom > %s/b.key"):format(dir, dir)))
        pid = S.spawn(("nginx -p %s -c %s/nginx.conf -e %s/error.log")
            :format(dir, dir, dir), dir .. "/nginx.out")
        for _ = 1, 100 do
            local c = socket.tcp()
            c:settimeout(0.2)
            local ok = c:connect("127.0.0.2", diff)
            c:close()
            if ok then
                return
            end
            S.sleep(0.05)
        end
        error("nginx did not start: " .. (S.read(dir .. "/nginx.out") or ""))
    end)

    teardown(function()
        if pid then
            -- Graceful stop, then the whole process group (setsid): no
            -- worker outlives the spec.
            os.execute("kill -QUIT " .. pid .. " 2>/dev/null; for i in $(seq"
                       .. " 30); do kill -0 " .. pid .. " 2>/dev/null ||"
                       .. " break; sleep 0.1; done; kill -9 -- -" .. pid
                       .. " 2>/dev/null")
        end
        if dir then
            S.rmdir(dir)
        end
    end)

    local IPS = { "127.0.0.1", "127.0.0.2" }
    local MECHS = { "ticket_tls12", "tls13" }

    it("session IDs: a shared cache zone resumes across, two do not",
       function()
        local opts = { ips = IPS, insecure = true, tries = 1,
                       mechanisms = { "session_id" } }
        local r = assert(tlsresume.probe("127.0.0.1", same, opts))
        assert.same({ { true, true }, { true, true } },
                    r.cross_address.session_id)
        r = assert(tlsresume.probe("127.0.0.1", diff, opts))
        assert.same({ { true, false }, { false, true } },
                    r.cross_address.session_id)
        assert.equals(1, r.exit_status)
    end)

    it("a shared key file: every address resumes every session", function()
        local r = assert(tlsresume.probe("127.0.0.1", same, {
            ips = IPS, insecure = true, tries = 2, mechanisms = MECHS }))
        for _, v in ipairs({ "tls1.2", "tls1.3" }) do
            assert.same({ { true, true }, { true, true } },
                        r.cross_address[v])
        end
        assert.is_true(r.ticket_key_names.same_across_addresses)
        assert.equals(0, r.exit_status)
        assert.resumes("127.0.0.1", same, { ips = IPS, insecure = true,
                                            tries = 1, mechanisms = MECHS })
    end)

    it("ssl_early_data on: 0-RTT accepted, and a replay too", function()
        local r = assert(tlsresume.probe("127.0.0.1", early, {
            insecure = true, tries = 2, tls = "1.3", early_data = true }))
        assert.equals(16384, r.early_data.advertised_max)
        assert.equals(2, r.early_data.accepted)
        assert.is_true(r.early_data.replay_accepted)
        local found
        for _, w in ipairs(r.warnings) do
            found = found or w:find("0-RTT replay", 1, true)
        end
        assert.truthy(found)
    end)

    it("a lifetime hint over 24 h is a warning", function()
        local r = assert(tlsresume.probe("127.0.0.1", long, {
            insecure = true, tries = 1, mechanisms = MECHS }))
        assert.same({ 172800 }, r.ticket_lifetime_hint["tls1.2"])
        local found
        for _, w in ipairs(r.warnings) do
            found = found or w:find("172800 s is over 24 h", 1, true)
        end
        assert.truthy(found, table.concat(r.warnings, "\n"))
        assert.equals(0, r.exit_status)     -- a warning, not a failure
    end)

    it("different key files: the matrix shows where it breaks", function()
        local r = assert(tlsresume.probe("127.0.0.1", diff, {
            ips = IPS, insecure = true, tries = 2, mechanisms = MECHS }))
        for _, v in ipairs({ "tls1.2", "tls1.3" }) do
            assert.same({ { true, false }, { false, true } },
                        r.cross_address[v])
        end
        assert.is_false(r.ticket_key_names.same_across_addresses)
        assert.equals(1, r.exit_status)
        local ok, err = pcall(function()
            assert.resumes("127.0.0.1", diff, { ips = IPS, insecure = true,
                                                tries = 1,
                                                mechanisms = MECHS })
        end)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("key names differ between"
                                         .. " addresses", 1, true))
    end)
end)
