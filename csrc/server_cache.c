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
 * The callbacks run on the handshake path, often in an event loop: the
 * new-session and remove callbacks only queue a job (a copy of the session
 * or its id; csrc/writer.c: a bounded ring, no I/O, never a wait for the
 * store) that the cache's writer thread writes within ~20 ms (one small
 * file: temporary + rename, no fsync; the store's eviction never runs, see
 * room()).  The remove is queued too: an unlink is directory I/O, and a
 * synchronous one would have to wait for the write of the same id (it
 * must land after it).  The get callback first looks at the queue (the
 * newest job for the id decides: a session not yet written resumes, a
 * queued removal is a miss), then reads the local store (a stat when the
 * entry's directory is cached) on the handshake's thread without the
 * write lock: a store handle's only mutable state is its caches, which
 * have their own mutex, and its files are made for concurrent processes.
 * Other processes see a new session once written: tlsr_server_cache_flush
 * writes the queue now.  A store that fails is a miss and an uncached
 * session, never a failed handshake; the first failure goes to the warn
 * hook, called on a handshake's (or flush's) thread, never the writer's:
 * a binding's hook may need a lock (its interpreter's) held by a thread
 * that waits for the writer.
 *
 * Or the entries live in Redis (server_cache_redis.c): the same jobs and
 * queue, the writer sends them; a lookup not answered by the queue asks
 * Redis, bounded by its lookup timeout.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "server_cache_redis.h"
#include "store.h"
#include "writer.h"

enum { JOB_NONE, JOB_PUT, JOB_REMOVE, PENDING_MAX = 3 };

/* Jobs waiting for the writer: a server makes sessions in bursts (every
 * full handshake), and the writer looks every 20 ms when busy. */
enum { QUEUE_SIZE = 1024 };

/* One queued write. */
struct job {
    int op;                         /* JOB_*; NONE: taken by a lookup */
    SSL_SESSION *sess;              /* JOB_PUT: our private copy */
    unsigned int id_len;
    unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
};

struct tlsr_server_cache {
    struct tlsri_writer w;          /* w.lock: writes, count, count_checked */
    int refs;                       /* guarded by reg_lock */
    struct tlsr_store *store;       /* our own handle (tlsri_store_dup) */
    struct tlsri_scache_redis *redis;   /* or Redis (server_cache_redis.c) */
    long long count;                /* entries after our last put */
    int64_t count_checked;          /* when a full store was last re-read */
    char scope[249];
    pthread_mutex_t stat_lock;      /* stats, first error, warn hook */
    struct tlsr_server_cache_stats stats;
    int warned, warned_full, warned_dropped;
    tlsr_warn_fn warn;
    void *warn_arg;
    /* Warnings not yet given to the hook (see the top). */
    int npending;
    int pending_code[PENDING_MAX];
    char pending_msg[PENDING_MAX][TLSR_ERRMSG_SIZE];
};

/* Guards every ctx's ex_data slot together with the references it holds:
 * a callback takes its reference under it, so a concurrent detach cannot
 * free the cache under a handshake. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int ctx_index = -1;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

/* fork(): reg_lock is taken before the writers' locks (writer.c). */
static void fork_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
}

static void fork_release(void)
{
    pthread_mutex_unlock(&reg_lock);
}

static void process_handlers(void)
{
    tlsri_writer_atfork(fork_prepare, fork_release, fork_release);
}

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
    if (sc->w.ops != NULL)
        tlsri_writer_destroy(&sc->w);   /* writes what is queued */
    tlsr_store_free(sc->store);
    tlsri_scache_redis_free(sc->redis);
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

/* Count a problem; the first of its kind is kept for the warn hook
 * (deliver()). */
static void notice(struct tlsr_server_cache *sc, uint64_t *counter,
                   int *warned, int code, const char *msg)
{
    pthread_mutex_lock(&sc->stat_lock);
    (*counter)++;
    if (!*warned) {
        *warned = 1;
        if (sc->stats.first_error_code == 0) {
            sc->stats.first_error_code = code;
            snprintf(sc->stats.first_error, sizeof(sc->stats.first_error),
                     "%s", msg);
        }
        if (sc->npending < PENDING_MAX) {
            sc->pending_code[sc->npending] = code;
            snprintf(sc->pending_msg[sc->npending],
                     sizeof(sc->pending_msg[0]), "%s", msg);
            sc->npending++;
        }
    }
    pthread_mutex_unlock(&sc->stat_lock);
}

/* Give kept warnings to the hook, with no lock held (a binding's hook may
 * take its interpreter's lock); never on the writer thread. */
static void deliver(struct tlsr_server_cache *sc)
{
    char msg[PENDING_MAX][TLSR_ERRMSG_SIZE];
    int code[PENDING_MAX], n, i;
    tlsr_warn_fn fn;
    void *arg;

    pthread_mutex_lock(&sc->stat_lock);
    n = sc->npending;
    sc->npending = 0;
    fn = sc->warn;
    arg = sc->warn_arg;
    for (i = 0; i < n; i++) {
        code[i] = sc->pending_code[i];
        memcpy(msg[i], sc->pending_msg[i], sizeof(msg[i]));
    }
    pthread_mutex_unlock(&sc->stat_lock);
    for (i = 0; fn != NULL && i < n; i++)
        fn(arg, code[i], msg[i]);
}

static void failed(struct tlsr_server_cache *sc, const char *what,
                   const struct tlsr_error *e)
{
    char msg[TLSR_ERRMSG_SIZE];

    /* The store's message may name the key (a session id): keep only
     * what failed and the code.  Not reaching Redis (resolve, connect, a
     * refused password: TLSR_ECONNECT) names neither: its words say which
     * of those it is. */
    snprintf(msg, sizeof(msg), "%s failed (%s%s%.120s); full handshakes "
             "while the store fails", what, tlsr_error_name(e->code),
             e->code == TLSR_ECONNECT ? ": " : "",
             e->code == TLSR_ECONNECT ? e->msg : "");
    notice(sc, &sc->stats.failures, &sc->warned, e->code, msg);
}

/*
 * Whether a new session may be written (sc->w.lock held).  The store's own
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

/* ---- the writer's side (sc->w.lock held) -------------------------------- */

static void write_put(struct tlsr_server_cache *sc, const struct job *j,
                      const struct tlsri_key *key)
{
    struct tlsr_error e = { 0, "" };
    int rc;

    /* Redis evicts by its own policy; a store keeps max_entries. */
    if (sc->redis == NULL && !room(sc)) {
        notice(sc, &sc->stats.full, &sc->warned_full, TLSR_EIO,
               "store is full (max_entries): new sessions are not shared "
               "until it is pruned (tlsresume store prune DIR)");
        return;
    }
    rc = sc->redis != NULL
         ? tlsri_scache_redis_put(sc->redis, key, j->sess, &e)
         : tlsri_store_put_key(sc->store, key, j->sess, 0, &sc->count, &e);
    if (rc == TLSR_OK)
        count(sc, &sc->stats.stored);
    else if (rc != TLSR_ENOTRESUMABLE)      /* already expired: no fault */
        failed(sc, "saving a session", &e);
}

static void write_job(void *owner, void *item)
{
    struct tlsr_server_cache *sc = owner;
    struct job *j = item;
    struct tlsr_error e = { 0, "" };
    struct tlsri_key key;
    int rc;

    if (j->op != JOB_NONE
        && tlsri_key_init_server(&key, j->id, j->id_len, sc->scope, &e)
           == TLSR_OK) {
        if (j->op == JOB_PUT) {
            write_put(sc, j, &key);
        } else {
            rc = sc->redis != NULL
                     ? tlsri_scache_redis_remove(sc->redis, &key, &e)
                     : tlsri_store_remove_key(sc->store, &key, &e);
            if (rc > 0)
                count(sc, &sc->stats.removed);
            else if (rc < 0)
                failed(sc, "removing a session", &e);
        }
    }
}

static void drop_job(void *owner, void *item)
{
    SSL_SESSION_free(((struct job *)item)->sess);
}

static const struct tlsri_writer_ops job_ops = { write_job, drop_job };

/* ---- the callbacks (handshake path: no I/O but the get's read) ---------- */

/* Queue a job; a full queue loses it (counted, warned once). */
static void queue(struct tlsr_server_cache *sc, int op, SSL_SESSION *copy,
                  const unsigned char *id, unsigned int len)
{
    struct job j;

    memset(&j, 0, sizeof(j));
    j.op = op;
    j.sess = copy;
    j.id_len = len;
    memcpy(j.id, id, len);
    if (tlsri_writer_push(&sc->w, &j) != 0) {
        SSL_SESSION_free(copy);
        notice(sc, &sc->stats.dropped, &sc->warned_dropped, TLSR_EIO,
               "writes fall behind (1024 queued): new sessions are not "
               "shared while the store is this slow");
    }
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tlsr_server_cache *sc;
    const unsigned char *id;
    SSL_SESSION *copy;
    unsigned int len;

    if (!SSL_is_server(ssl))
        return 0;
    if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION
        && !tls13_stateful(SSL_get_options(ssl), SSL_get_max_early_data(ssl)))
        return 0;
    id = SSL_SESSION_get_id(sess, &len);
    if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH
        || (sc = cache_of(SSL_get_SSL_CTX(ssl))) == NULL)
        return 0;
    /* A private copy: the connection keeps changing its own (OpenSSL
     * marks it not resumable in place on a bad close). */
    copy = SSL_SESSION_dup(sess);
    if (copy != NULL)
        queue(sc, JOB_PUT, copy, id, len);
    deliver(sc);
    cache_release(sc);
    return 0;   /* 0: OpenSSL keeps its reference */
}

/* A lookup in the queue, newest job first. */
struct find {
    const unsigned char *id;
    unsigned int len;
    int take;
    SSL_SESSION *sess;              /* a reference, when found */
};

static int find_job(void *arg, void *item, int writing)
{
    struct find *f = arg;
    struct job *j = item;

    if (j->op == JOB_NONE || j->id_len != f->len
        || memcmp(j->id, f->id, f->len) != 0)
        return 0;
    if (j->op == JOB_REMOVE)
        return -1;                  /* removed: a miss, not in the store */
    if (f->take && writing)
        return -1;      /* going to the store as we look: one taker is
                         * not assured, so a miss (a full handshake) */
    if (f->take) {                  /* never written: no one else has it */
        f->sess = j->sess;
        j->sess = NULL;
        j->op = JOB_NONE;
    } else {
        SSL_SESSION_up_ref(j->sess);
        f->sess = j->sess;
    }
    return 1;
}

static SSL_SESSION *get_session_cb(SSL *ssl, const unsigned char *id,
                                   int len, int *copy)
{
    struct tlsr_server_cache *sc;
    struct tlsr_error e = { 0, "" };
    struct tlsri_key key;
    struct find f;
    SSL_SESSION *sess = NULL;
    const unsigned char *sid;
    unsigned int slen, clen;
    int queued;

    *copy = 0;      /* the session we return is OpenSSL's to free */
    if (len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH
        || (sc = cache_of(SSL_get_SSL_CTX(ssl))) == NULL)
        return NULL;
    /* With anti-replay, OpenSSL uses a TLS 1.3 session once: take it, so
     * two processes cannot both accept it. */
    f.take = SSL_version(ssl) == TLS1_3_VERSION
             && SSL_get_max_early_data(ssl) > 0
             && (SSL_get_options(ssl) & SSL_OP_NO_ANTI_REPLAY) == 0;
    f.id = id;
    f.len = (unsigned int)len;
    f.sess = NULL;
    queued = tlsri_writer_find(&sc->w, find_job, &f);
    if (queued > 0) {
        /* Never the queue's object: OpenSSL changes a session it resumes
         * (not_resumable) while the writer may be serializing it. */
        sess = SSL_SESSION_dup(f.sess);
        SSL_SESSION_free(f.sess);
    } else if (queued == 0
               && tlsri_key_init_server(&key, id, (size_t)len, sc->scope, &e)
                  == TLSR_OK) {
        /* No write lock (see the top): never waits for the writer. */
        sess = sc->redis != NULL
               ? tlsri_scache_redis_fetch(sc->redis, &key, f.take, &e)
               : tlsri_store_fetch_key(sc->store, &key, f.take, NULL, NULL,
                                       &e);
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
    /* OpenSSL's anti-replay check accepts a stateful ticket only if it
     * removes it from the internal cache (tls_parse_ctos_psk: "Check for
     * replay"), where NO_INTERNAL_STORE never put it: put it there for
     * that removal, which follows at once.  Lookups never read it. */
    if (sess != NULL && f.take)
        SSL_CTX_add_session(SSL_get_SSL_CTX(ssl), sess);
    count(sc, sess != NULL ? &sc->stats.hits : &sc->stats.misses);
    deliver(sc);
    cache_release(sc);
    return sess;
}

static void remove_session_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
    struct tlsr_server_cache *sc;
    const unsigned char *id;
    unsigned int len;

    if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION
        && !tls13_stateful(SSL_CTX_get_options(ctx),
                           SSL_CTX_get_max_early_data(ctx)))
        return;
    id = SSL_SESSION_get_id(sess, &len);
    if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH
        || (sc = cache_of(ctx)) == NULL)
        return;
    queue(sc, JOB_REMOVE, NULL, id, len);
    deliver(sc);
    cache_release(sc);
}

/* A cache with no backend yet; NULL and err on failure. */
static struct tlsr_server_cache *cache_alloc(const char *scope,
                                             struct tlsr_error *err)
{
    struct tlsr_server_cache *sc;

    tlsri_error_clear(err);
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
    if (pthread_mutex_init(&sc->stat_lock, NULL) != 0) {
        free(sc);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    sc->refs = 1;
    sc->count = -1;
    strcpy(sc->scope, scope);
    pthread_once(&handlers_once, process_handlers);
    return sc;
}

/* The writer and its ring (now: a callback never allocates it). */
static struct tlsr_server_cache *cache_start(struct tlsr_server_cache *sc,
                                             struct tlsr_error *err)
{
    if (tlsri_writer_init(&sc->w, sizeof(struct job), QUEUE_SIZE, &job_ops,
                          sc, err) != TLSR_OK
        || tlsri_writer_reserve(&sc->w, err) != TLSR_OK) {
        cache_release(sc);
        return NULL;
    }
    return sc;
}

TLSR_EXPORT struct tlsr_server_cache *tlsr_server_cache_new(
    const struct tlsr_store *store, const char *scope, struct tlsr_error *err)
{
    struct tlsr_server_cache *sc;

    if (store == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    if ((sc = cache_alloc(scope, err)) == NULL)
        return NULL;
    if ((sc->store = tlsri_store_dup(store, err)) == NULL) {
        cache_release(sc);
        return NULL;
    }
    return cache_start(sc, err);
}

TLSR_EXPORT struct tlsr_server_cache *tlsr_server_cache_new_redis(
    const struct tlsr_redis_options *redis, const struct tlsr_codec *codec,
    const char *scope, struct tlsr_error *err)
{
    struct tlsr_server_cache *sc;

    if ((sc = cache_alloc(scope, err)) == NULL)
        return NULL;
    if ((sc->redis = tlsri_scache_redis_new(redis, codec, err)) == NULL) {
        cache_release(sc);
        return NULL;
    }
    return cache_start(sc, err);
}

TLSR_EXPORT void tlsr_server_cache_free(struct tlsr_server_cache *sc)
{
    cache_release(sc);
}

TLSR_EXPORT int tlsr_server_cache_flush(struct tlsr_server_cache *sc,
                                        int timeout_ms,
                                        struct tlsr_error *err)
{
    int rc;

    tlsri_error_clear(err);
    if (sc == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "cache is NULL");
    rc = tlsri_writer_flush(&sc->w, timeout_ms, err);
    deliver(sc);
    return rc;
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
        int same = old == sc
                   || (strcmp(old->scope, sc->scope) == 0
                       && (old->store != NULL && sc->store != NULL
                               ? tlsri_store_same(old->store, sc->store)
                               : old->redis != NULL && sc->redis != NULL
                                     && tlsri_scache_redis_same(old->redis,
                                                                sc->redis)));

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
