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
 * (a bounded ring; dropped when full), never waiting for a file or for the
 * store lock, and mostly without waking anyone (see writer_main).  A
 * writer thread per attach, started at the first capture, writes the queue
 * into the store under the store lock; so does every tlsr_attach_lock()
 * and tlsr_attach_flush() before giving the store out, so store calls see
 * every session captured before them.  fork() and exit() have handlers
 * (see there).
 *
 * A queue attach (tlsr_attach_new_queue) has no store and no writer: the
 * binding pops the captures (tlsr_attach_pop) from a thread of its own and
 * writes them to a store across the network (Redis), never from here.
 *
 * Locks, always taken in this order: reg_lock (fork handlers, registry),
 * ctx_lock (ex_data of contexts), att->lock (the store, held during file
 * I/O), att->qlock (the ring and counters: never held during I/O; the only
 * lock the callback takes).
 */
#define _GNU_SOURCE     /* PTHREAD_MUTEX_ADAPTIVE_NP, where there is one */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "peer.h"
#include "trust.h"

enum {
    QUEUE_SIZE = 128,           /* sessions waiting for the writer */
    POLL_MS = 20,               /* the writer's look at the ring, when busy */
    IDLE_S = 2,                 /* then it sleeps until woken */
    EXIT_FLUSH_S = 2,           /* exit() writes what is queued this long */
    EXIT_WAIT_S = 3             /* and waits this much more for a write */
};

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
    pthread_mutex_t lock;       /* serializes store calls (file I/O) */
    pthread_mutex_t qlock;      /* ring, refs, writer state; short holds */
    pthread_cond_t wake;        /* the writer waits here (qlock) */
    int refs;
    struct tlsr_store *store;   /* owned */
    struct capture *ring;       /* QUEUE_SIZE, allocated by tlsr_attach_ctx */
    unsigned int head, count;
    unsigned long dropped;      /* captures lost to a full ring */
    int writer;                 /* 1: the writer thread runs */
    int idle;                   /* 1: the writer sleeps until woken */
    int stop;                   /* 1: the writer drains and exits */
    int exiting;                /* process exit: captures are dropped */
    int closed;                 /* process exit, written: no more writes */
    unsigned int stale;         /* fork child: the parent's, at head */
    pthread_t thread;
    struct tlsr_attach *prev, *next;    /* registry (fork handlers) */
    double last_pop;            /* queue attach: when pop last found one */
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

/* Every live attach, for the fork and exit handlers. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlsr_attach *registry;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

/* Context ex_data swaps and reads that take a reference: a reader never
 * retains an attach that a concurrent detach has already released. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

static void attach_retain(struct tlsr_attach *att)
{
    if (att != NULL) {
        pthread_mutex_lock(&att->qlock);
        att->refs++;
        pthread_mutex_unlock(&att->qlock);
    }
}

/* ---- the queue ----------------------------------------------------------- */

/* A fork child drops what its parent had queued (the parent writes those:
 * never twice); qlock held. */
static void drop_stale(struct tlsr_attach *att)
{
    while (att->stale > 0 && att->count > 0) {
        SSL_SESSION_free(att->ring[att->head].sess);
        att->head = (att->head + 1) % QUEUE_SIZE;
        att->count--;
        att->stale--;
    }
}

/* Pop the oldest capture into *out; 0 if the ring is empty. */
static int queue_pop(struct tlsr_attach *att, struct capture *out)
{
    int got = 0;

    pthread_mutex_lock(&att->qlock);
    drop_stale(att);
    if (att->count > 0 && !att->closed) {
        *out = att->ring[att->head];
        att->head = (att->head + 1) % QUEUE_SIZE;
        att->count--;
        got = 1;
    }
    pthread_mutex_unlock(&att->qlock);
    return got;
}

/* Write one capture (att->lock held).  Failures to save are not the
 * connection's failures: ignored.  The session's trust record rides in its
 * ex_data (tlsri_trust_capture). */
static void write_one(struct tlsr_attach *att, struct capture *c)
{
    if (att->store != NULL)     /* a queue attach's are only freed */
        tlsr_store_put(att->store, c->key.host, c->key.port, c->key.context,
                       c->sess, NULL);
    SSL_SESSION_free(c->sess);
}

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write the queue (att->lock held) until it is empty, or until the
 * monotonic time `until` (< 0: no limit).  1 if it emptied. */
static int drain_locked(struct tlsr_attach *att, double until)
{
    struct capture c;

    while (queue_pop(att, &c)) {
        write_one(att, &c);
        if (until >= 0 && mono_now() >= until) {
            int empty;

            pthread_mutex_lock(&att->qlock);
            empty = att->count == 0;
            pthread_mutex_unlock(&att->qlock);
            return empty;
        }
    }
    return 1;
}

/* Wait on att->wake (qlock held) until the monotonic time `until`. */
static void wait_until(struct tlsr_attach *att, double until)
{
    struct timespec ts;

    ts.tv_sec = (time_t)until;
    ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&att->wake, &att->qlock, &ts);
}

/*
 * The writer looks at the ring every POLL_MS while captures keep coming,
 * so the callback need not wake it: waking a thread costs a system call
 * and often a cross-CPU interrupt, tens of microseconds on a virtual
 * machine, inside SSL_read.  After IDLE_S without captures it sleeps
 * until a capture wakes it (att->idle: the callback then pays once).
 */
static void *writer_main(void *arg)
{
    struct tlsr_attach *att = arg;
    double last = mono_now(), now;

    pthread_mutex_lock(&att->qlock);
    for (;;) {
        if ((att->count == 0 && att->stop) || att->closed)
            break;
        if (att->count == 0) {
            now = mono_now();
            if (now - last < IDLE_S) {
                wait_until(att, now + POLL_MS / 1000.0);
            } else {
                att->idle = 1;
                while (att->idle && !att->stop && !att->closed)
                    pthread_cond_wait(&att->wake, &att->qlock);
                att->idle = 0;
            }
            continue;
        }
        pthread_mutex_unlock(&att->qlock);
        pthread_mutex_lock(&att->lock);
        drain_locked(att, -1);
        pthread_mutex_unlock(&att->lock);
        last = mono_now();
        pthread_mutex_lock(&att->qlock);
    }
    pthread_mutex_unlock(&att->qlock);
    return NULL;
}

/* Start the writer (qlock held).  Signals go to the application's threads,
 * never to ours.  On failure the queue waits for the next lock or flush. */
static void writer_start(struct tlsr_attach *att)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    att->writer = pthread_create(&att->thread, NULL, writer_main, att) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Queue a capture: a session reference and copies, no I/O, no wait for the
 * store lock.  0: queued; -1: dropped (ring full or not allocated). */
static int queue_push(struct tlsr_attach *att, SSL *ssl, SSL_SESSION *sess,
                      const struct attach_key *akey)
{
    const struct key_name *key = &akey->name;
    struct capture *c;
    int wake;

    /* What verified the server, read from the SSL now (it may be freed
     * before the writer runs) and kept on the session: before the lock. */
    tlsri_trust_capture(ssl, sess,
                        akey->has_offered ? &akey->offered : NULL);
    tlsri_peer_capture(ssl, sess);  /* after a lean restore (peer.c) */
    pthread_mutex_lock(&att->qlock);
    drop_stale(att);
    if (att->ring == NULL || att->count == QUEUE_SIZE || att->exiting) {
        att->dropped++;
        pthread_mutex_unlock(&att->qlock);
        return -1;
    }
    c = &att->ring[(att->head + att->count) % QUEUE_SIZE];
    SSL_SESSION_up_ref(sess);
    c->sess = sess;
    c->key = *key;
    att->count++;
    if (!att->writer && att->store != NULL)
        writer_start(att);
    /* Wake the writer only from its long sleep (see writer_main), and
     * after the unlock: it would wake into a held lock. */
    wake = att->idle;
    att->idle = 0;
    pthread_mutex_unlock(&att->qlock);
    if (wake)
        pthread_cond_signal(&att->wake);
    return 0;
}

/* A condition variable whose timed waits count in CLOCK_MONOTONIC. */
static int cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc;

    if (pthread_condattr_init(&a) != 0)
        return -1;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* ---- fork ---------------------------------------------------------------- */

/*
 * fork() while the writer holds a lock would leave the child a lock no one
 * releases: the parent waits for every store lock first (the current write
 * ends; at most one store call), and the child, which has no writer thread,
 * starts one again at its next capture.  Do not fork between
 * tlsr_attach_lock() and tlsr_attach_unlock().
 */
static void fork_prepare(void)
{
    struct tlsr_attach *att;

    pthread_mutex_lock(&reg_lock);
    pthread_mutex_lock(&ctx_lock);
    for (att = registry; att != NULL; att = att->next) {
        pthread_mutex_lock(&att->lock);
        pthread_mutex_lock(&att->qlock);
    }
}

static void fork_parent(void)
{
    struct tlsr_attach *att;

    for (att = registry; att != NULL; att = att->next) {
        pthread_mutex_unlock(&att->qlock);
        pthread_mutex_unlock(&att->lock);
    }
    pthread_mutex_unlock(&ctx_lock);
    pthread_mutex_unlock(&reg_lock);
}

static void fork_child(void)
{
    struct tlsr_attach *att;

    for (att = registry; att != NULL; att = att->next) {
        /* The writer is not in the child; a condition variable it waited
         * on would keep its waiter count: a fresh one. */
        att->writer = 0;
        att->idle = 0;
        att->stop = 0;
        att->stale = att->count;
        cond_init(&att->wake);
        pthread_mutex_unlock(&att->qlock);
        pthread_mutex_unlock(&att->lock);
    }
    pthread_mutex_unlock(&ctx_lock);
    pthread_mutex_unlock(&reg_lock);
}

/*
 * exit() runs OpenSSL's own atexit cleanup, which frees what a store write
 * uses (a writer still writing then crashes): ours, registered after
 * OpenSSL's, runs before it.  It writes what is queued (EXIT_FLUSH_S in
 * all: a process that exits right after a connection keeps its session),
 * then closes every attach: captures are dropped, no write starts again,
 * and the one in progress has ended (we held the store lock).
 */
static void at_exit(void)
{
    struct tlsr_attach *att;
    struct timespec abs;
    double until = mono_now() + EXIT_FLUSH_S;

    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += EXIT_FLUSH_S + EXIT_WAIT_S;
    pthread_mutex_lock(&reg_lock);
    for (att = registry; att != NULL; att = att->next) {
        int locked;

        pthread_mutex_lock(&att->qlock);
        att->exiting = 1;
        pthread_mutex_unlock(&att->qlock);
        locked = pthread_mutex_timedlock(&att->lock, &abs) == 0;
        if (locked && att->store != NULL)
            drain_locked(att, until);
        pthread_mutex_lock(&att->qlock);
        att->closed = 1;
        pthread_cond_signal(&att->wake);
        pthread_mutex_unlock(&att->qlock);
        if (locked)
            pthread_mutex_unlock(&att->lock);
    }
    pthread_mutex_unlock(&reg_lock);
}

static void process_handlers(void)
{
    /* OpenSSL registers its atexit cleanup when it initializes: first. */
    OPENSSL_init_crypto(0, NULL);
    atexit(at_exit);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- references ---------------------------------------------------------- */

/*
 * The last reference: the writer writes what is queued and exits (joined
 * here: never call with the store locked), then the store goes.
 */
static void attach_release(struct tlsr_attach *att)
{
    int last, writer;

    if (att == NULL)
        return;
    pthread_mutex_lock(&att->qlock);
    last = --att->refs == 0;
    writer = last && att->writer;
    if (writer) {
        att->stop = 1;
        pthread_cond_signal(&att->wake);
    }
    pthread_mutex_unlock(&att->qlock);
    if (!last)
        return;
    if (writer)
        pthread_join(att->thread, NULL);
    pthread_mutex_lock(&att->lock);     /* no writer (fork child, failed) */
    drain_locked(att, -1);
    pthread_mutex_unlock(&att->lock);
    pthread_mutex_lock(&reg_lock);
    if (att->prev != NULL)
        att->prev->next = att->next;
    else
        registry = att->next;
    if (att->next != NULL)
        att->next->prev = att->prev;
    pthread_mutex_unlock(&reg_lock);
    tlsr_store_free(att->store);
    free(att->ring);
    pthread_cond_destroy(&att->wake);
    pthread_mutex_destroy(&att->qlock);
    pthread_mutex_destroy(&att->lock);
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

/* The ring lock is held for a few copies: spin a little before sleeping
 * (glibc's adaptive mutex) rather than pay a wake-up in the callback. */
static int qlock_init(pthread_mutex_t *m)
{
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    pthread_mutexattr_t a;
    int rc;

    if (pthread_mutexattr_init(&a) != 0)
        return -1;
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
#else
    return pthread_mutex_init(m, NULL);
#endif
}

static struct tlsr_attach *attach_make(struct tlsr_store *store,
                                       struct tlsr_error *err)
{
    struct tlsr_attach *att;

    att = calloc(1, sizeof(*att));
    if (att == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&att->lock, NULL) != 0) {
        free(att);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    if (qlock_init(&att->qlock) != 0) {
        pthread_mutex_destroy(&att->lock);
        free(att);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    if (cond_init(&att->wake) != 0) {
        pthread_mutex_destroy(&att->qlock);
        pthread_mutex_destroy(&att->lock);
        free(att);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a condition");
        return NULL;
    }
    att->refs = 1;
    att->store = store;
    pthread_once(&handlers_once, process_handlers);
    pthread_mutex_lock(&reg_lock);
    att->next = registry;
    if (registry != NULL)
        registry->prev = att;
    registry = att;
    pthread_mutex_unlock(&reg_lock);
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

/*
 * Like the writer: while captures keep coming, look at the ring every
 * POLL_MS (the callback wakes no one); after IDLE_S without any, sleep
 * until a capture wakes us (the callback then pays once) or time is up.
 */
TLSR_EXPORT int tlsr_attach_pop(struct tlsr_attach *att, int timeout_ms,
                                char *host, int *port, char *context,
                                struct ssl_session_st **sess,
                                struct tlsr_error *err)
{
    struct capture c;
    double until, now;

    tlsri_error_clear(err);
    if (att == NULL || att->store != NULL || host == NULL || port == NULL
        || context == NULL || sess == NULL)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "not a queue attach, or a NULL argument");
    *sess = NULL;
    until = mono_now() + (timeout_ms > 0 ? timeout_ms / 1000.0 : 0);
    for (;;) {
        if (queue_pop(att, &c)) {
            memcpy(host, c.key.host, sizeof(c.key.host));
            *port = c.key.port;
            memcpy(context, c.key.context, sizeof(c.key.context));
            *sess = c.sess;
            pthread_mutex_lock(&att->qlock);
            att->last_pop = mono_now();
            pthread_mutex_unlock(&att->qlock);
            return 1;
        }
        now = mono_now();
        if (now >= until)
            return 0;
        pthread_mutex_lock(&att->qlock);
        if (att->count == 0 && !att->closed) {
            if (now - att->last_pop < IDLE_S) {
                wait_until(att, now + POLL_MS / 1000.0 < until
                                    ? now + POLL_MS / 1000.0 : until);
            } else {
                att->idle = 1;
                wait_until(att, until);
                att->idle = 0;
            }
        }
        if (att->closed) {
            pthread_mutex_unlock(&att->qlock);
            return 0;
        }
        pthread_mutex_unlock(&att->qlock);
    }
}

TLSR_EXPORT int tlsr_attach_pending(struct tlsr_attach *att)
{
    int n;

    if (att == NULL)
        return 0;
    pthread_mutex_lock(&att->qlock);
    n = (int)(att->count - (att->stale < att->count ? att->stale
                                                     : att->count));
    pthread_mutex_unlock(&att->qlock);
    return n;
}

TLSR_EXPORT void tlsr_attach_free(struct tlsr_attach *att)
{
    attach_release(att);
}

TLSR_EXPORT struct tlsr_store *tlsr_attach_lock(struct tlsr_attach *att)
{
    if (att == NULL)
        return NULL;
    pthread_mutex_lock(&att->lock);
    if (att->store != NULL)
        drain_locked(att, -1);  /* calls see every captured session */
    return att->store;
}

TLSR_EXPORT void tlsr_attach_unlock(struct tlsr_attach *att)
{
    if (att != NULL)
        pthread_mutex_unlock(&att->lock);
}

TLSR_EXPORT int tlsr_attach_flush(struct tlsr_attach *att, int timeout_ms,
                                  struct tlsr_error *err)
{
    struct timespec abs;
    double until = -1;
    int rc, empty;

    tlsri_error_clear(err);
    if (att == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "attach is NULL");
    if (att->store == NULL)     /* a queue attach: the binding writes */
        return TLSR_OK;
    if (timeout_ms < 0) {
        rc = pthread_mutex_lock(&att->lock);
    } else {
        until = mono_now() + timeout_ms / 1000.0;
        /* pthread_mutex_timedlock counts in CLOCK_REALTIME. */
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_sec += timeout_ms / 1000;
        abs.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
        rc = pthread_mutex_timedlock(&att->lock, &abs);
    }
    if (rc != 0)
        return tlsri_error_set(err, TLSR_EIO,
                               "pending writes not done in %d ms (the "
                               "store is busy)", timeout_ms);
    empty = drain_locked(att, until);
    pthread_mutex_unlock(&att->lock);
    if (!empty)
        return tlsri_error_set(err, TLSR_EIO,
                               "pending writes not done in %d ms",
                               timeout_ms);
    return TLSR_OK;
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
    struct capture *ring = NULL;
    int (*cb)(SSL *, SSL_SESSION *);
    int rc;

    tlsri_error_clear(err);
    if (ctx == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ctx is NULL");
    if ((rc = indexes(err)) != TLSR_OK)
        return rc;
    if (att != NULL) {          /* the ring, once: the callback never allocates */
        pthread_mutex_lock(&att->qlock);
        if (att->ring == NULL
            && (att->ring = calloc(QUEUE_SIZE, sizeof(*ring))) == NULL) {
            pthread_mutex_unlock(&att->qlock);
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        }
        pthread_mutex_unlock(&att->qlock);
    }
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
