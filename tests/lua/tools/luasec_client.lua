-- One LuaSec client connection in its own process, for cross-process
-- resumption specs.  usage:
--   lua luasec_client.lua PORT 1.2|1.3 SESS_IN|- SESS_OUT|- [pem|der]
-- Prints "client_reused=true|false", "server=Reused|New" (the s_server
-- -www page's own verdict) and "saved=..." lines; exits 1 on failure.
local here = arg[0]:match("^(.*)/") or "."
dofile(here .. "/../helper.lua")
local socket = require "socket"
local ssl = require "ssl"
local T = require "tlsresume"

local port, version = tonumber(arg[1]), arg[2]
local sess_in, sess_out, fmt = arg[3], arg[4], arg[5] or "pem"

local tcp = assert(socket.tcp())
tcp:settimeout(10)
assert(tcp:connect("127.0.0.1", port))
local conn = assert(ssl.wrap(tcp, {
    mode = "client",
    protocol = version == "1.3" and "tlsv1_3" or "tlsv1_2",
    verify = "none",
    options = "all",
}))
if sess_in ~= "-" then
    local sess = assert(T.load(sess_in))
    assert(T.set_session(conn, sess))
end
assert(conn:dohandshake())
print("client_reused=" .. tostring(T.session_reused(conn)))
assert(conn:send("GET / HTTP/1.0\r\n\r\n"))
-- Reading the page also reads the TLS 1.3 tickets sent after the handshake.
local page, err, partial = conn:receive("*a")
page = page or partial or ""
local body = page:match("HTTP/1%.0 200 ok(.*)$") or ""
print("server=" .. tostring(body:match("\n(Reused), ")
                            or body:match("\n(New), ")))
if sess_out ~= "-" then
    local sess = assert(T.get_session(conn))
    assert(T.save(sess_out, sess, fmt))
    print("saved=" .. T.inspect(sess).protocol_name)
end
conn:close()
