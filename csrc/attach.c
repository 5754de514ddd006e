/*
 * Automatic persistence: every new client session of an attached SSL_CTX
 * goes to a store.  TLS 1.3 tickets arrive after the handshake (during
 * reads), so sessions are captured by OpenSSL's new-session callback rather
 * than read once from the connection.  The key (host, port, context) of a
 * connection sits in its SSL ex_data, set by the binding before the
 * handshake; a connection without one is never saved (the binding decides
 * the key, or that there is none: no guess here).
 *
 * The callback runs inside the application's SSL_read (or handshake), on
 * any thread, possibly while another thread writes on the same connection:
 * it only takes a reference to the session, copies the key and queues them
 * (csrc/writer.c: a bounded ring, dropped when full), never waiting for a
 * file or for the store lock, and mostly without waking anyone.  The
 * attach's writer thread, started at the first capture, writes the queue
 * into the store under the store lock; so does every tlsr_attach_lock()
 * and tlsr_attach_flush() before giving the store out, so store calls see
 * every session captured before them.  fork() and exit() have handlers
 * (writer.c, and ctx_lock's here).
 *
 * A queue attach (tlsr_attach_new_queue) has no store and no writer thread
 * (a writer.c queue): the binding pops the captures (tlsr_attach_pop) from
 * a thread of its own and writes them to a store across the network
 * (Redis), never from here.
 *
 * Locks, always taken in this order: ctx_lock (ex_data of contexts), then
 * the writer's (writer.h): its registry, att->w.lock (the store, held
 * during file I/O), att->w.qlock (the ring: the only lock the callback
 * takes).  References are atomic counters.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "peer.h"
#include "trust.h"
#include "writer.h"

enum { QUEUE_SIZE = 128 };      /* captures waiting for the writer */

/* Where a connection's sessions go. */
struct key_name {
    char host[256];
    int port;
    char context[256];
};

/* One queued capture. */
struct capture {
    SSL_SESSION *sess;          /* our reference */
    struct key_name key;
};

struct tlsr_attach {
    struct tlsri_writer w;      /* w.lock serializes store calls */
    int refs;                   /* atomic */
    struct tlsr_store *store;   /* owned */
};

/* A connection's key.  It holds a reference to the attach it was made for,
 * so a context detached while the connection is live (Python runs SSL_read
 * without the GIL) cannot free the store under the callback. */
struct attach_key {
    struct tlsr_attach *att;    /* a reference, or NULL */
    struct key_name name;
    /* The trust record of the session the binding offered: what a resumed
     * connection's new tickets inherit when the session object OpenSSL
     * resumed is not the one that carried it (CPython may copy it). */
    int has_offered;
    struct tlsr_trust offered;
};

/* ex_data indexes: allocated once per process, never change afterwards. */
static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int ctx_index = -1;
static int ssl_index = -1;

/* Context ex_data swaps and reads that take a reference: a reader never
 * retains an attach that a concurrent detach has already released. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

static void attach_retain(struct tlsr_attach *att)
{
    if (att != NULL)
        __atomic_add_fetch(&att->refs, 1, __ATOMIC_RELAXED);
}

/* Write one capture (att->w.lock held).  Failures to save are not the
 * connection's failures: ignored.  The session's trust record rides in its
 * ex_data (tlsri_trust_capture). */
static void write_one(void *owner, void *item)
{
    struct tlsr_attach *att = owner;
    struct capture *c = item;

    tlsr_store_put(att->store, c->key.host, c->key.port, c->key.context,
                   c->sess, NULL);
}

static void drop_one(void *owner, void *item)
{
    SSL_SESSION_free(((struct capture *)item)->sess);
}

static const struct tlsri_writer_ops capture_ops = { write_one, drop_one };
/* A queue attach: no writer, the binding pops (tlsr_attach_pop). */
static const struct tlsri_writer_ops queue_ops = { NULL, drop_one };

/* Queue a capture: a session reference and copies, no I/O, no wait for the
 * store lock.  0: queued; -1: dropped (ring full or not allocated). */
static int queue_push(struct tlsr_attach *att, SSL *ssl, SSL_SESSION *sess,
                      const struct attach_key *akey)
{
    struct capture c;

    /* What verified the server, read from the SSL now (it may be freed
     * before the writer runs) and kept on the session: before the lock. */
    tlsri_trust_capture(ssl, sess,
                        akey->has_offered ? &akey->offered : NULL);
    tlsri_peer_capture(ssl, sess);  /* after a lean restore (peer.c) */
    c.sess = sess;
    c.key = akey->name;
    SSL_SESSION_up_ref(sess);
    if (tlsri_writer_push(&att->w, &c) == 0)
        return 0;
    SSL_SESSION_free(sess);
    return -1;
}

/* ---- fork ---------------------------------------------------------------- */

/* ctx_lock is taken before the writers' locks (writer.c has those). */
static void fork_prepare(void)
{
    pthread_mutex_lock(&ctx_lock);
}

static void fork_release(void)
{
    pthread_mutex_unlock(&ctx_lock);
}

static void process_handlers(void)
{
    tlsri_writer_atfork(fork_prepare, fork_release, fork_release);
}

/* ---- references ---------------------------------------------------------- */

/*
 * The last reference: the writer writes what is queued and exits (joined
 * here: never call with the store locked), then the store goes.
 */
static void attach_release(struct tlsr_attach *att)
{
    if (att == NULL || __atomic_sub_fetch(&att->refs, 1, __ATOMIC_ACQ_REL))
        return;
    tlsri_writer_destroy(&att->w);
    tlsr_store_free(att->store);
    free(att);
}

static void ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    attach_release(ptr);
}

static void key_free(struct attach_key *key)
{
    if (key != NULL) {
        attach_release(key->att);
        free(key);
    }
}

static void ssl_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    key_free(ptr);
}

/* SSL_dup copies ex_data pointers: give the copy its own key. */
static int ssl_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
                      void **from_d, int idx, long argl, void *argp)
{
    struct attach_key *copy;

    if (*from_d == NULL)
        return 1;
    copy = malloc(sizeof(*copy));
    if (copy != NULL) {
        memcpy(copy, *from_d, sizeof(*copy));
        attach_retain(copy->att);
    }
    *from_d = copy;
    return 1;
}

static void init_indexes(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, ssl_ex_dup, ssl_ex_free);
}

static int indexes(struct tlsr_error *err)
{
    if (!CRYPTO_THREAD_run_once(&index_once, init_indexes)
        || ctx_index < 0 || ssl_index < 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot allocate ex_data");
    return TLSR_OK;
}

/* Inside SSL_read or the handshake: queue, never block (see the top). */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct attach_key *key;

    if (SSL_is_server(ssl))
        return 0;
    /* The connection's own key and reference: a connection the binding
     * did not key is never saved. */
    key = SSL_get_ex_data(ssl, ssl_index);
    if (key != NULL && key->att != NULL)
        queue_push(key->att, ssl, sess, key);
    return 0;   /* 0: OpenSSL keeps its reference; we took our own */
}

/* store NULL: a queue attach. */
static struct tlsr_attach *attach_make(struct tlsr_store *store,
                                       struct tlsr_error *err)
{
    struct tlsr_attach *att;

    att = calloc(1, sizeof(*att));
    if (att == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_once(&handlers_once, process_handlers);
    if (tlsri_writer_init(&att->w, sizeof(struct capture), QUEUE_SIZE,
                          store != NULL ? &capture_ops : &queue_ops, att,
                          err) != TLSR_OK) {
        free(att);
        return NULL;
    }
    att->refs = 1;
    att->store = store;
    return att;
}

TLSR_EXPORT struct tlsr_attach *tlsr_attach_new(struct tlsr_store *store,
                                                struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (store == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    return attach_make(store, err);
}

TLSR_EXPORT struct tlsr_attach *tlsr_attach_new_queue(struct tlsr_error *err)
{
    tlsri_error_clear(err);
    return attach_make(NULL, err);
}

/* The binding's thread waits here (no lock held: pushes go on). */
TLSR_EXPORT int tlsr_attach_pop(struct tlsr_attach *att, int timeout_ms,
                                char *host, int *port, char *context,
                                struct ssl_session_st **sess,
                                struct tlsr_error *err)
{
    struct capture c;

    tlsri_error_clear(err);
    if (att == NULL || att->store != NULL || host == NULL || port == NULL
        || context == NULL || sess == NULL)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "not a queue attach, or a NULL argument");
    *sess = NULL;
    if (!tlsri_writer_pop(&att->w, &c, timeout_ms))
        return 0;
    memcpy(host, c.key.host, sizeof(c.key.host));
    *port = c.key.port;
    memcpy(context, c.key.context, sizeof(c.key.context));
    *sess = c.sess;
    return 1;
}

TLSR_EXPORT int tlsr_attach_pending(struct tlsr_attach *att)
{
    return att != NULL ? (int)tlsri_writer_pending(&att->w, NULL) : 0;
}

TLSR_EXPORT void tlsr_attach_free(struct tlsr_attach *att)
{
    attach_release(att);
}

TLSR_EXPORT struct tlsr_store *tlsr_attach_lock(struct tlsr_attach *att)
{
    if (att == NULL)
        return NULL;
    pthread_mutex_lock(&att->w.lock);
    tlsri_writer_drain_locked(&att->w, -1);  /* calls see every capture */
    return att->store;          /* a queue attach: NULL, nothing drained */
}

TLSR_EXPORT void tlsr_attach_unlock(struct tlsr_attach *att)
{
    if (att != NULL)
        pthread_mutex_unlock(&att->w.lock);
}

TLSR_EXPORT int tlsr_attach_flush(struct tlsr_attach *att, int timeout_ms,
                                  struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (att == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "attach is NULL");
    return tlsri_writer_flush(&att->w, timeout_ms, err);  /* queue: OK */
}

TLSR_EXPORT struct tlsr_attach *tlsr_attach_get(const struct ssl_ctx_st *ctx)
{
    struct tlsr_attach *att;

    if (ctx == NULL || indexes(NULL) != TLSR_OK)
        return NULL;
    pthread_mutex_lock(&ctx_lock);
    att = SSL_CTX_get_ex_data(ctx, ctx_index);
    attach_retain(att);
    pthread_mutex_unlock(&ctx_lock);
    return att;
}

TLSR_EXPORT uint64_t tlsr_ctx_get_options(const struct ssl_ctx_st *ctx)
{
    return ctx != NULL ? (uint64_t)SSL_CTX_get_options(ctx) : 0;
}

TLSR_EXPORT int tlsr_attach_ctx(struct tlsr_attach *att,
                                struct ssl_ctx_st *ctx,
                                struct tlsr_error *err)
{
    struct tlsr_attach *old;
    int (*cb)(SSL *, SSL_SESSION *);
    int rc;

    tlsri_error_clear(err);
    if (ctx == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ctx is NULL");
    if ((rc = indexes(err)) != TLSR_OK)
        return rc;
    /* The ring, once: the callback never allocates. */
    if (att != NULL && (rc = tlsri_writer_reserve(&att->w, err)) != TLSR_OK)
        return rc;
    pthread_mutex_lock(&ctx_lock);
    cb = SSL_CTX_sess_get_new_cb(ctx);
    if (cb != NULL && cb != new_session_cb) {
        pthread_mutex_unlock(&ctx_lock);
        return tlsri_error_set(err, TLSR_EINVAL,
                               "context already has a new-session callback");
    }
    old = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (att == NULL) {                       /* detach */
        SSL_CTX_set_ex_data(ctx, ctx_index, NULL);
        SSL_CTX_sess_set_new_cb(ctx, NULL);
        pthread_mutex_unlock(&ctx_lock);
        attach_release(old);    /* outside ctx_lock: may join the writer */
        return TLSR_OK;
    }
    attach_retain(att);
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, att)) {
        pthread_mutex_unlock(&ctx_lock);
        attach_release(att);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set ex_data");
    }
    /* The callback fires for clients only with client caching on; the
     * internal cache stays off: the store is the cache. */
    SSL_CTX_set_session_cache_mode(ctx,
        SSL_CTX_get_session_cache_mode(ctx) | SSL_SESS_CACHE_CLIENT
            | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    pthread_mutex_unlock(&ctx_lock);
    attach_release(old);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_attach_ssl(struct ssl_st *ssl, const void *app_data,
                                const char *host, int port,
                                const char *context, struct tlsr_error *err)
{
    struct attach_key *key;
    struct tlsr_attach *att;
    int rc;

    tlsri_error_clear(err);
    if (ssl == NULL || host == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or host is NULL");
    if (context == NULL)
        context = "";
    if (host[0] == '\0' || strlen(host) >= sizeof(key->name.host)
        || strlen(context) >= sizeof(key->name.context))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "host empty or host/context too long");
    if (port < 0 || port > 65535)
        return tlsri_error_set(err, TLSR_EINVAL, "port out of range");
    if ((rc = indexes(err)) != TLSR_OK)
        return rc;
    if (app_data != NULL && SSL_get_app_data(ssl) != app_data)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "SSL does not belong to the given object");
    if (SSL_is_server(ssl))
        return tlsri_error_set(err, TLSR_EINVAL, "SSL is a server");
    key = calloc(1, sizeof(*key));
    if (key == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    /* A reference taken with the context's pointer: a concurrent detach
     * cannot release it in between. */
    att = tlsr_attach_get(SSL_get_SSL_CTX(ssl));
    if (att == NULL) {
        free(key);
        return tlsri_error_set(err, TLSR_EINVAL,
                               "the connection's context is not attached");
    }
    strcpy(key->name.host, host);
    strcpy(key->name.context, context);
    key->name.port = port;
    key->att = att;
    key_free(SSL_get_ex_data(ssl, ssl_index));
    if (!SSL_set_ex_data(ssl, ssl_index, key)) {
        key_free(key);
        SSL_set_ex_data(ssl, ssl_index, NULL);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set ex_data");
    }
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_attach_offer(struct ssl_st *ssl, const void *app_data,
                                  const struct ssl_session_st *sess,
                                  struct tlsr_error *err)
{
    struct attach_key *key;
    int rc;

    tlsri_error_clear(err);
    if (ssl == NULL || sess == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or session is NULL");
    if ((rc = indexes(err)) != TLSR_OK)
        return rc;
    if (app_data != NULL && SSL_get_app_data(ssl) != app_data)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "SSL does not belong to the given object");
    key = SSL_get_ex_data(ssl, ssl_index);
    if (key == NULL)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "the connection has no key (tlsr_attach_ssl)");
    /* No record: the offered session counts as unverified. */
    if (tlsr_session_get_trust(sess, &key->offered, NULL) != TLSR_OK)
        memset(&key->offered, 0, sizeof(key->offered));
    key->has_offered = 1;
    return TLSR_OK;
}

/*
 * A private copy of a session, so a binding can change it (e.g. clear the
 * session-id context before serializing) without touching a session a live
 * connection shares.  Belongs with csrc/session.c; here until it moves.
 */
TLSR_EXPORT struct ssl_session_st *tlsr_session_dup(
    const struct ssl_session_st *sess, struct tlsr_error *err)
{
    SSL_SESSION *copy;

    tlsri_error_clear(err);
    if (sess == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "session is NULL");
        return NULL;
    }
    copy = SSL_SESSION_dup(sess);
    if (copy == NULL)
        tlsri_error_ssl(err, TLSR_ENOMEM, "cannot copy session");
    return copy;
}

/*
 * The few cheap facts a binding compares with what its language's session
 * object reports, to check it found the right SSL_SESSION (inspect does
 * much more: certificate names and digest, a DER walk).
 */
TLSR_EXPORT int tlsr_session_get_brief(const struct ssl_session_st *sess,
                                       struct tlsr_session_brief *brief,
                                       struct tlsr_error *err)
{
    const unsigned char *p;
    unsigned int n;

    if (sess == NULL || brief == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or brief is NULL");
    memset(brief, 0, sizeof(*brief));
    brief->protocol_version = SSL_SESSION_get_protocol_version(sess);
    p = SSL_SESSION_get_id(sess, &n);
    if (n > sizeof(brief->session_id))
        n = sizeof(brief->session_id);
    memcpy(brief->session_id, p, n);
    brief->session_id_len = n;
    SSL_SESSION_get0_id_context(sess, &n);
    brief->sid_ctx_len = n;
    brief->time = SSL_SESSION_get_time(sess);
    brief->timeout = SSL_SESSION_get_timeout(sess);
    brief->has_ticket = SSL_SESSION_has_ticket(sess);
    return TLSR_OK;
}
