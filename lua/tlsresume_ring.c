/*
 * tlsresume_core, ticket key rings (included by tlsresume_core.c, whose
 * helpers it uses): init, open, keys, rotate, export, and decrypt a ticket
 * with a ring (inspection).  Never returns a secret: keys by name only.
 */
#define RING_MT "tlsresume.ring"

struct lring {
    struct tlsr_ring *ring;
};

static struct tlsr_ring *check_ring(lua_State *L, int i)
{
    struct lring *r = luaL_checkudata(L, i, RING_MT);

    if (r->ring == NULL)
        luaL_argerror(L, i, "ring is closed");
    return r->ring;
}

static int ring_free(lua_State *L)
{
    struct lring *r = luaL_checkudata(L, 1, RING_MT);

    tlsr_ring_free(r->ring);
    r->ring = NULL;
    return 0;
}

static int64_t opt_now(lua_State *L, int i)
{
    return lua_isnoneornil(L, i) ? 0 : (int64_t)luaL_checknumber(L, i);
}

static const char *const ring_roles[] = {"?", "encrypt", "next", "decrypt",
                                         "expired"};

/* ring_init(path [, {period=, keep=, format=}]) -> true */
static int l_ring_init(lua_State *L)
{
    static const char *const formats[] = {"openssl80", "nginx80", "nginx48",
                                          "node48", NULL};
    static const int codes[] = {TLSR_KEYS_OPENSSL80, TLSR_KEYS_OPENSSL80,
                                TLSR_KEYS_NGINX48, TLSR_KEYS_NODE48};
    const char *path = luaL_checkstring(L, 1);
    struct tlsr_ring_options o;
    struct tlsr_error err = {0, ""};

    tlsr_ring_options_init(&o);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        o.period = opt_u32(L, 2, "period", (uint32_t)o.period);
        o.keep = opt_u32(L, 2, "keep", (uint32_t)o.keep);
        lua_getfield(L, 2, "format");
        if (!lua_isnil(L, -1))
            o.format = codes[luaL_checkoption(L, -1, NULL, formats)];
        lua_pop(L, 1);
    }
    if (tlsr_ring_init(path, &o, &err) != 0)
        return push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ring_open(path) -> ring */
static int l_ring_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct tlsr_error err = {0, ""};
    struct lring *r = lua_newuserdata(L, sizeof(*r));

    r->ring = NULL;
    luaL_getmetatable(L, RING_MT);
    lua_setmetatable(L, -2);
    r->ring = tlsr_ring_open(path, &err);
    if (r->ring == NULL)
        return push_error(L, &err);
    return 1;
}

/* ring:keys([now]) -> { {name=16 bytes, role=, start=, ["end"]=,
 * expires=}, ... } oldest first */
static int l_ring_keys(lua_State *L)
{
    struct tlsr_ring *ring = check_ring(L, 1);
    int64_t now = opt_now(L, 2);
    struct tlsr_error err = {0, ""};
    struct tlsr_ring_key k;
    size_t i;
    int rc;

    lua_newtable(L);
    for (i = 0; (rc = tlsr_ring_key_get(ring, i, now, &k, &err)) == 1; i++) {
        lua_newtable(L);
        lua_pushlstring(L, (const char *)k.name, 16);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, ring_roles[k.role >= 1 && k.role <= 4 ? k.role
                                                                : 0]);
        lua_setfield(L, -2, "role");
        push_int64(L, k.start);
        lua_setfield(L, -2, "start");
        push_int64(L, k.end);
        lua_setfield(L, -2, "end");
        push_int64(L, k.expires);
        lua_setfield(L, -2, "expires");
        lua_rawseti(L, -2, (int)i + 1);
    }
    if (rc < 0)
        return push_error(L, &err);
    return 1;
}

/* ring:rotate([force [, now]]) -> changed (boolean) */
static int l_ring_rotate(lua_State *L)
{
    struct tlsr_ring *ring = check_ring(L, 1);
    struct tlsr_error err = {0, ""};
    int rc = tlsr_ring_rotate(ring, opt_now(L, 3), lua_toboolean(L, 2), &err);

    if (rc < 0)
        return push_error(L, &err);
    lua_pushboolean(L, rc);
    return 1;
}

/* ring:export(format, dir [, now]) -> number of keys written */
static int l_ring_export(lua_State *L)
{
    static const char *const formats[] = {"nginx80", "nginx48", "haproxy",
                                          "node48", NULL};
    static const int codes[] = {TLSR_EXPORT_NGINX80, TLSR_EXPORT_NGINX48,
                                TLSR_EXPORT_HAPROXY, TLSR_EXPORT_NODE48};
    struct tlsr_ring *ring = check_ring(L, 1);
    int format = codes[luaL_checkoption(L, 2, NULL, formats)];
    const char *dir = luaL_checkstring(L, 3);
    struct tlsr_error err = {0, ""};
    int rc = tlsr_ring_export(ring, format, dir, opt_now(L, 4), &err);

    if (rc < 0)
        return push_error(L, &err);
    lua_pushinteger(L, rc);
    return 1;
}

/* ring:decrypt(ticket [, now]) -> the server-side session (a session) */
static int l_ring_decrypt(lua_State *L)
{
    struct tlsr_ring *ring = check_ring(L, 1);
    size_t len;
    const char *t = luaL_checklstring(L, 2, &len);
    int64_t now = opt_now(L, 3);      /* before anything is pushed */
    struct tlsr_error err = {0, ""};
    struct tlsr_ticket_keys *keys;
    struct lsession *ls = new_lsession(L);

    keys = tlsr_ring_ticket_keys(ring, now, &err);
    if (keys == NULL)
        return push_error(L, &err);
    ls->sess = tlsr_ticket_decrypt(keys, (const uint8_t *)t, len, &err);
    tlsr_ticket_keys_free(keys);
    if (ls->sess == NULL)
        return push_error(L, &err);
    return 1;
}

static int ring_tostring(lua_State *L)
{
    struct lring *r = luaL_checkudata(L, 1, RING_MT);
    struct tlsr_ring_options o;

    if (r->ring == NULL || tlsr_ring_get_options(r->ring, &o, NULL) != 0)
        lua_pushstring(L, RING_MT " (closed)");
    else
        lua_pushfstring(L, RING_MT " (period %d s, keep %d s)",
                        (int)o.period, (int)o.keep);
    return 1;
}

static const luaL_Reg ring_methods[] = {
    {"keys", l_ring_keys},
    {"rotate", l_ring_rotate},
    {"export", l_ring_export},
    {"decrypt", l_ring_decrypt},
    {"close", ring_free},
    {NULL, NULL}
};

#define RING_FUNCTIONS \
    {"ring_init", l_ring_init}, \
    {"ring_open", l_ring_open},
