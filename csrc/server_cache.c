/*
 * A server's session-ID cache shared through a store: TLS 1.2 session IDs
 * and TLS 1.3 stateful tickets (SSL_OP_NO_TICKET, or early data with
 * anti-replay) made by one process resume in every process of a fleet
 * that uses the same store directory.  OpenSSL's server-side new / get /
 * remove session callbacks write, read and delete store entries; the
 * internal cache is off (SSL_SESS_CACHE_NO_INTERNAL): the store is the
 * cache, so a session another process removed is not served from memory.
 *
 * Keys (store.h, tlsri_key_init_server): the session id in hex, port 0,
 * context "server:" + scope.  No client key has port 0, so client lookups
 * never see server entries and these callbacks never see client ones.
 * OpenSSL 3.0 has no getter for a connection's session-id context, so the
 * key cannot hold it: after the get callback OpenSSL itself compares the
 * session's sid_ctx with the connection's (ssl_get_prev_session) and a
 * mismatch is a miss.
 *
 * The callbacks run on the handshake path: the get callback reads only the
 * local store (a stat when the entry's directory is cached); the new-session
 * callback writes one small file (temporary + rename, no fsync) and never
 * runs the store's eviction (see room()).  A store that fails is a miss
 * and an uncached session, never a failed handshake; the first failure
 * goes to the warn hook.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "store.h"

struct tlsr_server_cache {
    int refs;                       /* guarded by reg_lock */
    pthread_mutex_t lock;           /* serializes calls on store */
    struct tlsr_store *store;       /* our own handle (tlsri_store_dup) */
    long long count;                /* entries after our last put (lock) */
    int64_t count_checked;          /* when a full store was last re-read */
    char scope[249];
    pthread_mutex_t stat_lock;      /* stats, first error, warn hook */
    struct tlsr_server_cache_stats stats;
    int warned, warned_full;
    tlsr_warn_fn warn;
    void *warn_arg;
};

/* Guards every ctx's ex_data slot together with the references it holds:
 * a callback takes its reference under it, so a concurrent detach cannot
 * free the cache under a handshake. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int ctx_index = -1;

static void cache_release(struct tlsr_server_cache *sc)
{
    int last;

    if (sc == NULL)
        return;
    pthread_mutex_lock(&reg_lock);
    last = --sc->refs == 0;
    pthread_mutex_unlock(&reg_lock);
    if (!last)
        return;
    tlsr_store_free(sc->store);
    pthread_mutex_destroy(&sc->lock);
    pthread_mutex_destroy(&sc->stat_lock);
    free(sc);
}

static void ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    cache_release(ptr);
}

static void init_index(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
}

static int index_ok(struct tlsr_error *err)
{
    if (!CRYPTO_THREAD_run_once(&index_once, init_index) || ctx_index < 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot allocate ex_data");
    return TLSR_OK;
}

/* A reference to ctx's cache, or NULL. */
static struct tlsr_server_cache *cache_of(const SSL_CTX *ctx)
{
    struct tlsr_server_cache *sc;

    if (ctx == NULL || ctx_index < 0)
        return NULL;
    pthread_mutex_lock(&reg_lock);
    sc = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (sc != NULL)
        sc->refs++;
    pthread_mutex_unlock(&reg_lock);
    return sc;
}

static void count(struct tlsr_server_cache *sc, uint64_t *field)
{
    pthread_mutex_lock(&sc->stat_lock);
    (*field)++;
    pthread_mutex_unlock(&sc->stat_lock);
}

/* Count a problem; the first of its kind goes to the warn hook (called
 * with no lock held: a binding's hook may take its interpreter's lock). */
static void notice(struct tlsr_server_cache *sc, uint64_t *counter,
                   int *warned, int code, const char *msg)
{
    tlsr_warn_fn fn = NULL;
    void *arg = NULL;

    pthread_mutex_lock(&sc->stat_lock);
    (*counter)++;
    if (!*warned) {
        *warned = 1;
        if (sc->stats.first_error_code == 0) {
            sc->stats.first_error_code = code;
            snprintf(sc->stats.first_error, sizeof(sc->stats.first_error),
                     "%s", msg);
        }
        fn = sc->warn;
        arg = sc->warn_arg;
    }
    pthread_mutex_unlock(&sc->stat_lock);
    if (fn != NULL)
        fn(arg, code, msg);
}

static void failed(struct tlsr_server_cache *sc, const char *what,
                   const struct tlsr_error *e)
{
    char msg[TLSR_ERRMSG_SIZE];

    /* The store's message may name the key (a session id): keep only
     * what failed and the code. */
    snprintf(msg, sizeof(msg), "%s failed (%s); full handshakes while the "
             "store fails", what, tlsr_error_name(e->code));
    notice(sc, &sc->stats.failures, &sc->warned, e->code, msg);
}

/*
 * Whether a new session may be written (sc->lock held).  The store's own
 * eviction walks the whole store (seconds at 100,000 entries): never on the
 * handshake path.  A store at max_entries takes no new server sessions
 * until prune makes room; the count is re-read at most once a second.
 */
static int room(struct tlsr_server_cache *sc)
{
    int64_t now;

    if (sc->count < (long long)sc->store->max_entries)
        return 1;
    now = tlsri_now();
    if (now != sc->count_checked) {
        sc->count_checked = now;
        sc->count = tlsri_counter_add(sc->store, 0);
    }
    return sc->count < (long long)sc->store->max_entries;
}

/* TLS 1.3 sessions are looked up by id only when the server keeps state
 * (tls_parse_ctos_psk's rule); otherwise their ids are dummies. */
static int tls13_stateful(uint64_t options, uint32_t max_early_data)
{
    return (options & SSL_OP_NO_TICKET) != 0
           || (max_early_data > 0 && (options & SSL_OP_NO_ANTI_REPLAY) == 0);
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tlsr_server_cache *sc;
    struct tlsr_error e = { 0, "" };
    struct tlsri_key key;
    const unsigned char *id;
    unsigned int len;
    int rc;

    if (!SSL_is_server(ssl))
        return 0;
    if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION
        && !tls13_stateful(SSL_get_options(ssl), SSL_get_max_early_data(ssl)))
        return 0;
    id = SSL_SESSION_get_id(sess, &len);
    if (len == 0 || (sc = cache_of(SSL_get_SSL_CTX(ssl))) == NULL)
        return 0;
    if (tlsri_key_init_server(&key, id, len, sc->scope, &e) == TLSR_OK) {
        int full;

        pthread_mutex_lock(&sc->lock);
        full = !room(sc);
        rc = full ? TLSR_OK
                  : tlsri_store_put_key(sc->store, &key, sess, 0, &sc->count,
                                        &e);
        pthread_mutex_unlock(&sc->lock);
        if (full)
            notice(sc, &sc->stats.full, &sc->warned_full, TLSR_EIO,
                   "store is full (max_entries): new sessions are not "
                   "shared until it is pruned (tlsresume store prune DIR)");
        else if (rc == TLSR_OK)
            count(sc, &sc->stats.stored);
        else if (rc != TLSR_ENOTRESUMABLE)  /* already expired: no fault */
            failed(sc, "saving a session", &e);
    }
    cache_release(sc);
    return 0;   /* 0: OpenSSL keeps its reference */
}

static SSL_SESSION *get_session_cb(SSL *ssl, const unsigned char *id,
                                   int len, int *copy)
{
    struct tlsr_server_cache *sc;
    struct tlsr_error e = { 0, "" };
    struct tlsri_key key;
    SSL_SESSION *sess = NULL;
    const unsigned char *sid;
    unsigned int slen, clen;
    int take;

    *copy = 0;      /* the session we return is OpenSSL's to free */
    if (len <= 0 || (sc = cache_of(SSL_get_SSL_CTX(ssl))) == NULL)
        return NULL;
    /* With anti-replay, OpenSSL uses a TLS 1.3 session once: take it, so
     * two processes cannot both accept it. */
    take = SSL_version(ssl) == TLS1_3_VERSION
           && SSL_get_max_early_data(ssl) > 0
           && (SSL_get_options(ssl) & SSL_OP_NO_ANTI_REPLAY) == 0;
    if (tlsri_key_init_server(&key, id, (size_t)len, sc->scope, &e)
        == TLSR_OK) {
        pthread_mutex_lock(&sc->lock);
        sess = tlsri_store_fetch_key(sc->store, &key, take, NULL, NULL, &e);
        pthread_mutex_unlock(&sc->lock);
        if (sess == NULL && e.code != TLSR_ENOTFOUND)
            failed(sc, "a session lookup", &e);
    }
    if (sess != NULL) {
        sid = SSL_SESSION_get_id(sess, &slen);
        SSL_SESSION_get0_id_context(sess, &clen);
        /* Only the session asked for; and never one OpenSSL would turn
         * into a fatal error (a peer-verifying connection without a
         * session-id context): that is a miss here. */
        if (slen != (unsigned int)len || memcmp(sid, id, slen) != 0
            || (clen == 0 && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER))) {
            SSL_SESSION_free(sess);
            sess = NULL;
        }
    }
    count(sc, sess != NULL ? &sc->stats.hits : &sc->stats.misses);
    cache_release(sc);
    return sess;
}

static void remove_session_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
    struct tlsr_server_cache *sc;
    struct tlsr_error e = { 0, "" };
    struct tlsri_key key;
    const unsigned char *id;
    unsigned int len;
    int rc;

    if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION
        && !tls13_stateful(SSL_CTX_get_options(ctx),
                           SSL_CTX_get_max_early_data(ctx)))
        return;
    id = SSL_SESSION_get_id(sess, &len);
    if (len == 0 || (sc = cache_of(ctx)) == NULL)
        return;
    if (tlsri_key_init_server(&key, id, len, sc->scope, &e) == TLSR_OK) {
        pthread_mutex_lock(&sc->lock);
        rc = tlsri_store_remove_key(sc->store, &key, &e);
        pthread_mutex_unlock(&sc->lock);
        if (rc > 0)
            count(sc, &sc->stats.removed);
        else if (rc < 0)
            failed(sc, "removing a session", &e);
    }
    cache_release(sc);
}

TLSR_EXPORT struct tlsr_server_cache *tlsr_server_cache_new(
    const struct tlsr_store *store, const char *scope, struct tlsr_error *err)
{
    struct tlsr_server_cache *sc;

    tlsri_error_clear(err);
    if (store == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    if (scope == NULL)
        scope = "";
    if (strlen(scope) >= sizeof(sc->scope)) {
        tlsri_error_set(err, TLSR_EINVAL, "scope longer than 248 bytes");
        return NULL;
    }
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&sc->lock, NULL) != 0) {
        free(sc);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    if (pthread_mutex_init(&sc->stat_lock, NULL) != 0) {
        pthread_mutex_destroy(&sc->lock);
        free(sc);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    sc->refs = 1;
    sc->count = -1;
    strcpy(sc->scope, scope);
    sc->store = tlsri_store_dup(store, err);
    if (sc->store == NULL) {
        cache_release(sc);
        return NULL;
    }
    return sc;
}

TLSR_EXPORT void tlsr_server_cache_free(struct tlsr_server_cache *sc)
{
    cache_release(sc);
}

TLSR_EXPORT int tlsr_server_cache_set_warn(struct tlsr_server_cache *sc,
                                           tlsr_warn_fn fn, void *arg,
                                           struct tlsr_error *err)
{
    if (sc == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "cache is NULL");
    pthread_mutex_lock(&sc->stat_lock);
    sc->warn = fn;
    sc->warn_arg = arg;
    pthread_mutex_unlock(&sc->stat_lock);
    tlsri_error_clear(err);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_server_cache_stats(struct tlsr_server_cache *sc,
                                        struct tlsr_server_cache_stats *out,
                                        struct tlsr_error *err)
{
    if (sc == NULL || out == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "cache or stats is NULL");
    pthread_mutex_lock(&sc->stat_lock);
    *out = sc->stats;
    pthread_mutex_unlock(&sc->stat_lock);
    tlsri_error_clear(err);
    return TLSR_OK;
}

TLSR_EXPORT struct tlsr_server_cache *tlsr_server_cache_get(
    const struct ssl_ctx_st *ctx)
{
    if (index_ok(NULL) != TLSR_OK)
        return NULL;
    return cache_of(ctx);
}

TLSR_EXPORT int tlsr_server_cache_ctx(struct tlsr_server_cache *sc,
                                      struct ssl_ctx_st *ctx,
                                      struct tlsr_error *err)
{
    struct tlsr_server_cache *old;
    int rc;

    tlsri_error_clear(err);
    if (ctx == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ctx is NULL");
    if ((rc = index_ok(err)) != TLSR_OK)
        return rc;
    pthread_mutex_lock(&reg_lock);
    old = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (sc == NULL) {                           /* detach */
        if (old != NULL) {
            SSL_CTX_set_ex_data(ctx, ctx_index, NULL);
            SSL_CTX_sess_set_new_cb(ctx, NULL);
            SSL_CTX_sess_set_get_cb(ctx, NULL);
            SSL_CTX_sess_set_remove_cb(ctx, NULL);
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        }
        pthread_mutex_unlock(&reg_lock);
        cache_release(old);
        return TLSR_OK;
    }
    if ((SSL_CTX_sess_get_new_cb(ctx) != NULL
         && SSL_CTX_sess_get_new_cb(ctx) != new_session_cb)
        || (SSL_CTX_sess_get_get_cb(ctx) != NULL
            && SSL_CTX_sess_get_get_cb(ctx) != get_session_cb)
        || (SSL_CTX_sess_get_remove_cb(ctx) != NULL
            && SSL_CTX_sess_get_remove_cb(ctx) != remove_session_cb)) {
        pthread_mutex_unlock(&reg_lock);
        return tlsri_error_set(err, TLSR_EINVAL, "context already has session "
                               "callbacks of its own (a client attach, or "
                               "the application's)");
    }
    if (old != NULL) {
        int same = old == sc || (strcmp(old->scope, sc->scope) == 0
                                 && tlsri_store_same(old->store, sc->store));

        pthread_mutex_unlock(&reg_lock);
        if (same)
            return TLSR_OK;     /* idempotent */
        return tlsri_error_set(err, TLSR_EINVAL, "context already shares its "
                               "session cache through another store or "
                               "scope: detach it first");
    }
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, sc)) {
        pthread_mutex_unlock(&reg_lock);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set ex_data");
    }
    sc->refs++;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER
                                        | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    SSL_CTX_sess_set_get_cb(ctx, get_session_cb);
    SSL_CTX_sess_set_remove_cb(ctx, remove_session_cb);
    pthread_mutex_unlock(&reg_lock);
    return TLSR_OK;
}
