-- Shared helpers for the Lua specs: files, the vector manifest, temporary
-- directories, and real servers on 127.0.0.1 (ephemeral ports, always
-- killed).  Works under Lua 5.4 and LuaJIT.
local S = {}

S.root = os.getenv("TLSR_ROOT") or "."
S.build = os.getenv("TLSR_BUILD") or (S.root .. "/build")
S.vectors = S.root .. "/tests/vectors"
S.lua = jit and "luajit" or "lua5.4"

function S.read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

function S.write(path, data)
    local f = assert(io.open(path, "wb"))
    f:write(data)
    f:close()
end

function S.sh_quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns ok, combined output.  The exit status is
-- echoed and parsed: LuaJIT's popen close() does not report it.
function S.run(cmd)
    local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"@rc=$?\""))
    local out = p:read("*a")
    p:close()
    local rc = out:match("@rc=(%d+)%s*$")
    out = out:gsub("@rc=%d+%s*$", "")
    return rc == "0", out
end

function S.sleep(sec)
    os.execute("sleep " .. sec)
end

function S.tmpdir()
    local p = assert(io.popen("mktemp -d /tmp/tlsr-lua.XXXXXX"))
    local d = p:read("*l")
    p:close()
    return d
end

function S.rmdir(d)
    if d and d:match("^/tmp/tlsr%-lua%.") then
        os.execute("rm -rf " .. S.sh_quote(d))
    end
end

-- The manifest as an array of rows keyed by column name.
function S.manifest()
    local rows, cols = {}, nil
    for line in io.lines(S.vectors .. "/manifest.tsv") do
        local fields = {}
        for f in (line .. "\t"):gmatch("([^\t]*)\t") do
            fields[#fields + 1] = f
        end
        if not cols then
            cols = fields
        else
            local row = {}
            for i, c in ipairs(cols) do
                row[c] = fields[i]
            end
            rows[#rows + 1] = row
        end
    end
    return rows
end

-- Waits (bounded) until file contains pattern; returns the capture or nil.
function S.wait_for(path, pattern, tries)
    for _ = 1, tries or 100 do
        local f = io.open(path, "rb")
        if f then
            local s = f:read("*a")
            f:close()
            local m = s:match(pattern)
            if m then
                return m
            end
        end
        S.sleep(0.05)
    end
    return nil
end

-- Starts a command in the background (its own process group); returns pid.
function S.spawn(cmd, log)
    local p = assert(io.popen("setsid sh -c " .. S.sh_quote(
        "exec " .. cmd .. " >" .. S.sh_quote(log) .. " 2>&1 </dev/null")
        .. " & echo $!"))
    local pid = tonumber(p:read("*l"))
    p:close()
    return pid
end

-- Stops what S.spawn started: its whole process group (nginx's workers
-- outlive a killed master), then the pid itself.
function S.kill(pid)
    if pid then
        os.execute("kill -- -" .. pid .. " " .. pid .. " 2>/dev/null;"
                   .. " sleep 0.1; kill -9 -- -" .. pid .. " " .. pid
                   .. " 2>/dev/null")
    end
end

-- An `openssl s_server -www` on 127.0.0.1, ephemeral port.  version is
-- "1.2" or "1.3".  Its pages say "Reused, ..." or "New, ..." from the
-- server's own SSL_session_reused().  Returns {port=, pid=, log=, stop=}.
function S.s_server(dir, version, extra)
    local log = dir .. "/s_server-" .. version .. ".log"
    local cmd = table.concat({
        "openssl s_server -www -accept 127.0.0.1:0",
        "-cert", S.vectors .. "/certs/ec.crt",
        "-key", S.vectors .. "/certs/ec.key",
        version == "1.3" and "-tls1_3" or "-tls1_2",
        extra or "",
    }, " ")
    local pid = S.spawn(cmd, log)
    local port = S.wait_for(log, "ACCEPT 127%.0%.0%.1:(%d+)", 200)
    local srv = { pid = pid, port = tonumber(port), log = log }
    function srv.stop()
        S.kill(pid)
    end
    if not srv.port then
        srv.stop()
        error("s_server did not start: " .. (S.read(log) or ""))
    end
    return srv
end

-- openssl s_client against port; returns its output.
function S.s_client(port, version, args)
    local ok, out = S.run(("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
        .. "timeout 10 openssl s_client -connect 127.0.0.1:%d %s -ign_eof %s")
        :format(port, version == "1.3" and "-tls1_3" or "-tls1_2", args or ""))
    return out, ok
end

-- The server's verdict in an s_server -www page: "Reused" or "New".
function S.server_verdict(page)
    page = page and (page:match("HTTP/1%.0 200 ok(.*)$") or page)
    return page and (page:match("\n(Reused), ") or page:match("\n(New), "))
end

-- A LuaSec client connection to 127.0.0.1:port (needs the C module).
function S.luasec_connect(port, version, sess)
    local socket = require "socket"
    local ssl = require "ssl"
    local T = require "tlsresume"
    local tcp = assert(socket.tcp())
    tcp:settimeout(10)
    assert(tcp:connect("127.0.0.1", port))
    local conn = assert(ssl.wrap(tcp, {
        mode = "client",
        protocol = version == "1.3" and "tlsv1_3" or "tlsv1_2",
        verify = "none",
        options = "all",
    }))
    if sess then
        assert(T.set_session(conn, sess))
    end
    assert(conn:dohandshake())
    assert(conn:send("GET / HTTP/1.0\r\n\r\n"))
    local page, _, partial = conn:receive("*a")
    page = page or partial
    local out = assert(T.get_session(conn))
    conn:close()
    return S.server_verdict(page), out
end

-- A fresh resumable session from an s_server, as DER bytes.
function S.fresh_session(port, version)
    local _, sess = S.luasec_connect(port, version)
    return assert(require("tlsresume").serialize(sess))
end

return S
