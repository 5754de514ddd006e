-- Client sessions in Redis from Lua: tlsresume.redis (C module) and, under
-- LuaJIT, resty.tlsresume.redis (FFI), over Debian's lua-redis against a
-- real redis-server started here (free port, password), with sessions from
-- real s_servers.  Same entries and scripts as Python's RedisStore.
local S = require "support"

-- Debian's lua-redis installs for 5.1-5.3; it is plain Lua that 5.4 runs.
if not pcall(require, "redis") then
    package.path = package.path .. ";/usr/share/lua/5.3/?.lua"
end
local redis = require "redis"
local socket = require "socket"

local function free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

local function start_redis(dir, port, password)
    local pid = S.spawn(("redis-server --port %d --bind 127.0.0.1 "
        .. "--requirepass %s --save '' --appendonly no --daemonize no")
        :format(port, password), dir .. "/redis-" .. port .. ".log")
    for _ = 1, 200 do
        local ok, c = pcall(redis.connect, "127.0.0.1", port)
        if ok then
            c:auth(password)
            return pid, c
        end
        S.sleep(0.05)
    end
    S.kill(pid)
    error("redis-server did not start")
end

local backends = {
    { name = "tlsresume.redis", R = require("tlsresume.redis"),
      T = require("tlsresume") },
}
if jit then
    backends[#backends + 1] = { name = "resty.tlsresume.redis",
        R = require("resty.tlsresume.redis"), T = require("resty.tlsresume"),
        opts = { verify = false } }    -- unverified test handshakes
end

describe("redis store", function()
    local dir, srv12, srv13, pid, port, client
    local password = "pw" .. tostring(os.time())

    setup(function()
        dir = S.tmpdir()
        srv12 = S.s_server(dir, "1.2")
        srv13 = S.s_server(dir, "1.3")
        port = free_port()
        pid, client = start_redis(dir, port, password)
    end)

    teardown(function()
        if srv12 then srv12.stop() end
        if srv13 then srv13.stop() end
        S.kill(pid)
        S.rmdir(dir)
    end)

    for _, b in ipairs(backends) do
        local R, T, o = b.R, b.T, b.opts
        local function fresh(v)
            local srv = v == "1.3" and srv13 or srv12
            return assert(T.deserialize(S.fresh_session(srv.port, v))),
                srv.port
        end

        describe(b.name, function()
            before_each(function() client:flushall() end)

            for _, v in ipairs({ "1.2", "1.3" }) do
                it("puts, gets and takes TLS " .. v .. " sessions that "
                   .. "resume", function()
                    for _, key in ipairs({ false, ("k"):rep(32) }) do
                        local st = assert(R.new(client,
                            { seal_key = key or nil }))
                        local sess, p = fresh(v)
                        assert(st:put("localhost", p, sess, nil, o))
                        assert(st:get("localhost", p, nil, o))
                        local taken = assert(st:take("localhost", p, nil, o))
                        local verdict = S.luasec_connect(p, v,
                            require("tlsresume").deserialize(
                                assert(T.serialize(taken))))
                        assert.equal("Reused", verdict)
                        local again, _, code = st:take("localhost", p, nil,
                                                       o)
                        if v == "1.3" then
                            assert.is_nil(again)      -- single use
                            assert.equal(T.codes.ENOTFOUND, code)
                        else
                            assert.truthy(again)      -- reused
                        end
                        client:flushall()
                    end
                end)
            end

            it("keeps the store file's bytes (openssl sess_id reads them) "
               .. "and the expiry as the TTL", function()
                local st = assert(R.new(client, { prefix = "t:" }))
                local sess, p = fresh("1.2")
                assert(st:put("localhost", p, sess, "h2", o))
                local k = "t:" .. require("tlsresume_core").entry_key(
                    "localhost", p, "h2") .. ":s"
                local v = assert(client:get(k))
                assert.truthy(v:find("^tlsresume%-store%-entry 1\nhost "
                                     .. "localhost\n"))
                local f = dir .. "/entry"
                S.write(f, v)
                local ok, out = S.run("openssl sess_id -noout -text -in "
                                      .. f)
                assert.is_true(ok, out)
                assert.truthy(out:find("TLSv1.2", 1, true))
                local ttl = client:ttl(k)
                assert.truthy(ttl > 0 and ttl <= 7 * 86400)
                assert.is_nil((st:get("localhost", p, nil, o)))  -- scope
            end)

            it("hands each ticket out once", function()
                local st = assert(R.new(client))
                local p
                for _ = 1, 3 do
                    local sess
                    sess, p = fresh("1.3")
                    assert(st:put("localhost", p, sess, nil, o))
                end
                local seen = {}
                for _ = 1, 3 do
                    local s = assert(st:take("localhost", p, nil, o))
                    local t = assert(T.ticket(s))
                    assert.is_nil(seen[t])
                    seen[t] = true
                end
                assert.is_nil((st:take("localhost", p, nil, o)))
            end)

            it("unusable values are misses, never a raise", function()
                local a = assert(R.new(client, { seal_key = ("a"):rep(32) }))
                local bb = assert(R.new(client, { seal_key = ("b"):rep(32) }))
                local sess, p = fresh("1.3")
                assert(a:put("localhost", p, sess, nil, o))
                assert.is_nil((bb:take("localhost", p, nil, o)))
                local k = "tlsresume:" .. require("tlsresume_core").entry_key(
                    "localhost", p, "")
                for _, junk in ipairs({ "", "x", ("\0"):rep(300),
                                        "tlsresume-store-entry 1\n" }) do
                    client:del(k)
                    client:lpush(k, junk)
                    assert.is_nil((a:take("localhost", p, nil, o)))
                    assert.is_nil((a:get("localhost", p, nil, o)))
                end
                client:del(k)
                client:hset(k, "x", "y")
                client:hset(k .. ":s", "x", "y")
                assert.is_nil((a:get("localhost", p, nil, o)))
                assert.is_nil((a:take("localhost", p, nil, o)))
                local ok, msg = a:put("localhost", p, sess, nil, o)
                assert.is_nil(ok)
                assert.truthy(msg)
            end)

            it("Redis gone is nil, msg, EIO: no raise", function()
                local p2 = free_port()
                local pid2, c2 = start_redis(dir, p2, password)
                local st = assert(R.new(c2))
                local sess, p = fresh("1.2")
                assert(st:put("localhost", p, sess, nil, o))
                S.kill(pid2)
                local s, msg, code = st:take("localhost", p, nil, o)
                assert.is_nil(s)
                assert.equal(T.codes.EIO, code)
                assert.truthy(msg:find("redis", 1, true))
                local ok, _, pcode = st:put("localhost", p, sess, nil, o)
                assert.is_nil(ok)
                assert.equal(T.codes.EIO, pcode)
            end)

            it("checks its arguments", function()
                assert.has_error(function() R.new(nil) end)
                assert.has_error(function() R.new(client, 1) end)
                local st, msg = R.new(client, { seal_key = "short" })
                assert.is_nil(st)
                assert.truthy(msg)
                st = assert(R.new(client))
                assert.has_error(function() st:get(1, 2) end)
                local s, _, code = st:get("a\0b", 443)
                assert.is_nil(s)
                assert.equal(T.codes.EINVAL, code)
            end)
        end)
    end
end)

describe("redis scripts", function()
    it("lua/tlsresume/redis_scripts.lua carries python/tlsresume/"
       .. "redis_scripts/ verbatim, with their SHA-1", function()
        local scripts = dofile(S.root .. "/lua/tlsresume/redis_scripts.lua")
        for _, name in ipairs({ "get", "put", "take" }) do
            local path = S.root .. "/python/tlsresume/redis_scripts/" .. name
                .. ".lua"
            assert.is_true(scripts[name].text == S.read(path),
                           "run `make redis-scripts`")
            local _, out = S.run("sha1sum " .. S.sh_quote(path))
            assert.equal(out:match("^(%x+)"), scripts[name].sha1)
        end
    end)
end)
