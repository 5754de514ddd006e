-- busted helper (--helper=tests/lua/helper.lua): points package.path and
-- package.cpath at this checkout, for Lua 5.4 and for LuaJIT.
--   TLSR_ROOT  repo root (default: the current directory)
--   TLSR_BUILD build dir holding libtlsresume.so and lua/<vm>/ (default
--              $TLSR_ROOT/build)
local root = os.getenv("TLSR_ROOT") or "."
local build = os.getenv("TLSR_BUILD") or (root .. "/build")
local vm = jit and "luajit" or _VERSION:match("%d+%.%d+")

package.path = table.concat({
    root .. "/lua/?.lua",
    root .. "/tests/lua/?.lua",
    package.path,
}, ";")
-- tlsresume_core for this VM, and libtlsresume.so for the FFI binding
-- (resty.tlsresume finds it with package.searchpath on package.cpath).
package.cpath = table.concat({
    build .. "/lua/" .. vm .. "/?.so",
    build .. "/?.so",
    package.cpath,
}, ";")
