-- Resumption never weakens verification (issue 8, finding 1), LuaSec: a
-- session made by a connection that did not verify is never offered to
-- one that verifies (store take with the connection, and set_session).
local S = require "support"
local T = require "tlsresume"
local socket = require "socket"
local ssl = require "ssl"

local function wrap(port, version, verify, cafile)
    local tcp = assert(socket.tcp())
    tcp:settimeout(10)
    assert(tcp:connect("127.0.0.1", port))
    return assert(ssl.wrap(tcp, {
        mode = "client",
        protocol = version == "1.3" and "tlsv1_3" or "tlsv1_2",
        verify = verify and "peer" or "none",
        cafile = cafile,
        options = "all",
    }))
end

for _, version in ipairs({ "1.2", "1.3" }) do
    describe("trust rule, LuaSec, TLS " .. version, function()
        local dir, srv

        setup(function()
            dir = S.tmpdir()
            srv = S.s_server(dir, version)
        end)

        teardown(function()
            if srv then srv.stop() end
            S.rmdir(dir)
        end)

        it("regression: an unverified session is not resumed by a verifying connection", function()
            local st = assert(T.store(dir .. "/store"))
            local _, sess = S.luasec_connect(srv.port, version)
            assert.is_true(st:put("localhost", srv.port, sess))
            -- A verifying connection (trusting the server's own
            -- certificate) is offered nothing from this store...
            local strict = wrap(srv.port, version, true, S.vectors .. "/certs/ec.crt")
            local got, err, code = st:take("localhost", srv.port, nil, strict)
            assert.is_nil(got)
            assert.equals(T.codes.ETRUST, code, err)
            -- ...and refuses the session handed to it directly.
            local ok, err2, code2 = T.set_session(strict, sess)
            assert.is_nil(ok)
            assert.equals(T.codes.ETRUST, code2, err2)
            strict:close()
            -- A non-verifying connection still gets it, and resumes.
            local loose = wrap(srv.port, version, false)
            got = assert(st:take("localhost", srv.port, nil, loose))
            assert.is_true(T.set_session(loose, got))
            assert(loose:dohandshake())
            assert.is_true(T.session_reused(loose))
            loose:close()
            st:close()
        end)
    end)
end
