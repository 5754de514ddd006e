-- The FFI binding's ffi.cdef text must be the header's TLSR_CDEF block,
-- byte for byte (regenerate with `make lua-cdef`), and LuaJIT must accept
-- the header's block as it is.
local S = require "support"
local block_of = dofile(S.root .. "/tests/lua/tools/cdef_block.lua").extract

describe("FFI cdef", function()
    local header = S.read(S.root .. "/csrc/tlsresume.h")

    it("lua/resty/tlsresume/cdef.lua equals the header's block", function()
        local block = assert(block_of(header))
        local copy = dofile(S.root .. "/lua/resty/tlsresume/cdef.lua")
        assert.are.equal(#block, #copy, "run `make lua-cdef`")
        assert.is_true(block == copy, "run `make lua-cdef`")
    end)

    it("without libtlsresume.so, require says where it looked and what to "
       .. "do", function()
        -- A copy of lua/ with no build/ next to it, nothing on cpath.
        local d = S.tmpdir()
        assert(S.run("cp -r " .. S.sh_quote(S.root .. "/lua") .. " "
                     .. S.sh_quote(d .. "/lua")))
        local ok, out = S.run("cd / && env -u TLSRESUME_LIB luajit -e "
            .. S.sh_quote(("package.path = %q; package.cpath = %q; "
                           .. "require 'resty.tlsresume'")
                          :format(d .. "/lua/?.lua", d .. "/none/?.so")))
        S.rmdir(d)
        assert.is_false(ok, out)
        assert.truthy(out:find("cannot load libtlsresume.so", 1, true), out)
        assert.truthy(out:find("$TLSRESUME_LIB (not set)", 1, true), out)
        assert.truthy(out:find(d .. "/none/?.so", 1, true), out)
        assert.truthy(out:find("build/libtlsresume.so (exists after `make "
                               .. "lib`)", 1, true), out)
        assert.truthy(out:find("system loader", 1, true), out)
    end)

    it("ffi.cdef accepts the header's block in a fresh LuaJIT", function()
        local ok, out = S.run("TLSR_HEADER="
            .. S.sh_quote(S.root .. "/csrc/tlsresume.h")
            .. " luajit -e " .. S.sh_quote([[
            local ffi = require "ffi"
            local f = assert(io.open(os.getenv("TLSR_HEADER"), "rb"))
            local text = f:read("*a")
            f:close()
            local b1, b2 = text:find("/* TLSR_CDEF_BEGIN */\n", 1, true)
            local e1 = text:find("/* TLSR_CDEF_END */", 1, true)
            ffi.cdef(text:sub(b2 + 1, e1 - 1))
            assert(ffi.sizeof("struct tlsr_error") == 260)
            print("cdef ok")
        ]]))
        assert.is_true(ok, out)
        assert.truthy(out:find("cdef ok"), out)
    end)

    if jit then
        it("every function in the block resolves in libtlsresume.so",
           function()
            local R = require "resty.tlsresume"
            local ffi = require "ffi"
            local missing = {}
            for name in dofile(S.root .. "/lua/resty/tlsresume/cdef.lua")
                :gmatch("[%w_%*%s]-[%s%*](tlsr_[%w_]+)%s*%(") do
                if not pcall(function() return R.C[name] end) then
                    missing[#missing + 1] = name
                end
            end
            assert.are.same({}, missing)
            assert.is_true(ffi.sizeof("struct tlsr_session_info") > 0)
        end)
    end
end)
