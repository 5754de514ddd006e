-- Lua <-> Python: a session saved by the Python package (ssl + tlsresume)
-- resumes in a Lua process (LuaSec) and the other way round, against real
-- openssl s_servers, checked on the server's side.  Uses the installed
-- package if python3 can import it, else builds it into a temporary dir.
local S = require "support"

if jit then
    return -- the C module is the same code under both VMs; once is enough
end

local PY = os.getenv("PYTHON") or "python3"

local function lua_client(port, version, sess_in, sess_out)
    local _, out = S.run(table.concat({
        S.lua, S.sh_quote(S.root .. "/tests/lua/tools/luasec_client.lua"),
        port, version, sess_in or "-", sess_out or "-",
    }, " "))
    return out
end

describe("Python interop", function()
    local dir, pyenv = nil, ""

    setup(function()
        dir = S.tmpdir()
        if not S.run(PY .. " -c 'import tlsresume'") then
            local target = dir .. "/py"
            local ok, out = S.run(("%s -m pip install -q --no-deps "
                .. "--disable-pip-version-check --root-user-action=ignore "
                .. "--target %s %s"):format(PY, S.sh_quote(target),
                                            S.sh_quote(S.root)))
            assert(ok, "building the Python package failed:\n" .. out)
            pyenv = "PYTHONPATH=" .. S.sh_quote(target) .. " "
        end
    end)

    teardown(function()
        S.rmdir(dir)
    end)

    local function py_client(port, version, sess_in, sess_out)
        local _, out = S.run(table.concat({
            "cd /tmp &&", pyenv .. PY,
            S.sh_quote(S.root .. "/tests/lua/tools/py_client.py"),
            port, version, sess_in or "-", sess_out or "-",
        }, " "))
        return out
    end

    for _, v in ipairs({ "1.2", "1.3" }) do
        describe("TLS " .. v, function()
            local srv

            setup(function()
                srv = S.s_server(dir, v)
            end)

            teardown(function()
                if srv then srv.stop() end
            end)

            it("a Python-saved session resumes in Lua (LuaSec)", function()
                local file = dir .. "/py-" .. v .. ".pem"
                local out = py_client(srv.port, v, nil, file)
                assert.truthy(out:find("server=New", 1, true), out)
                local lout = lua_client(srv.port, v, file, nil)
                assert.truthy(lout:find("server=Reused", 1, true), lout)
                assert.truthy(lout:find("client_reused=true", 1, true), lout)
            end)

            it("a Lua-saved session resumes in Python", function()
                local file = dir .. "/lua-" .. v .. ".pem"
                local lout = lua_client(srv.port, v, nil, file)
                assert.truthy(lout:find("server=New", 1, true), lout)
                local out = py_client(srv.port, v, file, nil)
                assert.truthy(out:find("server=Reused", 1, true), out)
                assert.truthy(out:find("client_reused=true", 1, true), out)
            end)
        end)
    end
end)
