/*
 * tlsresume_core: the thin Lua C module over the tlsresume core.
 * Conveniences live in tlsresume.lua.  Builds against Lua 5.4 and the Lua
 * 5.1 API (LuaJIT).  Runtime failures return nil, message, code; misuse
 * (wrong argument types) raises.  Userdata are created before the C object
 * they hold, and __gc/__close free and NULL the pointer.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include <openssl/ssl.h>

#include "tlsresume.h"

#define SESSION_MT "tlsresume.session"
#define STORE_MT "tlsresume.store"
#define KEYS_MT "tlsresume.ticket_keys"
#define CODEC_MT "tlsresume.codec"
#define LUASEC_MT "SSL:Connection"

/* ---- Lua 5.1 / 5.4 compatibility ---------------------------------------- */

#if LUA_VERSION_NUM < 502
#define compat_rawlen(L, i) lua_objlen((L), (i))
#else
#define compat_rawlen(L, i) lua_rawlen((L), (i))
#endif

static void compat_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}

static void *compat_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);

    if (p == NULL || !lua_getmetatable(L, i))
        return NULL;
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2))
        p = NULL;
    lua_pop(L, 2);
    return p;
}

static void push_int64(lua_State *L, int64_t v)
{
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}

/* nil, message, code: the runtime-failure convention. */
static int push_error(lua_State *L, const struct tlsr_error *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg[0] != '\0' ? err->msg
                                          : tlsr_error_name(err->code));
    lua_pushinteger(L, err->code);
    return 3;
}

static void wipe(void *p, size_t n)
{
    if (p != NULL)
        explicit_bzero(p, n);
}

/* ---- session userdata ---------------------------------------------------- */

struct lsession {
    struct ssl_session_st *sess;
};

/* The userdata comes first so a failing allocation cannot leak a session. */
static struct lsession *new_lsession(lua_State *L)
{
    struct lsession *ls = lua_newuserdata(L, sizeof(*ls));

    ls->sess = NULL;
    luaL_getmetatable(L, SESSION_MT);
    lua_setmetatable(L, -2);
    return ls;
}

static struct ssl_session_st *check_session(lua_State *L, int i)
{
    struct lsession *ls = luaL_checkudata(L, i, SESSION_MT);

    if (ls->sess == NULL)
        luaL_argerror(L, i, "session is closed");
    return ls->sess;
}

static int session_free(lua_State *L)
{
    struct lsession *ls = luaL_checkudata(L, 1, SESSION_MT);

    tlsr_session_free(ls->sess);
    ls->sess = NULL;
    return 0;
}

static int session_tostring(lua_State *L)
{
    struct lsession *ls = luaL_checkudata(L, 1, SESSION_MT);
    struct tlsr_session_info info;

    /* Version, cipher and lifetime only: never ids, tickets or keys. */
    if (ls->sess == NULL) {
        lua_pushstring(L, SESSION_MT " (closed)");
    } else if (tlsr_session_inspect(ls->sess, 0, &info, NULL) != 0) {
        lua_pushstring(L, SESSION_MT);
    } else {
        lua_pushfstring(L, SESSION_MT " (%s %s, %s, %d s left)",
                        info.protocol_name, info.cipher_name,
                        info.resumable ? "resumable" : "not resumable",
                        (int)info.remaining);
    }
    return 1;
}

/* ---- serialize / deserialize / inspect ----------------------------------- */

/*
 * f(nil, msg [, code]): the results of a failed call passed straight in, as
 * in save(path, get_session(conn)).  Returns them unchanged (the first
 * error, not "bad argument #1"); 0 if the arguments are not such a triple.
 * A string that is a valid option at i + 1 (e.g. "pem") is not a message.
 */
static int pass_error(lua_State *L, int i, const char *const *options)
{
    const char *msg;

    if (!lua_isnil(L, i) || lua_type(L, i + 1) != LUA_TSTRING)
        return 0;
    msg = lua_tostring(L, i + 1);
    for (; options != NULL && *options != NULL; options++)
        if (strcmp(msg, *options) == 0)
            return 0;
    lua_pushnil(L);
    lua_pushvalue(L, i + 1);
    if (lua_type(L, i + 2) == LUA_TNUMBER)
        lua_pushvalue(L, i + 2);
    else
        lua_pushnil(L);
    return 3;
}

static int l_serialize(lua_State *L)
{
    static const char *const formats[] = {"der", "pem", NULL};
    int passed = pass_error(L, 1, formats);
    struct ssl_session_st *sess;
    int format;
    unsigned int flags = lua_toboolean(L, 3) ? TLSR_SERIALIZE_LEAN : 0;
    struct tlsr_error err = {0, ""};
    size_t len = 0;
    uint8_t *buf;

    if (passed)
        return passed;
    sess = check_session(L, 1);
    format = luaL_checkoption(L, 2, "der", formats);
    format = format == 0 ? TLSR_FORMAT_DER : TLSR_FORMAT_PEM;
    if (tlsr_session_serialize(sess, format, flags, NULL, &len, &err) != 0)
        return push_error(L, &err);
    /* A GC-owned scratch buffer cannot leak if pushing the string raises. */
    buf = lua_newuserdata(L, len > 0 ? len : 1);
    if (tlsr_session_serialize(sess, format, flags, buf, &len, &err) != 0) {
        wipe(buf, len);
        return push_error(L, &err);
    }
    lua_pushlstring(L, (const char *)buf, len);
    wipe(buf, len);
    return 1;
}

static int l_deserialize(lua_State *L)
{
    size_t len;
    const char *data;
    struct lsession *ls;
    struct tlsr_error err = {0, ""};

    luaL_checktype(L, 1, LUA_TSTRING);
    data = lua_tolstring(L, 1, &len);
    ls = new_lsession(L);
    ls->sess = tlsr_session_parse((const uint8_t *)data, len, &err);
    if (ls->sess == NULL)
        return push_error(L, &err);
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_lstr(lua_State *L, const char *k, const void *v, size_t n)
{
    lua_pushlstring(L, (const char *)v, n);
    lua_setfield(L, -2, k);
}

static void set_hex(lua_State *L, const char *k, const uint8_t *v, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * 64 + 1];
    size_t i;

    if (n > 64)
        n = 64;
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[v[i] >> 4];
        hex[2 * i + 1] = digits[v[i] & 15];
    }
    set_lstr(L, k, hex, 2 * n);
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
    push_int64(L, v);
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* The field names and encodings match resty/tlsresume.lua's inspect(). */
static void push_info(lua_State *L, const struct tlsr_session_info *in)
{
    lua_createtable(L, 0, 32);
    set_int(L, "protocol_version", in->protocol_version);
    set_str(L, "protocol_name", in->protocol_name);
    set_int(L, "cipher_id", in->cipher_id);
    set_str(L, "cipher_name", in->cipher_name);
    set_str(L, "cipher_rfc_name", in->cipher_rfc_name);
    set_hex(L, "session_id", in->session_id,
            in->session_id_len <= 32 ? in->session_id_len : 32);
    set_lstr(L, "sid_ctx", in->sid_ctx,
             in->sid_ctx_len <= 32 ? in->sid_ctx_len : 32);
    set_int(L, "time", in->time);
    set_int(L, "timeout", in->timeout);
    set_int(L, "expires", in->expires);
    set_int(L, "remaining", in->remaining);
    set_bool(L, "resumable", in->resumable);
    set_bool(L, "has_ticket", in->has_ticket);
    set_int(L, "ticket_len", in->ticket_len);
    set_int(L, "ticket_lifetime_hint", in->ticket_lifetime_hint);
    /* Not ticket_age_add: RFC 8446 4.6.1 uses it to hide a ticket's age
     * from observers (the C struct keeps it). */
    set_int(L, "max_early_data", in->max_early_data);
    set_str(L, "alpn", in->alpn);
    set_str(L, "sni", in->sni);
    set_bool(L, "has_peer", in->has_peer);
    if (in->has_peer) {
        set_str(L, "peer_subject", in->peer_subject);
        set_str(L, "peer_issuer", in->peer_issuer);
        set_int(L, "peer_not_after", in->peer_not_after);
        set_hex(L, "peer_sha256", in->peer_sha256, 32);
    }
    set_int(L, "verify_result", in->verify_result);
    set_bool(L, "extended_master_secret", in->extended_master_secret);
    set_int(L, "master_key_len", in->master_key_len);
}

static int l_inspect(lua_State *L)
{
    struct tlsr_error err = {0, ""};
    struct tlsr_session_info info;
    struct ssl_session_st *sess;
    lua_Number t;
    int64_t now;

    if (pass_error(L, 1, NULL))
        return 3;
    t = luaL_optnumber(L, 2, 0);

    /* Converting NaN or a double beyond int64 is undefined behaviour. */
    if (!(t >= 0 && t < 9.2e18))
        luaL_argerror(L, 2, "now must be a time in seconds (>= 0)");
    now = (int64_t)t;

    if (lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *data = lua_tolstring(L, 1, &len);
        struct lsession *ls = new_lsession(L); /* holds the temporary */

        ls->sess = tlsr_session_parse((const uint8_t *)data, len, &err);
        if (ls->sess == NULL)
            return push_error(L, &err);
        sess = ls->sess;
    } else if (compat_testudata(L, 1, SESSION_MT) != NULL) {
        sess = check_session(L, 1);
    } else {
        return luaL_argerror(L, 1, "session or string expected");
    }
    if (tlsr_session_inspect(sess, now, &info, &err) != 0)
        return push_error(L, &err);
    push_info(L, &info);
    return 1;
}

static int l_set_id_context(lua_State *L)
{
    struct ssl_session_st *sess = check_session(L, 1);
    size_t len;
    const char *ctx = luaL_checklstring(L, 2, &len);
    struct tlsr_error err = {0, ""};

    if (tlsr_session_set1_id_context(sess, (const uint8_t *)ctx, len, &err)
        != 0)
        return push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_ticket(lua_State *L)
{
    struct ssl_session_st *sess = check_session(L, 1);
    struct tlsr_error err = {0, ""};
    size_t len = 0;
    uint8_t *buf;

    if (tlsr_session_get_ticket(sess, NULL, &len, &err) != 0)
        return push_error(L, &err);
    buf = lua_newuserdata(L, len > 0 ? len : 1);
    if (tlsr_session_get_ticket(sess, buf, &len, &err) != 0)
        return push_error(L, &err);
    lua_pushlstring(L, (const char *)buf, len);
    return 1;
}

/* ---- server tickets -------------------------------------------------------- */

struct lkeys {
    struct tlsr_ticket_keys *keys;
};

static int keys_free(lua_State *L)
{
    struct lkeys *lk = luaL_checkudata(L, 1, KEYS_MT);

    tlsr_ticket_keys_free(lk->keys);
    lk->keys = NULL;
    return 0;
}

static int key_format(lua_State *L, int i)
{
    static const char *const names[] = {"openssl80", "nginx48", "node48",
                                        NULL};
    static const int formats[] = {TLSR_KEYS_OPENSSL80, TLSR_KEYS_NGINX48,
                                  TLSR_KEYS_NODE48};

    return formats[luaL_checkoption(L, i, NULL, names)];
}

/*
 * ticket_decrypt(ticket, keys, format) -> the server-side session.  keys is
 * one key file's bytes or an array of them (rotation); format is
 * "openssl80", "nginx48" or "node48".
 */
static int l_ticket_decrypt(lua_State *L)
{
    size_t tlen, klen;
    const char *ticket, *kb;
    int format, n, i;
    struct lkeys *lk;
    struct lsession *ls;
    struct tlsr_error err = {0, ""};

    luaL_checktype(L, 1, LUA_TSTRING);
    ticket = lua_tolstring(L, 1, &tlen);
    if (lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TTABLE)
        luaL_argerror(L, 2, "key bytes or array of key bytes expected");
    format = key_format(L, 3);
    n = lua_type(L, 2) == LUA_TTABLE ? (int)compat_rawlen(L, 2) : 1;
    for (i = 1; lua_type(L, 2) == LUA_TTABLE && i <= n; i++) {
        lua_rawgeti(L, 2, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 2, "array of key bytes expected");
        lua_pop(L, 1);
    }
    lk = lua_newuserdata(L, sizeof(*lk));
    lk->keys = NULL;
    luaL_getmetatable(L, KEYS_MT);
    lua_setmetatable(L, -2);
    lk->keys = tlsr_ticket_keys_new(&err);
    if (lk->keys == NULL)
        return push_error(L, &err);
    for (i = 1; i <= n; i++) {
        if (lua_type(L, 2) == LUA_TTABLE) {
            lua_rawgeti(L, 2, i);
            kb = lua_tolstring(L, -1, &klen);
            lua_pop(L, 1); /* still referenced by the table */
        } else {
            kb = lua_tolstring(L, 2, &klen);
        }
        if (tlsr_ticket_keys_add(lk->keys, (const uint8_t *)kb, klen, format,
                                 &err) != 0)
            return push_error(L, &err);
    }
    ls = new_lsession(L);
    ls->sess = tlsr_ticket_decrypt(lk->keys, (const uint8_t *)ticket, tlen,
                                   &err);
    if (ls->sess == NULL)
        return push_error(L, &err);
    return 1;
}

/* ticket_parse(ticket) -> {key_name=hex, iv=hex, ciphertext_len=, mac=hex} */
static int l_ticket_parse(lua_State *L)
{
    size_t len;
    const char *ticket;
    struct tlsr_ticket_info info;
    struct tlsr_error err = {0, ""};

    luaL_checktype(L, 1, LUA_TSTRING);
    ticket = lua_tolstring(L, 1, &len);
    if (tlsr_ticket_parse((const uint8_t *)ticket, len, &info, &err) != 0)
        return push_error(L, &err);
    lua_createtable(L, 0, 4);
    set_hex(L, "key_name", info.key_name, sizeof(info.key_name));
    set_hex(L, "iv", info.iv, sizeof(info.iv));
    set_int(L, "ciphertext_len", info.ciphertext_len);
    set_hex(L, "mac", info.mac, sizeof(info.mac));
    return 1;
}

/* ---- LuaSec connections -------------------------------------------------- */

/*
 * LuaSec 1.2 keeps its SSL* in the "SSL:Connection" userdata, laid out as
 * ssl.h's t_ssl (luasocket's t_socket/t_io/t_buffer/t_timeout first).  We
 * mirror that layout and accept it only if the metatable, the exact size and
 * three self-pointers LuaSec stores (io.ctx = the userdata, buf.io = &io,
 * buf.tm = &tm) all agree: checking them reads only the userdata's own
 * memory.  Only then is the SSL* handed to the core, which checks it is on
 * conn:getfd() and in client mode before anything else.
 */
struct lsec_timeout { double block, total, start; };
struct lsec_io { void *ctx; void (*send)(void); void (*recv)(void);
                 void (*error)(void); };
struct lsec_buffer {
    double birthday;
    size_t sent, received;
    void *io, *tm;
    size_t first, last;
    char data[8192];
};
struct lsec_ssl {
    int sock;
    struct lsec_io io;
    struct lsec_buffer buf;
    struct lsec_timeout tm;
    struct ssl_st *ssl;
    int state;              /* 1 new, 2 connected, 3 closed */
    int error;
};

enum { LSEC_NEW = 1, LSEC_CONNECTED = 2, LSEC_CLOSED = 3 };

static struct lsec_ssl *check_luasec(lua_State *L, int i)
{
    struct lsec_ssl *c;
    lua_Number fd;
    struct tlsr_error err = {0, ""};

    if (lua_type(L, i) != LUA_TUSERDATA)
        luaL_argerror(L, i, "LuaSec connection expected");
    luaL_getmetatable(L, LUASEC_MT);
    if (lua_isnil(L, -1))
        luaL_argerror(L, i, "LuaSec connection expected (ssl not loaded)");
    lua_pop(L, 1);
    if (compat_testudata(L, i, LUASEC_MT) == NULL)
        luaL_argerror(L, i, "LuaSec connection expected (not an "
                            LUASEC_MT ")");
    c = lua_touserdata(L, i);
    if (compat_rawlen(L, i) != sizeof(struct lsec_ssl)
        || c->io.ctx != (void *)c || c->buf.io != (void *)&c->io
        || c->buf.tm != (void *)&c->tm
        || c->state < LSEC_NEW || c->state > LSEC_CLOSED)
        luaL_error(L, "tlsresume: unsupported LuaSec version: its "
                      LUASEC_MT " layout is not LuaSec 1.2's");
    if (c->state == LSEC_CLOSED || c->ssl == NULL)
        luaL_argerror(L, i, "LuaSec connection is closed");
    /* conn:getfd() through LuaSec's own method, compared with the SSL's. */
    lua_getfield(L, i, "getfd");
    lua_pushvalue(L, i);
    lua_call(L, 1, 1);
    fd = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (fd != (lua_Number)c->sock)
        luaL_error(L, "tlsresume: unsupported LuaSec version: socket "
                      "field does not match conn:getfd()");
    if (tlsr_ssl_check(c->ssl, c->sock, 0, &err) != 0)
        luaL_error(L, "tlsresume: LuaSec connection rejected: %s", err.msg);
    return c;
}

static int l_luasec_get_session(lua_State *L)
{
    struct lsec_ssl *c = check_luasec(L, 1);
    struct lsession *ls;
    struct tlsr_error err = {0, ""};

    if (c->state != LSEC_CONNECTED)
        luaL_argerror(L, 1, "handshake not done (call dohandshake first)");
    ls = new_lsession(L);
    ls->sess = tlsr_ssl_get1_session(c->ssl, &err);
    if (ls->sess == NULL)
        return push_error(L, &err);
    return 1;
}

static int l_luasec_set_session(lua_State *L)
{
    struct lsec_ssl *c = check_luasec(L, 1);
    struct ssl_session_st *sess = check_session(L, 2);
    struct tlsr_error err = {0, ""};

    if (c->state != LSEC_NEW)
        luaL_argerror(L, 1, "set the session before dohandshake");
    if (tlsr_ssl_set_session(c->ssl, sess, &err) != 0)
        return push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_luasec_session_reused(lua_State *L)
{
    struct lsec_ssl *c = check_luasec(L, 1);
    struct tlsr_error err = {0, ""};
    int r;

    if (c->state != LSEC_CONNECTED)
        luaL_argerror(L, 1, "handshake not done (call dohandshake first)");
    r = tlsr_ssl_session_reused(c->ssl, &err);
    if (r < 0)
        return push_error(L, &err);
    lua_pushboolean(L, r);
    return 1;
}

/* The ALPN list at index i (nil, a string or a table of strings, as
 * LuaSec's context takes it) in wire format into buf; its length. */
static size_t alpn_wire(lua_State *L, int i, uint8_t *buf, size_t cap)
{
    size_t n = 0, len, k, count = 1;
    const char *p;

    if (lua_isnoneornil(L, i))
        return 0;
    if (!lua_istable(L, i) && !lua_isstring(L, i))
        luaL_argerror(L, i, "alpn: a string or a table of strings");
    if (lua_istable(L, i))
        count = (size_t)compat_rawlen(L, i);
    for (k = 1; k <= count; k++) {
        if (lua_istable(L, i))
            lua_rawgeti(L, i, (int)k);
        else
            lua_pushvalue(L, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, i, "alpn: a string or a table of strings");
        p = lua_tolstring(L, -1, &len);
        if (len == 0 || len > 255 || n + 1 + len > cap)
            luaL_argerror(L, i, "alpn: names of 1 to 255 bytes");
        buf[n++] = (uint8_t)len;
        memcpy(buf + n, p, len);
        n += len;
        lua_pop(L, 1);
    }
    return n;
}

/*
 * send_early(conn, data [, alpn]): TLS 1.3 early data before dohandshake().
 * alpn: the context's alpn option (OpenSSL cannot read it back), needed
 * when the session negotiated one.  LuaSec sockets are non-blocking: wait
 * (at most 10 s) while OpenSSL wants to write the ClientHello.  Returns
 * the bytes sent early (0 when the session allows none: send data after
 * the handshake).  The caller vouches that data is safe to replay; after
 * dohandshake(), early_data_status() says whether the server took it
 * ("rejected": send it again).
 */
static int l_luasec_send_early(lua_State *L)
{
    struct lsec_ssl *c = check_luasec(L, 1);
    size_t len, written = 0, alpn_len;
    const char *data = luaL_checklstring(L, 2, &len);
    struct tlsr_error err = {0, ""};
    uint8_t alpn[1024];
    struct pollfd pfd;
    int rc, tries = 0;

    alpn_len = alpn_wire(L, 3, alpn, sizeof(alpn));
    if (c->state != LSEC_NEW)
        luaL_argerror(L, 1, "send early data before dohandshake");
    if (tlsr_ssl_early_data_max(c->ssl, alpn_len ? alpn : NULL, alpn_len)
        < len) {
        lua_pushinteger(L, 0);
        return 1;
    }
    while ((rc = tlsr_ssl_write_early_data(c->ssl, (const uint8_t *)data,
                                           len, &written, &err))
               == TLSR_EARLY_WANT_READ || rc == TLSR_EARLY_WANT_WRITE) {
        pfd.fd = c->sock;
        pfd.events = rc == TLSR_EARLY_WANT_READ ? POLLIN : POLLOUT;
        if (++tries > 100 || poll(&pfd, 1, 100) < 0) {
            lua_pushnil(L);
            lua_pushstring(L, "timeout writing early data");
            lua_pushinteger(L, TLSR_EIO);
            return 3;
        }
    }
    if (rc != 0)
        return push_error(L, &err);
    lua_pushinteger(L, (lua_Integer)written);
    return 1;
}

static int l_luasec_early_data_status(lua_State *L)
{
    struct lsec_ssl *c = check_luasec(L, 1);
    static const char *names[] = {"not sent", "accepted", "rejected"};
    int st = tlsr_ssl_get_early_data_status(c->ssl);

    lua_pushstring(L, names[st >= 0 && st <= 2 ? st : 0]);
    return 1;
}

/* ---- the on-disk store ---------------------------------------------------- */

struct lstore {
    struct tlsr_store *store;
};

static struct tlsr_store *check_store(lua_State *L, int i)
{
    struct lstore *s = luaL_checkudata(L, i, STORE_MT);

    if (s->store == NULL)
        luaL_argerror(L, i, "store is closed");
    return s->store;
}

static int store_free(lua_State *L)
{
    struct lstore *s = luaL_checkudata(L, 1, STORE_MT);

    tlsr_store_free(s->store);
    s->store = NULL;
    return 0;
}

/* An optional numeric option; absent keeps the core's default. */
static uint32_t opt_u32(lua_State *L, int t, const char *k, uint32_t dflt)
{
    lua_Number n;

    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "option %s: number expected", k);
    n = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(n >= 0 && n <= 4294967295.0))
        luaL_error(L, "option %s: out of range", k);
    return (uint32_t)n;
}

/* store_open(path [, {max_tickets=, max_entries=, max_lifetime=, seal_key=,
 * lean=}]) */
static int l_store_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct tlsr_store_options opts;
    struct tlsr_error err = {0, ""};
    struct lstore *s;

    tlsr_store_options_init(&opts);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        opts.max_tickets = opt_u32(L, 2, "max_tickets", opts.max_tickets);
        opts.max_entries = opt_u32(L, 2, "max_entries", opts.max_entries);
        opts.max_lifetime = (int64_t)opt_u32(L, 2, "max_lifetime",
                                             (uint32_t)opts.max_lifetime);
        lua_getfield(L, 2, "lean");
        if (lua_toboolean(L, -1))
            opts.flags |= TLSR_STORE_LEAN;
        lua_pop(L, 1);
        /* The key string stays on the stack (alive) during open. */
        lua_getfield(L, 2, "seal_key");
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "option seal_key: string expected");
            opts.seal_key = (const uint8_t *)lua_tolstring(L, -1,
                                                           &opts.seal_key_len);
        }
    }
    s = lua_newuserdata(L, sizeof(*s));
    s->store = NULL;
    luaL_getmetatable(L, STORE_MT);
    lua_setmetatable(L, -2);
    s->store = tlsr_store_open(path, &opts, &err);
    if (s->store == NULL)
        return push_error(L, &err);
    return 1;
}

struct key {
    const char *host;
    int port;
    const char *scope;
    const char *bad;        /* a bad value: returned as nil, msg, EINVAL */
};

/* host at i, port at i + 1, optional scope at sc (the store at 1).  Wrong
 * types raise; a NUL inside host or scope (which C would cut there, handing
 * out another key's sessions) is a bad value. */
static struct key check_key(lua_State *L, int i, int sc)
{
    struct key k;
    lua_Number port;
    size_t hlen, slen = 0;

    luaL_checktype(L, i, LUA_TSTRING);
    luaL_checktype(L, i + 1, LUA_TNUMBER);  /* not "443": misuse */
    k.host = lua_tolstring(L, i, &hlen);
    port = lua_tonumber(L, i + 1);
    if (!(port >= 0 && port <= 65535) || port != (lua_Number)(int)port)
        luaL_argerror(L, i + 1, "port must be an integer 0..65535");
    k.port = (int)port;
    if (!lua_isnoneornil(L, sc))
        luaL_checktype(L, sc, LUA_TSTRING);
    k.scope = lua_tolstring(L, sc, &slen);
    k.bad = strlen(k.host) != hlen ? "host contains a NUL byte"
          : k.scope != NULL && strlen(k.scope) != slen
              ? "scope contains a NUL byte" : NULL;
    return k;
}

static int push_bad(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushinteger(L, TLSR_EINVAL);
    return 3;
}

static int l_store_put(lua_State *L)
{
    struct tlsr_store *st = check_store(L, 1);
    struct key k = check_key(L, 2, 5);      /* put(host, port, sess [, scope]) */
    struct ssl_session_st *sess = check_session(L, 4);
    struct tlsr_error err = {0, ""};

    if (k.bad != NULL)
        return push_bad(L, k.bad);
    if (tlsr_store_put(st, k.host, k.port, k.scope, sess, &err) != 0)
        return push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* get/take(host, port [, scope [, conn | {conn = conn}]]): with a LuaSec
 * connection (not yet handshaken), only sessions it may resume under the
 * trust rule; without one, any (set_session still refuses what the
 * connection would not verify). */
static int store_lookup(lua_State *L, int take)
{
    struct tlsr_store *st = check_store(L, 1);
    struct key k = check_key(L, 2, 4);
    struct tlsr_error err = {0, ""};
    struct tlsr_trust policy, *pp = NULL;
    const struct ssl_ctx_st *ctx = NULL;
    struct lsession *ls;

    if (k.bad != NULL)
        return push_bad(L, k.bad);
    /* opts: a LuaSec connection, or {conn = ...} (verify/trust are for
     * the FFI stores, which have no SSL* to ask: ignored here). */
    if (lua_istable(L, 5)) {
        lua_getfield(L, 5, "conn");
        lua_replace(L, 5);
    }
    if (!lua_isnoneornil(L, 5)) {
        struct lsec_ssl *c = check_luasec(L, 5);

        if (tlsr_trust_policy_ssl(c->ssl, &policy, &err) != 0)
            return push_error(L, &err);
        pp = &policy;
        ctx = SSL_get_SSL_CTX(c->ssl);
    }
    ls = new_lsession(L);
    ls->sess = take ? tlsr_store_take(st, k.host, k.port, k.scope, pp, ctx,
                                      &err)
                    : tlsr_store_get(st, k.host, k.port, k.scope, pp, ctx,
                                     &err);
    if (ls->sess == NULL)
        return push_error(L, &err);
    return 1;
}

static int l_store_get(lua_State *L) { return store_lookup(L, 0); }
static int l_store_take(lua_State *L) { return store_lookup(L, 1); }

static int l_store_remove(lua_State *L)
{
    struct tlsr_store *st = check_store(L, 1);
    struct key k = check_key(L, 2, 4);
    struct tlsr_error err = {0, ""};
    int n;

    if (k.bad != NULL)
        return push_bad(L, k.bad);
    n = tlsr_store_remove(st, k.host, k.port, k.scope, &err);
    if (n < 0)
        return push_error(L, &err);
    lua_pushinteger(L, n);
    return 1;
}

static int l_store_prune(lua_State *L)
{
    struct tlsr_error err = {0, ""};
    int n = tlsr_store_prune(check_store(L, 1), &err);

    if (n < 0)
        return push_error(L, &err);
    lua_pushinteger(L, n);
    return 1;
}

static int l_store_count(lua_State *L)
{
    struct tlsr_error err = {0, ""};
    int n = tlsr_store_count(check_store(L, 1), &err);

    if (n < 0)
        return push_error(L, &err);
    lua_pushinteger(L, n);
    return 1;
}

/* An iterator userdata so an error mid-walk cannot leak it. */
struct liter {
    struct tlsr_store_iter *it;
};

static int iter_free(lua_State *L)
{
    struct liter *li = lua_touserdata(L, 1);

    if (li != NULL) {
        tlsr_store_iter_free(li->it);
        li->it = NULL;
    }
    return 0;
}

/* store:entries() -> array of {host, port, scope, sealed, info} */
static int l_store_entries(lua_State *L)
{
    struct tlsr_store *st = check_store(L, 1);
    struct tlsr_error err = {0, ""};
    struct tlsr_store_entry entry;
    struct liter *li;
    int r, n = 0;

    li = lua_newuserdata(L, sizeof(*li));
    li->it = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, iter_free);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    li->it = tlsr_store_iter_new(st, &err);
    if (li->it == NULL)
        return push_error(L, &err);
    lua_newtable(L);
    while ((r = tlsr_store_iter_next(li->it, &entry, &err)) == 1) {
        lua_createtable(L, 0, 5);
        set_str(L, "host", entry.host);
        set_int(L, "port", entry.port);
        set_str(L, "scope", entry.context);     /* the C field is the scope */
        set_bool(L, "sealed", entry.sealed);
        push_info(L, &entry.info);
        lua_setfield(L, -2, "info");
        lua_rawseti(L, -2, ++n);
    }
    tlsr_store_iter_free(li->it);
    li->it = NULL;
    if (r < 0)
        return push_error(L, &err);
    return 1;
}

/* ---- files ---------------------------------------------------------------- */

/* write_private(path, data): the core's tlsr_file_write_private (0600,
 * O_EXCL temporary + rename; a planted file, FIFO or hard link is refused). */
static int l_write_private(lua_State *L)
{
    size_t plen, len;
    const char *path = luaL_checklstring(L, 1, &plen);
    const char *data;
    struct tlsr_error err = {0, ""};

    luaL_checktype(L, 2, LUA_TSTRING);
    data = lua_tolstring(L, 2, &len);
    if (strlen(path) != plen)
        return push_bad(L, "path contains a NUL byte");
    if (tlsr_file_write_private(path, (const uint8_t *)data, len, &err) != 0)
        return push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* read_private(path) -> bytes: the core's tlsr_file_read_private (a regular
 * file of this user or root, not group/world-writable; a FIFO never blocks). */
static int l_read_private(lua_State *L)
{
    size_t plen, len = TLSR_MAX_INPUT;
    const char *path = luaL_checklstring(L, 1, &plen);
    struct tlsr_error err = {0, ""};
    uint8_t *buf;

    if (strlen(path) != plen)
        return push_bad(L, "path contains a NUL byte");
    buf = lua_newuserdata(L, len);      /* GC-owned: cannot leak */
    if (tlsr_file_read_private(path, buf, &len, &err) != 0) {
        wipe(buf, TLSR_MAX_INPUT);
        return push_error(L, &err);
    }
    lua_pushlstring(L, (const char *)buf, len);
    wipe(buf, len);
    return 1;
}

/* ---- store entries as bytes (tlsresume.redis) ----------------------------- */

struct lcodec {
    struct tlsr_codec *codec;
};

static struct tlsr_codec *check_codec(lua_State *L, int i)
{
    struct lcodec *c = luaL_checkudata(L, i, CODEC_MT);

    if (c->codec == NULL)
        luaL_argerror(L, i, "codec is closed");
    return c->codec;
}

static int codec_free(lua_State *L)
{
    struct lcodec *c = luaL_checkudata(L, 1, CODEC_MT);

    tlsr_codec_free(c->codec);
    c->codec = NULL;
    return 0;
}

/* codec_new([{max_lifetime=, seal_key=, lean=}]) */
static int l_codec_new(lua_State *L)
{
    struct tlsr_store_options opts;
    struct tlsr_error err = {0, ""};
    struct lcodec *c;

    tlsr_store_options_init(&opts);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        opts.max_lifetime = (int64_t)opt_u32(L, 1, "max_lifetime",
                                             (uint32_t)opts.max_lifetime);
        lua_getfield(L, 1, "lean");
        if (lua_toboolean(L, -1))
            opts.flags |= TLSR_STORE_LEAN;
        lua_pop(L, 1);
        lua_getfield(L, 1, "seal_key");     /* stays on the stack */
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "option seal_key: string expected");
            opts.seal_key = (const uint8_t *)lua_tolstring(L, -1,
                                                           &opts.seal_key_len);
        }
    }
    c = lua_newuserdata(L, sizeof(*c));
    c->codec = NULL;
    luaL_getmetatable(L, CODEC_MT);
    lua_setmetatable(L, -2);
    c->codec = tlsr_codec_new(&opts, &err);
    if (c->codec == NULL)
        return push_error(L, &err);
    return 1;
}

/* codec:encode(host, port, scope, sess) -> bytes, expires, kind */
static int l_codec_encode(lua_State *L)
{
    struct tlsr_codec *codec = check_codec(L, 1);
    struct key k = check_key(L, 2, 4);
    struct ssl_session_st *sess = check_session(L, 5);
    struct tlsr_error err = {0, ""};
    size_t len = TLSR_ENTRY_MAX;
    int64_t expires = 0;
    int kind = 0, rc;
    uint8_t *buf;

    if (k.bad != NULL)
        return push_bad(L, k.bad);
    /* A userdata buffer: freed by the GC even if a push below raises. */
    buf = lua_newuserdata(L, len);
    rc = tlsr_entry_encode(codec, k.host, k.port, k.scope, sess, buf, &len,
                           &expires, &kind, &err);
    if (rc != 0)
        return push_error(L, &err);
    lua_pushlstring(L, (const char *)buf, len);
    memset(buf, 0, len);
    lua_pushnumber(L, (lua_Number)expires);
    lua_pushinteger(L, kind);
    return 3;
}

/* codec:decode(bytes, host, port [, scope [, conn | {conn = conn}]]):
 * with a LuaSec connection, only what it may resume (the trust rule). */
static int l_codec_decode(lua_State *L)
{
    struct tlsr_codec *codec = check_codec(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    struct key k = check_key(L, 3, 5);
    struct tlsr_error err = {0, ""};
    struct tlsr_trust policy, *pp = NULL;
    const struct ssl_ctx_st *ctx = NULL;
    struct lsession *ls;

    if (k.bad != NULL)
        return push_bad(L, k.bad);
    if (lua_istable(L, 6)) {
        lua_getfield(L, 6, "conn");
        lua_replace(L, 6);
    }
    if (!lua_isnoneornil(L, 6)) {
        struct lsec_ssl *c = check_luasec(L, 6);

        if (tlsr_trust_policy_ssl(c->ssl, &policy, &err) != 0)
            return push_error(L, &err);
        pp = &policy;
        ctx = SSL_get_SSL_CTX(c->ssl);
    }
    ls = new_lsession(L);
    ls->sess = tlsr_entry_decode(codec, (const uint8_t *)data, len, k.host,
                                 k.port, k.scope, pp, ctx, &err);
    if (ls->sess == NULL)
        return push_error(L, &err);
    return 1;
}

/* entry_key(host, port [, scope]) -> 64 hex digits */
static int l_entry_key(lua_State *L)
{
    struct key k = check_key(L, 1, 3);
    struct tlsr_error err = {0, ""};
    char buf[65];
    size_t len = sizeof(buf);

    if (k.bad != NULL)
        return push_bad(L, k.bad);
    if (tlsr_entry_key(k.host, k.port, k.scope, buf, &len, &err) != 0)
        return push_error(L, &err);
    lua_pushlstring(L, buf, len);
    return 1;
}

/* Ticket key rings (server side): their own file, same helpers. */
#include "tlsresume_ring.c"

/* ---- module --------------------------------------------------------------- */

static int l_error_name(lua_State *L)
{
    lua_pushstring(L, tlsr_error_name((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* ---- probe (issue 11): blocking, so the Lua 5.4 / LuaJIT C module only;
 * the OpenResty FFI binding leaves it out (it would block a worker) ----- */

static const char *opt_string(lua_State *L, int t, const char *k)
{
    const char *v = NULL;

    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad option '%s' (string expected)", k);
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1);              /* opts (on the stack) keeps it alive */
    return v;
}

static int opt_bool(lua_State *L, int t, const char *k)
{
    int v;

    lua_getfield(L, t, k);
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static lua_Number opt_number(lua_State *L, int t, const char *k,
                             lua_Number def)
{
    lua_Number v = def;

    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "bad option '%s' (number expected)", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* probe(host, port [, opts]) -> json, exit_status | nil, msg, code */
static int l_probe(lua_State *L)
{
    struct tlsr_probe_opts o;
    struct tlsr_error err = { 0, "" };
    struct tlsr_probe *pr;
    const char *ips[TLSR_PROBE_MAX_ADDRS], *tls, *req;
    lua_Number tries, timeout;
    size_t n = 0, i, len = 0, rlen = 0;
    luaL_Buffer b;
    char *buf;

    tlsr_probe_opts_init(&o);
    o.host = luaL_checkstring(L, 1);
    o.port = (int)luaL_checkinteger(L, 2);
    if (lua_isnoneornil(L, 3))
        lua_newtable(L);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    o.sni = opt_string(L, 3, "sni");
    o.cafile = opt_string(L, 3, "cafile");
    o.all_ips = opt_bool(L, 3, "all_ips");
    o.insecure = opt_bool(L, 3, "insecure");
    o.early_data = opt_bool(L, 3, "early_data");
    tries = opt_number(L, 3, "tries", 5);
    timeout = opt_number(L, 3, "timeout", 5);
    if (tries < 1 || tries > TLSR_PROBE_MAX_TRIES || timeout <= 0
        || timeout > 600) {
        lua_pushnil(L);
        lua_pushstring(L, "tries must be in 1..100, timeout in (0, 600] s");
        lua_pushinteger(L, TLSR_EINVAL);
        return 3;
    }
    o.tries = (int)tries;
    o.timeout_ms = timeout * 1000 < 1 ? 1 : (int)(timeout * 1000);
    tls = opt_string(L, 3, "tls");
    if (tls != NULL && strcmp(tls, "1.2") != 0 && strcmp(tls, "1.3") != 0)
        return luaL_error(L, "bad option 'tls' (\"1.2\" or \"1.3\")");
    o.versions = tls == NULL ? 0 : tls[2] == '2' ? TLSR_PROBE_TLS12
                                                : TLSR_PROBE_TLS13;
    lua_getfield(L, 3, "request");
    if (!lua_isnil(L, -1)) {
        req = luaL_checklstring(L, -1, &rlen);
        o.request = (const uint8_t *)req;
        o.request_len = rlen;
    }
    lua_getfield(L, 3, "mechanisms");           /* {"tls13", ...} */
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        for (i = 1; i <= compat_rawlen(L, -1); i++) {
            const char *m;

            lua_rawgeti(L, -1, (int)i);
            m = lua_tostring(L, -1);
            if (m != NULL && strcmp(m, "session_id") == 0)
                o.mechanisms |= 1;
            else if (m != NULL && strcmp(m, "ticket_tls12") == 0)
                o.mechanisms |= 2;
            else if (m != NULL && strcmp(m, "tls13") == 0)
                o.mechanisms |= 4;
            else
                return luaL_error(L, "bad mechanism (session_id, "
                                     "ticket_tls12 or tls13)");
            lua_pop(L, 1);
        }
    }
    lua_getfield(L, 3, "ips");                  /* {"10.0.0.1", ...} */
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        n = compat_rawlen(L, -1);
        if (n > TLSR_PROBE_MAX_ADDRS)
            return luaL_error(L, "more than 16 addresses");
        for (i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (int)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "bad option 'ips' (strings expected)");
            ips[i] = lua_tostring(L, -1);
            lua_pop(L, 1);      /* still referenced by the ips table */
        }
        o.ips = ips;
        o.n_ips = n;
    }
    pr = tlsr_probe_run(&o, &err);
    if (pr == NULL) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        lua_pushinteger(L, err.code);
        return 3;
    }
    if (tlsr_probe_json(pr, NULL, &len, &err) != 0
        || (buf = malloc(len + 1)) == NULL) {
        tlsr_probe_free(pr);
        lua_pushnil(L);
        lua_pushstring(L, "out of memory");
        lua_pushinteger(L, TLSR_ENOMEM);
        return 3;
    }
    len += 1;
    tlsr_probe_json(pr, buf, &len, &err);
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, buf, len);
    free(buf);
    luaL_pushresult(&b);
    lua_pushinteger(L, tlsr_probe_exit_status(pr));
    tlsr_probe_free(pr);
    return 2;
}
/* ---- end probe ----------------------------------------------------------- */

static const luaL_Reg session_methods[] = {
    {"serialize", l_serialize},
    {"inspect", l_inspect},
    {"set_id_context", l_set_id_context},
    {"ticket", l_ticket},
    {"close", session_free},
    {NULL, NULL}
};

static const luaL_Reg store_methods[] = {
    {"put", l_store_put},
    {"get", l_store_get},
    {"take", l_store_take},
    {"remove", l_store_remove},
    {"prune", l_store_prune},
    {"count", l_store_count},
    {"entries", l_store_entries},
    {"close", store_free},
    {NULL, NULL}
};

static const luaL_Reg codec_methods[] = {
    {"encode", l_codec_encode},
    {"decode", l_codec_decode},
    {"close", codec_free},
    {NULL, NULL}
};

static const luaL_Reg functions[] = {
    {"codec_new", l_codec_new},
    {"entry_key", l_entry_key},
    {"serialize", l_serialize},
    {"deserialize", l_deserialize},
    {"inspect", l_inspect},
    {"set_id_context", l_set_id_context},
    {"ticket", l_ticket},
    {"ticket_decrypt", l_ticket_decrypt},
    {"ticket_parse", l_ticket_parse},
    {"luasec_get_session", l_luasec_get_session},
    {"luasec_set_session", l_luasec_set_session},
    {"luasec_session_reused", l_luasec_session_reused},
    {"luasec_send_early", l_luasec_send_early},
    {"luasec_early_data_status", l_luasec_early_data_status},
    {"store_open", l_store_open},
    {"write_private", l_write_private},
    {"read_private", l_read_private},
    {"error_name", l_error_name},
    {"probe", l_probe},             /* issue 11 */
    RING_FUNCTIONS
    {NULL, NULL}
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                      lua_CFunction gc, lua_CFunction tostr)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    compat_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    if (tostr != NULL) {
        lua_pushcfunction(L, tostr);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

static void set_code(lua_State *L, int code)
{
    lua_pushinteger(L, code);
    lua_setfield(L, -2, tlsr_error_name(code) + 5); /* "TLSR_EMAC" -> "EMAC" */
}

int luaopen_tlsresume_core(lua_State *L)
{
    int c;

    new_class(L, SESSION_MT, session_methods, session_free, session_tostring);
    new_class(L, STORE_MT, store_methods, store_free, NULL);
    new_class(L, CODEC_MT, codec_methods, codec_free, NULL);
    new_class(L, RING_MT, ring_methods, ring_free, ring_tostring);
    luaL_newmetatable(L, KEYS_MT);
    lua_pushcfunction(L, keys_free);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);
    compat_setfuncs(L, functions);
    lua_pushstring(L, tlsr_version());
    lua_setfield(L, -2, "version");
    lua_pushnumber(L, (lua_Number)tlsr_openssl_version_num());
    lua_setfield(L, -2, "openssl_version_num");
    lua_newtable(L);
    for (c = TLSR_OK; c >= TLSR_ECONNECT; c--)
        set_code(L, c);
    lua_setfield(L, -2, "codes");
    return 1;
}
