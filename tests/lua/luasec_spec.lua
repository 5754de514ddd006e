-- LuaSec 1.2 client connections against real `openssl s_server`s on
-- 127.0.0.1: sessions saved by one process resume in another (Lua and
-- openssl s_client both ways), checked on the server's side (its -www page
-- says Reused/New from its own SSL_session_reused()).
local S = require "support"
local T = require "tlsresume"
local socket = require "socket"
local ssl = require "ssl"

local function client(port, version, sess_in, sess_out)
    local ok, out = S.run(table.concat({
        S.lua, S.sh_quote(S.root .. "/tests/lua/tools/luasec_client.lua"),
        port, version, sess_in or "-", sess_out or "-",
    }, " "))
    return {
        ok = ok,
        out = out,
        client_reused = out:match("client_reused=(%a+)"),
        server = out:match("server=(%a+)"),
    }
end

local function wrap(port, version)
    local tcp = assert(socket.tcp())
    tcp:settimeout(10)
    assert(tcp:connect("127.0.0.1", port))
    return assert(ssl.wrap(tcp, {
        mode = "client",
        protocol = version == "1.3" and "tlsv1_3" or "tlsv1_2",
        verify = "none",
        options = "all",
    }))
end

for _, version in ipairs({ "1.2", "1.3" }) do
    describe("LuaSec, TLS " .. version, function()
        local dir, srv

        setup(function()
            dir = S.tmpdir()
            srv = S.s_server(dir, version)
        end)

        teardown(function()
            if srv then srv.stop() end
            S.rmdir(dir)
        end)

        it("a session saved by one Lua process resumes in another", function()
            local file = dir .. "/lua.pem"
            local first = client(srv.port, version, nil, file)
            assert.is_true(first.ok, first.out)
            assert.are.equal("New", first.server, first.out)
            local second = client(srv.port, version, file, nil)
            assert.is_true(second.ok, second.out)
            assert.are.equal("Reused", second.server, second.out)
            assert.are.equal("true", second.client_reused, second.out)
        end)

        it("saves session files 0600", function()
            local file = dir .. "/mode.pem"
            assert.is_true(client(srv.port, version, nil, file).ok)
            local ok, out = S.run("stat -c %a " .. S.sh_quote(file))
            assert.is_true(ok)
            assert.are.equal("600", out:match("%d+"))
        end)

        it("a Lua-saved session resumes in openssl s_client -sess_in",
           function()
            local file = dir .. "/for-s_client.pem"
            assert.is_true(client(srv.port, version, nil, file).ok)
            local out = S.s_client(srv.port, version,
                                   "-sess_in " .. S.sh_quote(file))
            assert.are.equal("Reused", S.server_verdict(out), out)
        end)

        it("an openssl s_client -sess_out session resumes in Lua", function()
            local file = dir .. "/from-s_client.pem"
            local out = S.s_client(srv.port, version,
                                   "-sess_out " .. S.sh_quote(file))
            assert.are.equal("New", S.server_verdict(out), out)
            local r = client(srv.port, version, file, nil)
            assert.are.equal("Reused", r.server, r.out)
            assert.are.equal("true", r.client_reused, r.out)
        end)

        it("in one process: get_session, set_session, session_reused",
           function()
            local c1 = wrap(srv.port, version)
            assert(c1:dohandshake())
            assert.is_false(T.session_reused(c1))
            if version == "1.3" then
                -- No ticket read yet: not resumable, said clearly.
                local s, err, code = T.get_session(c1)
                assert.is_nil(s)
                assert.truthy(err:find("ticket"))
                assert.are.equal(T.codes.ENOTRESUMABLE, code)
                -- Chains report that first error, not "bad argument".
                local file = dir .. "/chained.pem"
                local ok, cerr, ccode = T.save(file, T.get_session(c1))
                assert.is_nil(ok)
                assert.are.equal(err, cerr)
                assert.are.equal(T.codes.ENOTRESUMABLE, ccode)
                assert.is_nil(io.open(file))
                local b, berr = T.serialize(T.get_session(c1))
                assert.is_nil(b)
                assert.are.equal(err, berr)
                local i, ierr = T.inspect(T.get_session(c1))
                assert.is_nil(i)
                assert.are.equal(err, ierr)
            end
            assert(c1:send("GET / HTTP/1.0\r\n\r\n"))
            c1:receive("*a")
            local sess = assert(T.get_session(c1))
            assert.is_true(T.inspect(sess).resumable)
            -- set_session after the handshake is misuse.
            assert.has_error(function() T.set_session(c1, sess) end)
            c1:close()
            local der = assert(T.serialize(sess))
            local c2 = wrap(srv.port, version)
            -- set_session(conn, load(missing)): load's error comes back.
            local ok, lerr, lcode = T.set_session(c2, T.load(dir .. "/none"))
            assert.is_nil(ok)
            assert.truthy(lerr:find("none", 1, true), lerr)
            assert.are.equal(T.codes.EIO, lcode)
            assert.is_true(T.set_session(c2, der)) -- bytes work too
            -- get_session before the handshake is misuse.
            assert.has_error(function() T.get_session(c2) end)
            assert(c2:dohandshake())
            assert.is_true(T.session_reused(c2))
            assert(c2:send("GET / HTTP/1.0\r\n\r\n"))
            local page = c2:receive("*a")
            assert.are.equal("Reused", S.server_verdict(page))
            c2:close()
            -- A closed connection is rejected, not touched.
            assert.has_error(function() T.get_session(c2) end,
                             nil)
        end)
    end)
end

describe("LuaSec connection checks", function()
    it("rejects what is not a LuaSec connection, with an error", function()
        local sess = assert(T.deserialize(S.read(S.vectors
            .. "/sessions/openssl-tls13-ec.der")))
        assert.has_error(function() T.get_session(sess) end)
        assert.has_error(function() T.get_session(socket.tcp()) end)
        assert.has_error(function() T.get_session(io.stdout) end)
        assert.has_error(function() T.get_session({}) end)
        assert.has_error(function() T.get_session(nil) end)
    end)

    it("rejects a userdata whose layout is not LuaSec 1.2's", function()
        -- A foreign userdata dressed up with LuaSec's metatable.
        local mt = debug.getregistry()["SSL:Connection"]
        assert.is_table(mt)
        local f = io.tmpfile()
        local saved = debug.getmetatable(f)
        debug.setmetatable(f, mt)
        local ok, err = pcall(T.get_session, f)
        debug.setmetatable(f, saved)
        f:close()
        assert.is_false(ok)
        assert.truthy(tostring(err):find("unsupported LuaSec version"), err)
    end)
end)
