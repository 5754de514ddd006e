-- luarocks make --lua-version 5.4 [--tree DIR] tlsresume-0.1.0-1.rockspec
-- (Debian's luarocks defaults to Lua 5.1: without --lua-version 5.4 the
-- module is built for 5.1 and lua5.4 does not find it; use 5.1 for LuaJIT.)
-- Builds the C core with the top Makefile (`make lib`) and the Lua C module
-- tlsresume_core against it, and installs:
--   tlsresume, tlsresume_core        the Lua 5.4 / 5.1 (LuaJIT) module
--   resty.tlsresume[.*]              the OpenResty FFI binding
--   libtlsresume.so (next to tlsresume_core.so, in the rocks tree's lib/lua
--   dir), which resty.tlsresume finds with package.searchpath on
--   package.cpath.
-- Needs a C compiler, make and OpenSSL 3 headers (Debian: libssl-dev).
rockspec_format = "3.0"
package = "tlsresume"
version = "0.1.0-1"
source = {
   url = "git+file:///nonexistent/tlsresume.git", -- built locally: luarocks make
}
description = {
   summary = "Save, restore and inspect TLS sessions (OpenSSL SSL_SESSION)",
   detailed = [[
Serialize a TLS session (TLS 1.2 session IDs / tickets, TLS 1.3 tickets) to
DER or PEM (byte-compatible with openssl sess_id, s_client -sess_in/-sess_out,
Node getSession() and nginx), restore it in another process and resume with
LuaSec 1.2 or OpenResty cosockets; an on-disk store shared by processes and
an ngx.shared.DICT store shared by nginx workers, and the two in tiers.
]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.1",
}
external_dependencies = {
   OPENSSL = { header = "openssl/ssl.h" },
}
build = {
   type = "command",
   build_command = [[
set -e
make lib B=build/rock CC="$(CC)"
$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -fPIC -shared \
    -I"$(LUA_INCDIR)" -I"$(OPENSSL_INCDIR)" -Icsrc \
    -o build/rock/tlsresume_core.so lua/tlsresume_core.c \
    build/rock/libtlsresume.a -Wl,--exclude-libs,ALL -lssl -lcrypto -ldl
]],
   install = {
      lua = {
         ["tlsresume"] = "lua/tlsresume.lua",
         ["tlsresume.busted"] = "lua/tlsresume/busted.lua",
         ["resty.tlsresume"] = "lua/resty/tlsresume.lua",
         ["resty.tlsresume.cdef"] = "lua/resty/tlsresume/cdef.lua",
         ["resty.tlsresume.dirstore"] = "lua/resty/tlsresume/dirstore.lua",
         ["resty.tlsresume.shdict"] = "lua/resty/tlsresume/shdict.lua",
         ["resty.tlsresume.tiered"] = "lua/resty/tlsresume/tiered.lua",
         ["resty.tlsresume.redis"] = "lua/resty/tlsresume/redis.lua",
         ["tlsresume.redis"] = "lua/tlsresume/redis.lua",
         ["tlsresume.redis_store"] = "lua/tlsresume/redis_store.lua",
         ["tlsresume.redis_scripts"] = "lua/tlsresume/redis_scripts.lua",
         ["resty.tlsresume.ring"] = "lua/resty/tlsresume/ring.lua",
      },
      lib = {
         ["tlsresume_core"] = "build/rock/tlsresume_core.so",
         ["libtlsresume"] = "build/rock/libtlsresume.so",
      },
   },
}
