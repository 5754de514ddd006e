-- `luarocks make` builds and installs the rock into a temporary tree (no
-- rocks server needed), for Lua 5.4 and for LuaJIT (the 5.1 ABI), and the
-- installed modules work from there: the C module, and the FFI binding
-- finding the installed libtlsresume.so through package.cpath.
local S = require "support"

if jit then
    return -- one run (under Lua 5.4) covers both VMs
end

local function rockspec()
    local ok, out = S.run("cd " .. S.sh_quote(S.root)
                          .. " && ls tlsresume-*.rockspec")
    assert(ok, out)
    return out:match("(%S+%.rockspec)")
end

describe("rockspec", function()
    local tree

    setup(function()
        tree = S.tmpdir()
    end)

    teardown(function()
        S.rmdir(tree)
    end)

    local probe = [[
        local b = io.open(os.getenv("V"), "rb"):read("*a")
        local C = require "tlsresume"
        assert(package.searchpath("tlsresume_core", package.cpath)
               :find(os.getenv("TREE"), 1, true))
        print("C " .. C.inspect(b).protocol_name)
        assert(package.searchpath("tlsresume.redis", package.path)
               :find(os.getenv("TREE"), 1, true))
        assert(require("tlsresume.redis").new)
        if jit then
            local R = require "resty.tlsresume"
            assert(R.library_path:find(os.getenv("TREE"), 1, true))
            print("FFI " .. R.inspect(b).protocol_name)
            assert(require("resty.tlsresume.tiered").new)
            assert(require("resty.tlsresume.redis").new)
        end
    ]]

    for _, case in ipairs({ { "5.4", "lua5.4" }, { "5.1", "luajit" } }) do
        local lua_version, interp = case[1], case[2]
        local has_headers = io.open("/usr/include/lua" .. lua_version
                                    .. "/lua.h")
        if has_headers then
            has_headers:close()
        end
        local test = has_headers and it or pending
        test("luarocks make --lua-version " .. lua_version .. " works for "
           .. interp, function()
            local t = tree .. "/" .. lua_version
            local ok, out = S.run(("cd %s && luarocks make --tree %s "
                .. "--lua-version %s %s"):format(S.sh_quote(S.root),
                S.sh_quote(t), lua_version, rockspec()))
            assert.is_true(ok, out)
            local ok2, out2 = S.run(("cd /tmp && eval \"$(luarocks --tree %s "
                .. "--lua-version %s path)\" && V=%s TREE=%s %s -e %s")
                :format(S.sh_quote(t), lua_version,
                        S.sh_quote(S.vectors .. "/sessions/openssl-tls13-ec.der"),
                        S.sh_quote(t), interp, S.sh_quote(probe)))
            assert.is_true(ok2, out2)
            assert.truthy(out2:find("C TLSv1.3", 1, true), out2)
            if interp == "luajit" then
                assert.truthy(out2:find("FFI TLSv1.3", 1, true), out2)
            end
        end)
    end
end)
