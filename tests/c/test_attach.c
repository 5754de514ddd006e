/*
 * Automatic persistence (csrc/attach.c): an attached client SSL_CTX saves
 * every new session through OpenSSL's new-session callback, which queues it
 * for the attach's writer thread.  Real TLS 1.2 / 1.3 handshakes in memory
 * (and over loopback TCP); LeakSanitizer (test-c) and valgrind
 * (test-valgrind) check every session reference taken is given back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static char tmpdir[64];

/* A store in a fresh temporary directory (removed by drop_store). */
static struct tlsr_store *new_store(void)
{
    struct tlsr_error err;
    char path[80];

    strcpy(tmpdir, "/tmp/tlsr-attach-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/s", tmpdir);
    return tlsr_store_open(path, NULL, &err);
}

static void drop_store(void)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int want_more(SSL *x, int rc)
{
    int e = SSL_get_error(x, rc);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* A connected loopback TCP pair, both ends non-blocking; 0 on success. */
static int tcp_pair(int fds[2])
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0), ok = -1;

    fds[0] = fds[1] = -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0
        && listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a, &al) == 0
        && (fds[0] = socket(AF_INET, SOCK_STREAM, 0)) >= 0
        && connect(fds[0], (struct sockaddr *)&a, sizeof(a)) == 0
        && (fds[1] = accept(l, NULL, NULL)) >= 0) {
        int one = 1;

        /* No Nagle: the data byte after the tickets goes out at once. */
        setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        ok = 0;
    }
    if (l >= 0)
        close(l);
    return ok;
}

enum { NO_KEY, KEY, KEY_IF_ATTACHED, KEY_TCP, NO_KEY_TCP };

/*
 * One connection over a BIO pair, or over loopback TCP for the *_TCP modes
 * (a socket with a peer port: still only an explicit key saves); keyed
 * "localhost":443 unless NO_KEY*; KEY_IF_ATTACHED goes on without a key
 * when the context is detached meanwhile.  One byte of data brings the TLS
 * 1.3 tickets.  Returns 1 and *reused, 0 on failure.
 */
static int connect_once(SSL_CTX *sctx, SSL_CTX *cctx, int mode,
                        SSL_SESSION *resume, int *reused)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO *bc = NULL, *bs = NULL;
    struct tlsr_error err;
    int fds[2] = { -1, -1 };
    int i, rc, done_c = 0, done_s = 0, ok = 0, tcp;
    char b = 'x';

    tcp = mode == KEY_TCP || mode == NO_KEY_TCP;
    if (c == NULL || s == NULL)
        goto end;
    if (tcp) {
        if (tcp_pair(fds) != 0 || !SSL_set_fd(c, fds[0])
            || !SSL_set_fd(s, fds[1]))
            goto end;
    } else {
        if (BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
            goto end;
        SSL_set_bio(c, bc, bc);
        SSL_set_bio(s, bs, bs);
    }
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (resume != NULL && SSL_set_session(c, resume) != 1)
        goto end;
    if (mode != NO_KEY && mode != NO_KEY_TCP
        && tlsr_attach_ssl(c, NULL, "localhost", 443, NULL, &err) != 0
        && mode != KEY_IF_ATTACHED)
        goto end;
    for (i = 0; i < 10000 && !(done_c && done_s); i++) {
        if (!done_c) {
            rc = SSL_do_handshake(c);
            if (rc == 1)
                done_c = 1;
            else if (!want_more(c, rc))
                goto end;
        }
        if (!done_s) {
            rc = SSL_do_handshake(s);
            if (rc == 1)
                done_s = 1;
            else if (!want_more(s, rc))
                goto end;
        }
    }
    if (!(done_c && done_s) || SSL_write(s, &b, 1) != 1)
        goto end;
    for (i = 0; i < 2000; i++) {        /* TCP: the byte may be in flight */
        rc = SSL_read(c, &b, 1);
        if (rc == 1)
            break;
        if (!want_more(c, rc))
            goto end;
        usleep(1000);
    }
    if (rc != 1)
        goto end;
    *reused = SSL_session_reused(c);
    SSL_shutdown(c);
    SSL_shutdown(s);
    ok = 1;
end:
    SSL_free(c);
    SSL_free(s);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return ok;
}

static int count_locked(struct tlsr_attach *att)
{
    struct tlsr_error err;
    int n = tlsr_store_count(tlsr_attach_lock(att), &err);

    tlsr_attach_unlock(att);
    return n;
}

/* The callback returns 0 (OpenSSL keeps and frees its reference): a 1
 * would leak every session, which LeakSanitizer reports at exit. */
static void attached_ctx_saves_each_new_session_and_leaks_none(void)
{
    int versions[2] = { TLS1_2_VERSION, TLS1_3_VERSION }, v;

    for (v = 0; v < 2; v++) {
        SSL_CTX *sctx = tp_server_ctx(TP_EC, versions[v]);
        SSL_CTX *cctx = tp_client_ctx(versions[v]);
        struct tlsr_store *st = new_store();
        struct tlsr_attach *att = tlsr_attach_new(st, NULL);
        struct tlsr_error err;
        SSL_SESSION *taken;
        int reused = -1;

        CHECK(sctx != NULL && cctx != NULL && st != NULL && att != NULL);
        CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
        CHECK(connect_once(sctx, cctx, KEY, NULL, &reused));
        CHECK_EQ_INT(reused, 0);
        CHECK(ERR_peek_error() == 0);
        /* TLS 1.2: the session; TLS 1.3: OpenSSL's two tickets. */
        CHECK_EQ_INT(count_locked(att), v == 0 ? 1 : 2);
        taken = tlsr_store_take(tlsr_attach_lock(att), "localhost", 443,
                                NULL, NULL, NULL, &err);
        tlsr_attach_unlock(att);
        CHECK(taken != NULL);
        CHECK(connect_once(sctx, cctx, KEY, taken, &reused));
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(taken);
        tlsr_attach_free(att);      /* the context keeps the store alive */
        CHECK(connect_once(sctx, cctx, KEY, NULL, &reused));
        SSL_CTX_free(cctx);         /* drops the last reference */
        SSL_CTX_free(sctx);
        drop_store();
    }
}

/*
 * Without a key nothing is saved, even over a TCP socket whose SNI and peer
 * port the callback could read: the binding keys a connection, or decides
 * it has no key (a tunnel's peer port is the proxy's); no guess here.
 */
static void regression_unkeyed_connection_is_never_saved(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    struct tlsr_error err;
    int reused = -1;

    CHECK(sctx != NULL && cctx != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    CHECK(connect_once(sctx, cctx, NO_KEY, NULL, &reused));
    CHECK(connect_once(sctx, cctx, NO_KEY_TCP, NULL, &reused));
    CHECK_CODE(tlsr_attach_flush(att, 5000, &err), 0, &err);
    CHECK_EQ_INT(count_locked(att), 0);
    /* The same socket with a key: saved. */
    CHECK(connect_once(sctx, cctx, KEY_TCP, NULL, &reused));
    CHECK_EQ_INT(count_locked(att), 2);
    CHECK(ERR_peek_error() == 0);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

static int other_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    (void)sess;
    return 0;
}

static void attach_refuses_foreign_callback_and_detaches(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_2_VERSION);
    SSL_CTX *foreign = tp_client_ctx(TLS1_2_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    struct tlsr_error err;
    int reused = -1;

    CHECK(sctx != NULL && cctx != NULL && foreign != NULL && att != NULL);
    SSL_CTX_sess_set_new_cb(foreign, other_cb);
    CHECK_CODE(tlsr_attach_ctx(att, foreign, &err), TLSR_EINVAL, &err);
    CHECK(SSL_CTX_sess_get_new_cb(foreign) == other_cb);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);   /* again: ok */
    CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), 0, &err);  /* detach */
    CHECK(SSL_CTX_sess_get_new_cb(cctx) == NULL);
    CHECK(connect_once(sctx, cctx, NO_KEY, NULL, &reused));
    CHECK_EQ_INT(count_locked(att), 0);
    tlsr_attach_free(att);      /* last reference: the store goes */
    SSL_CTX_free(foreign);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

static void attach_ssl_rejects_misuse(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    SSL *c = cctx != NULL ? SSL_new(cctx) : NULL;
    SSL *s = sctx != NULL ? SSL_new(sctx) : NULL;
    struct tlsr_error err;
    char longname[300];
    int tag;

    CHECK(c != NULL && s != NULL && att != NULL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(tlsr_attach_new(NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_CODE(tlsr_attach_ctx(att, NULL, &err), TLSR_EINVAL, &err);
    /* Not attached yet: no key to set. */
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 443, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h2", 443, "ctx", &err), 0, &err);
    CHECK_CODE(tlsr_attach_ssl(NULL, NULL, "h", 443, NULL, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, longname, 443, NULL, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 443, longname, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "h", 65536, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ssl(c, &tag, "h", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_attach_ssl(s, NULL, "h", 443, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK(ERR_peek_error() == 0);
    SSL_free(c);                /* frees the key it holds */
    SSL_free(s);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

/*
 * A keyed connection holds a reference to its attach: detaching the context
 * and dropping the binding's reference while the connection lives (Python
 * reads without the GIL) frees the store only with the connection.
 */
static void keyed_connection_keeps_store_alive_across_detach(void)
{
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_store *st = new_store();
    struct tlsr_attach *att = tlsr_attach_new(st, NULL);
    struct tlsr_error err;
    SSL *c;

    CHECK(cctx != NULL && st != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    c = SSL_new(cctx);
    CHECK(c != NULL);
    SSL_set_connect_state(c);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "localhost", 443, NULL, &err), 0,
               &err);
    CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), 0, &err);
    tlsr_attach_free(att);
    /* Only the connection's reference is left: the store is still usable. */
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    SSL_free(c);                /* the last reference: LSan sees no leak */
    SSL_CTX_free(cctx);
    drop_store();
}

/*
 * Finding 2 (issue 8): the callback runs inside the application's SSL_read
 * and must never wait for the store.  With the store locked by this very
 * thread, a connection still completes (the old callback took the lock
 * and deadlocked here: alarm() turns that into a failure, not a hang), and
 * its tickets are written once the lock is released.  A full queue drops,
 * never blocks.
 */
static void regression_new_session_cb_no_io_in_ssl_read(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    int (*cb)(SSL *, SSL_SESSION *);
    struct tlsr_error err;
    SSL_SESSION *sess;
    int i, reused = -1, ok;
    SSL *c;

    CHECK(sctx != NULL && cctx != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    alarm(20);
    tlsr_attach_lock(att);
    ok = connect_once(sctx, cctx, KEY, NULL, &reused);
    tlsr_attach_unlock(att);
    alarm(0);
    CHECK(ok);
    CHECK_CODE(tlsr_attach_flush(att, 5000, &err), 0, &err);
    CHECK_EQ_INT(count_locked(att), 2);
    /* 300 captures while the store is locked: 128 queued, the rest
     * dropped (LeakSanitizer: every reference given back). */
    sess = tp_connect(sctx, cctx, NULL, &reused);
    c = SSL_new(cctx);
    CHECK(sess != NULL && c != NULL);
    CHECK_CODE(tlsr_attach_ssl(c, NULL, "localhost", 443, NULL, &err), 0,
               &err);
    cb = SSL_CTX_sess_get_new_cb(cctx);
    alarm(20);
    tlsr_attach_lock(att);
    for (i = 0; i < 300; i++)
        cb(c, sess);
    tlsr_attach_unlock(att);
    alarm(0);
    CHECK_CODE(tlsr_attach_flush(att, 10000, &err), 0, &err);
    CHECK_EQ_INT(count_locked(att), 8);     /* max_tickets */
    SSL_free(c);
    SSL_SESSION_free(sess);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

/* Captured sessions are written by the attach's own thread: they reach
 * the files with no store call at all, and flush waits for them. */
static void captures_reach_the_store_without_a_store_call(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL), *got;
    struct tlsr_store *other;
    struct tlsr_error err;
    char path[80];
    int i, n = 0, reused = -1;

    CHECK(sctx != NULL && cctx != NULL && att != NULL);
    CHECK(tlsr_attach_get(cctx) == NULL);
    CHECK(tlsr_attach_get(NULL) == NULL);
    CHECK_CODE(tlsr_attach_flush(NULL, 0, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), 0, &err);
    got = tlsr_attach_get(cctx);
    CHECK(got == att);
    tlsr_attach_free(got);
    CHECK(connect_once(sctx, cctx, KEY, NULL, &reused));
    /* Another store object on the same directory, as another process. */
    snprintf(path, sizeof(path), "%s/s", tmpdir);
    other = tlsr_store_open(path, NULL, &err);
    CHECK(other != NULL);
    for (i = 0; i < 500 && (n = tlsr_store_count(other, &err)) < 2; i++)
        usleep(10000);
    CHECK_EQ_INT(n, 2);
    tlsr_store_free(other);
    CHECK_CODE(tlsr_attach_flush(att, 0, &err), 0, &err);
    CHECK_CODE(tlsr_attach_flush(att, -1, &err), 0, &err);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    drop_store();
}

/* ---- churn: attach / detach from one thread, connections on others ---- */

struct churn {
    SSL_CTX *sctx, *cctx;
    char path[80];
    double until;
    int handshakes, failures, churns;
    int stop;                   /* the churn loop is over (atomic) */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *churn_client(void *arg)
{
    struct churn *ch = arg;
    int reused, ok;

    while (!__atomic_load_n(&ch->stop, __ATOMIC_RELAXED)) {
        ok = connect_once(ch->sctx, ch->cctx, KEY_IF_ATTACHED, NULL, &reused);
        __atomic_add_fetch(ok ? &ch->handshakes : &ch->failures, 1,
                           __ATOMIC_RELAXED);
    }
    return NULL;
}

/*
 * Finding 4 (issue 8): a detach (and the store's last reference going)
 * while connections of the context complete handshakes on other threads
 * never leaves a callback with freed memory (ASan), deadlocks, or leaks.
 */
static void regression_attach_detach_churn_under_handshakes(void)
{
    struct churn ch;
    struct tlsr_attach *att, *got;
    struct tlsr_store *st;
    struct tlsr_error err;
    pthread_t th[3];
    int i;

    memset(&ch, 0, sizeof(ch));
    ch.sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    ch.cctx = tp_client_ctx(TLS1_3_VERSION);
    st = new_store();
    CHECK(ch.sctx != NULL && ch.cctx != NULL && st != NULL);
    tlsr_store_free(st);
    snprintf(ch.path, sizeof(ch.path), "%s/s", tmpdir);
    ch.until = now_s() + 2.0;
    alarm(60);
    for (i = 0; i < 3; i++)
        CHECK(pthread_create(&th[i], NULL, churn_client, &ch) == 0);
    /* 2 s, and at least 11 churns and handshakes: valgrind is slow (40 s
     * at most, before the alarm). */
    while (now_s() < ch.until
           || ((ch.churns <= 10
                || __atomic_load_n(&ch.handshakes, __ATOMIC_RELAXED) <= 10)
               && now_s() < ch.until + 38)) {
        st = tlsr_store_open(ch.path, NULL, &err);
        att = st != NULL ? tlsr_attach_new(st, &err) : NULL;
        if (att == NULL || tlsr_attach_ctx(att, ch.cctx, &err) != 0)
            break;
        tlsr_attach_free(att);          /* the context's is the only one */
        usleep(ch.churns % 3 * 300);
        if ((got = tlsr_attach_get(ch.cctx)) != NULL) {
            tlsr_attach_flush(got, 1000, NULL);
            tlsr_attach_free(got);
        }
        tlsr_attach_ctx(NULL, ch.cctx, &err);   /* often the last one */
        ch.churns++;
    }
    __atomic_store_n(&ch.stop, 1, __ATOMIC_RELAXED);
    for (i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    alarm(0);
    fprintf(stderr, "  churn: %d attach/detach, %d handshakes\n", ch.churns,
            ch.handshakes);
    CHECK(ch.churns > 10);
    CHECK(ch.handshakes > 10);
    CHECK_EQ_INT(ch.failures, 0);
    st = tlsr_store_open(ch.path, NULL, &err);
    CHECK(st != NULL);
    CHECK(tlsr_store_count(st, &err) > 0);
    tlsr_store_free(st);
    SSL_CTX_free(ch.cctx);
    SSL_CTX_free(ch.sctx);
    drop_store();
}

/* ---- fork ----------------------------------------------------------------- */

/*
 * ASan's allocator (GCC 12's libsanitizer) has no fork handler: a child
 * forked while another thread is inside malloc can hang in its first
 * malloc, whatever our locks do.  The capture thread pauses for a fork
 * between two connections (a prepare handler of the test's own), but the
 * writer thread allocates too, so the test runs only without ASan (the
 * plain build, under valgrind).
 */
#ifndef __SANITIZE_ADDRESS__
static pthread_mutex_t capture_pause = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pause_once = PTHREAD_ONCE_INIT;

static void pause_lock(void)
{
    pthread_mutex_lock(&capture_pause);
}

static void pause_unlock(void)
{
    pthread_mutex_unlock(&capture_pause);
}

static void pause_handlers(void)
{
    pthread_atfork(pause_lock, pause_unlock, pause_unlock);
}

static void *capture_loop(void *arg)
{
    struct churn *ch = arg;
    int reused;

    while (now_s() < ch->until) {
        pthread_mutex_lock(&capture_pause);
        ch->handshakes += connect_once(ch->sctx, ch->cctx, KEY, NULL,
                                       &reused);
        pthread_mutex_unlock(&capture_pause);
    }
    return NULL;
}
#endif

/*
 * fork() while the writer thread writes (captures keep coming on another
 * thread): the child never inherits a held lock.  It drops what the parent
 * had queued, starts its own writer at its first capture, flushes and
 * exits; alarm() turns a deadlock into a failure.
 */
static void fork_while_writing_never_deadlocks_the_child(void)
{
#ifdef __SANITIZE_ADDRESS__
    /* See above (google/sanitizers#774; fixed in LLVM 18): a child
     * forked while the writer allocated hung inside ASan once, on a
     * loaded machine. */
    printf("  skipped under ASan: its allocator is not fork-safe\n");
#else
    struct churn ch;
    struct tlsr_attach *att = tlsr_attach_new(new_store(), NULL);
    struct tlsr_error err;
    pthread_t th;
    pid_t pid;
    int i, status, bad = 0;

    memset(&ch, 0, sizeof(ch));
    ch.sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    ch.cctx = tp_client_ctx(TLS1_3_VERSION);
    CHECK(ch.sctx != NULL && ch.cctx != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, ch.cctx, &err), 0, &err);
    ch.until = now_s() + 60;
    pthread_once(&pause_once, pause_handlers);
    CHECK(pthread_create(&th, NULL, capture_loop, &ch) == 0);
    for (i = 0; i < 8; i++) {
        int fds[2];
        char code = 9;

        usleep(20000);
        if (pipe(fds) != 0) {
            bad++;
            continue;
        }
        pid = fork();
        if (pid == 0) {
            int reused, n;

            close(fds[0]);
            alarm(20);
            code = 0;
            if (!connect_once(ch.sctx, ch.cctx, KEY, NULL, &reused)
                || tlsr_attach_flush(att, 10000, &err) != 0)
                code = 2;
            n = tlsr_store_count(tlsr_attach_lock(att), &err);
            tlsr_attach_unlock(att);
            if (code == 0 && n <= 0)
                code = 3;
            /* The verdict through a pipe, then exec: a leak checker
             * (valgrind) would report, at exit, what the parent's threads
             * held, which the child never frees. */
            if (write(fds[1], &code, 1) != 1)
                _exit(4);
            execl("/bin/true", "true", (char *)NULL);
            _exit(0);
        }
        close(fds[1]);
        if (pid < 0 || read(fds[0], &code, 1) != 1 || code != 0) {
            fprintf(stderr, "  fork %d: child verdict %d\n", i, code);
            bad++;
        }
        close(fds[0]);
        if (pid > 0)
            waitpid(pid, &status, 0);
    }
    ch.until = 0;
    pthread_join(th, NULL);
    CHECK_EQ_INT(bad, 0);
    CHECK(ch.handshakes > 0);
    tlsr_attach_free(att);
    SSL_CTX_free(ch.cctx);
    SSL_CTX_free(ch.sctx);
    drop_store();
#endif
}

TESTS(T(attached_ctx_saves_each_new_session_and_leaks_none),
      T(regression_unkeyed_connection_is_never_saved),
      T(attach_refuses_foreign_callback_and_detaches),
      T(attach_ssl_rejects_misuse),
      T(keyed_connection_keeps_store_alive_across_detach),
      T(regression_new_session_cb_no_io_in_ssl_read),
      T(captures_reach_the_store_without_a_store_call),
      T(regression_attach_detach_churn_under_handshakes),
      T(fork_while_writing_never_deadlocks_the_child))
