-- TLS 1.3 early data from LuaSec (tlsresume.send_early before dohandshake),
-- judged by `openssl s_server -early_data`, which prints what arrived early
-- ("Early data received").  s_server cannot serve -www with -early_data,
-- and ends at EOF on its stdin: it reads a pipe kept open here.
local S = require "support"
local T = require "tlsresume"
local socket = require "socket"
local ssl = require "ssl"

local function wrap(port, alpn)
    local tcp = assert(socket.tcp())
    tcp:settimeout(10)
    assert(tcp:connect("127.0.0.1", port))
    return assert(ssl.wrap(tcp, {
        mode = "client", protocol = "tlsv1_3", verify = "none",
        options = "all", alpn = alpn,
    }))
end

local function s_server(dir, name, extra)
    local log = dir .. "/s_server-" .. name .. ".log"
    local pid = S.spawn("sh -c " .. S.sh_quote(
        "sleep 120 | openssl s_server -accept 127.0.0.1:0 -tls1_3"
        .. " -early_data -no_anti_replay -cert " .. S.vectors
        .. "/certs/ec.crt -key " .. S.vectors .. "/certs/ec.key" .. extra),
        log)
    local port = tonumber(S.wait_for(log, "ACCEPT 127%.0%.0%.1:(%d+)", 200))
    assert(port, S.read(log))
    return pid, port, log
end

-- A full handshake's session (tickets read), the connection closed.
local function first_session(port, alpn)
    local c = wrap(port, alpn)
    assert(c:dohandshake())
    c:settimeout(0.3)
    c:receive(1)                -- reads the tickets (s_server says nothing)
    local sess = assert(T.get_session(c))
    c:close()
    return sess
end

describe("LuaSec early data (TLS 1.3)", function()
    local dir, pid, port, log

    local apid, aport, alog

    setup(function()
        dir = S.tmpdir()
        -- The session from a LuaSec close (no close_notify) is dropped by
        -- s_server's anti-replay cache: -no_anti_replay.
        pid, port, log = s_server(dir, "early", "")
        apid, aport, alog = s_server(dir, "alpn", " -alpn h2")
    end)

    teardown(function()
        for _, p in ipairs({pid, apid}) do
            os.execute("kill -- -" .. p .. " 2>/dev/null")
        end
        S.rmdir(dir)
    end)

    it("sends early with a session that negotiated ALPN when given the list",
       function()
        local sess = first_session(aport, {"h2"})
        -- OpenSSL cannot read the context's ALPN list back: without it the
        -- session's "h2" cannot be checked, so nothing goes early.
        local d = wrap(aport, {"h2"})
        assert(T.set_session(d, sess))
        assert.are.equal(0, T.send_early(d, "no list\n"))
        d:close()
        sess = first_session(aport, {"h2"})
        d = wrap(aport, {"h2"})
        assert(T.set_session(d, sess))
        assert.are.equal(#"with alpn\n", T.send_early(d, "with alpn\n", {"h2"}))
        assert(d:dohandshake())
        assert.are.equal("accepted", T.early_data_status(d))
        d:close()
        assert.truthy(S.wait_for(alog, "(Early data received)", 100))
        assert.truthy(S.read(alog):find("with alpn", 1, true))
        -- Another list than the session's: nothing early.
        sess = first_session(aport, {"h2"})
        d = wrap(aport, {"h2"})
        assert(T.set_session(d, sess))
        assert.are.equal(0, T.send_early(d, "x", "http/1.1"))
        d:close()
        assert.has_error(function() T.send_early(d, "x", {1}) end)
    end)

    it("sends data before the handshake when the session allows it",
       function()
        local c = wrap(port)
        -- No session: nothing can go early.
        assert.are.equal(0, T.send_early(c, "too soon\n"))
        assert(c:dohandshake())
        assert.are.equal("not sent", T.early_data_status(c))
        c:settimeout(0.3)
        c:receive(1)            -- reads the tickets (s_server says nothing)
        local sess = assert(T.get_session(c))
        assert.is_true(T.inspect(sess).max_early_data > 0)
        c:close()

        local d = wrap(port)
        assert(T.set_session(d, sess))
        assert.are.equal(#"hello early lua\n",
                         T.send_early(d, "hello early lua\n"))
        assert(d:dohandshake())
        assert.is_true(T.session_reused(d))
        assert.are.equal("accepted", T.early_data_status(d))
        d:close()
        assert.truthy(S.wait_for(log, "(Early data received)", 100))
        assert.truthy(S.read(log):find("hello early lua", 1, true))
        -- Misuse raises; after the handshake it is too late.
        assert.has_error(function() T.send_early(d, "x") end)
    end)
end)
