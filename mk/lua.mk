# The Lua binding: the C module tlsresume_core (built for Lua 5.4 and for
# LuaJIT / the Lua 5.1 API, the core linked in statically), the LuaJIT FFI
# binding resty.tlsresume (loads $(B)/libtlsresume.so), and their suites:
# busted under Lua 5.4 and LuaJIT, OpenResty (nginx + ngx_lua) end to end,
# and a `luarocks make` into a temporary tree.
LUA54_CFLAGS  ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUAJIT_CFLAGS ?= $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUA51_CFLAGS  ?= -I/usr/include/lua5.1
LUA_MOD_SRC   := lua/tlsresume_core.c
LUA_MOD_INC   := lua/tlsresume_ring.c
LUA_MODS      := $(B)/lua/5.4/tlsresume_core.so $(B)/lua/luajit/tlsresume_core.so
BUSTED        ?= busted
LUA_SPECS     := tests/lua

# --exclude-libs keeps the core's tlsr_* symbols private to the module, so a
# process that also ffi.loads libtlsresume.so never mixes the two copies.
define lua_module
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC -shared $(1) -Icsrc -o $@ \
	    $(LUA_MOD_SRC) $(B)/libtlsresume.a -Wl,--exclude-libs,ALL $(SSL_LIBS) -ldl
endef

$(B)/lua/5.4/tlsresume_core.so: $(LUA_MOD_SRC) $(LUA_MOD_INC) $(B)/libtlsresume.a $(CORE_HDR)
	$(call lua_module,$(LUA54_CFLAGS))

$(B)/lua/luajit/tlsresume_core.so: $(LUA_MOD_SRC) $(LUA_MOD_INC) $(B)/libtlsresume.a $(CORE_HDR)
	$(call lua_module,$(LUAJIT_CFLAGS))

# The plain Lua 5.1 API (no LuaJIT extensions): compile only, to keep it so.
$(B)/lua/5.1/tlsresume_core.o: $(LUA_MOD_SRC) $(LUA_MOD_INC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(CFLAGS) -fPIC $(LUA51_CFLAGS) -Icsrc -c -o $@ $<

lua-modules: lib $(LUA_MODS) \
    $(if $(wildcard /usr/include/lua5.1/lua.h),$(B)/lua/5.1/tlsresume_core.o)

# Regenerate the FFI cdef copy from the header (a spec checks they match).
lua-cdef:
	lua5.4 tests/lua/tools/gen_cdef.lua csrc/tlsresume.h lua/resty/tlsresume/cdef.lua

export TLSR_BUILD := $(abspath $(B))

# busted under Lua 5.4 (C module, LuaSec, nginx end to end, luarocks make)
# and under LuaJIT (C module and FFI binding); then the C module under
# valgrind.
test-lua: lua-modules
	$(BUSTED) --lua=lua5.4 --helper=tests/lua/helper.lua $(LUA_SPECS)
	$(BUSTED) --lua=luajit --helper=tests/lua/helper.lua $(LUA_SPECS)
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite lua5.4 tests/lua/tools/valgrind_smoke.lua

.PHONY: lua-modules lua-cdef
TEST_TARGETS += test-lua

# Regenerate the Lua copy of the Redis scripts (a spec checks they match).
redis-scripts:
	lua5.4 tests/lua/tools/gen_redis_scripts.lua python/tlsresume/redis_scripts lua/tlsresume/redis_scripts.lua

.PHONY: redis-scripts
