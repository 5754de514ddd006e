-- Demo resumer (Lua 5.4 + LuaSec): offer a saved session file to the server.
--   lua5.4 examples/resume.lua HOST PORT FILE CAFILE
-- package.path / cpath must reach lua/ and the built tlsresume_core module
-- (examples/demo.sh sets LUA_PATH and LUA_CPATH).  Prints the demo's line:
-- "New"/"Reused", the server's own verdict, the client CPU times.
local socket = require "socket"
local ssl = require "ssl"
local tlsresume = require "tlsresume"

local host, port, path, cafile = arg[1], tonumber(arg[2]), arg[3], arg[4]

local tcp = assert(socket.tcp())
tcp:settimeout(10)
assert(tcp:connect(host, port))
local conn = assert(ssl.wrap(tcp, {
    mode = "client", protocol = "any", verify = "peer", cafile = cafile,
    options = {"all", "no_sslv2", "no_sslv3"},
}))
-- Timed after ssl.wrap, which pays OpenSSL's one-time initialisation.
local t0 = os.clock()
local sess = assert(tlsresume.load(path))
local load_us = (os.clock() - t0) * 1e6
assert(tlsresume.set_session(conn, sess))
t0 = os.clock()
assert(conn:dohandshake())
local hs_us = (os.clock() - t0) * 1e6
local reused = tlsresume.session_reused(conn)
assert(conn:send("GET / HTTP/1.0\r\n\r\n"))
local page, _, partial = conn:receive("*a")
page = page or partial or ""
conn:close()
local server = page:match("\n(Reused, [^\r\n]*)") or page:match("\n(New, [^\r\n]*)")
print(string.format("resume %s handshake_cpu_us=%.0f load_cpu_us=%.0f server=%s",
    reused and "Reused" or "New", hs_us, load_us, server or "none"))
