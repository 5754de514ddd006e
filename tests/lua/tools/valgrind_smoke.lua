-- Exercises the C module under valgrind (make test-lua runs it): parsing
-- mangled and malformed bytes, tickets, LuaSec resumption and the store.
-- Any invalid access or definite leak fails the run.
dofile((os.getenv("TLSR_ROOT") or ".") .. "/tests/lua/helper.lua")
local S = require "support"
local T = require "tlsresume"
local good = S.read(S.vectors .. "/sessions/openssl-tls13-ec.der")
math.randomseed(7)
for n = 0, #good, 3 do local s = T.deserialize(good:sub(1, n)); if s then T.inspect(s); T.serialize(s, "pem") end end
for _ = 1, 300 do
  local i = math.random(1, #good)
  local b = good:sub(1, i-1) .. string.char(math.random(0,255)) .. good:sub(i+1)
  local s = T.deserialize(b); if s then T.inspect(s); T.serialize(s); T.ticket(s); tostring(s) end
  T.inspect(b)
end
for _, row in ipairs(S.manifest()) do
  local b = S.read(S.vectors .. "/" .. row.file)
  if row.format == "TICKET" then T.ticket_decrypt(b, S.read(S.vectors .. "/" .. row.key_file), ({OPENSSL80="openssl80",NGINX48="nginx48",NODE48="node48"})[row.key_format]) else T.inspect(b) end
end
local d = S.tmpdir()
local srv = S.s_server(d, "1.3")
local ok, err = pcall(function() -- the server is stopped whatever happens
    local v1, s1 = S.luasec_connect(srv.port, "1.3")
    local v2 = S.luasec_connect(srv.port, "1.3", s1)
    assert(v1 == "New" and v2 == "Reused", tostring(v1) .. " " .. tostring(v2))
    os.execute("mkdir -m 700 " .. d .. "/st")
    local st = assert(T.store(d .. "/st", { seal_key = ("k"):rep(32) }))
    assert(st:put("h", 1, s1))
    st:entries(); st:get("h", 1); st:take("h", 1); st:count(); st:prune()
    st:close()
    -- the probe (issue 11) through the C module: a report and an error
    local r = assert(T.probe("127.0.0.1", srv.port, { insecure = true,
                                                      tries = 1 }))
    assert(r.tls13.resumed == 1, r.json)
    assert(T.probe("127.0.0.1", 1, { timeout = 1 }) == nil)
end)
srv.stop()
S.rmdir(d)
assert(ok, err)
collectgarbage()
print("valgrind smoke: ok")
