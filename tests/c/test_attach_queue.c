/* Queue attaches (csrc/attach.c on a csrc/writer.c queue): captures wait
 * for the binding, the new-session callback does no store I/O. */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static int want_more(SSL *x, int rc)
{
    int e = SSL_get_error(x, rc);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/*
 * One connection over a BIO pair (no socket: only an explicit key saves),
 * keyed "localhost":443 if key is set; one byte of data brings the TLS 1.3
 * tickets.  Returns 1 and *reused, 0 on failure.
 */
static int connect_once(SSL_CTX *sctx, SSL_CTX *cctx, int key,
                        SSL_SESSION *resume, int *reused)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO *bc = NULL, *bs = NULL;
    struct tlsr_error err;
    int i, rc, done_c = 0, done_s = 0, ok = 0;
    char b = 'x';

    if (c == NULL || s == NULL || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
        goto end;
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (resume != NULL && SSL_set_session(c, resume) != 1)
        goto end;
    if (key && tlsr_attach_ssl(c, NULL, "localhost", 443, NULL, &err) != 0)
        goto end;
    for (i = 0; i < 100 && !(done_c && done_s); i++) {
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
    if (!(done_c && done_s) || SSL_write(s, &b, 1) != 1
        || SSL_read(c, &b, 1) != 1)
        goto end;
    *reused = SSL_session_reused(c);
    SSL_shutdown(c);
    SSL_shutdown(s);
    ok = 1;
end:
    SSL_free(c);
    SSL_free(s);
    return ok;
}

static void queue_attach_hands_each_capture_to_pop(void)
{
    int versions[2] = { TLS1_2_VERSION, TLS1_3_VERSION }, v;

    for (v = 0; v < 2; v++) {
        SSL_CTX *sctx = tp_server_ctx(TP_EC, versions[v]);
        SSL_CTX *cctx = tp_client_ctx(versions[v]);
        struct tlsr_attach *att = tlsr_attach_new_queue(NULL);
        struct tlsr_error err;
        char host[256], context[256];
        SSL_SESSION *sess = NULL;
        int port = 0, reused = -1, n = 0;

        CHECK(sctx != NULL && cctx != NULL && att != NULL);
        CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), TLSR_OK, &err);
        CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
        /* Store calls on a queue attach have no store to call. */
        CHECK(tlsr_attach_lock(att) == NULL);
        tlsr_attach_unlock(att);
        CHECK(tlsr_attach_pending(att) >= 1);
        while (tlsr_attach_pop(att, 0, host, &port, context, &sess, &err)
               == 1) {
            CHECK(strcmp(host, "localhost") == 0 && port == 443
                  && context[0] == '\0' && sess != NULL);
            /* what verified it rides along, as for a store */
            CHECK(tlsr_session_get_trust(sess, &(struct tlsr_trust){0}, NULL)
                  == TLSR_OK);
            if (n++ == 0)
                CHECK(connect_once(sctx, cctx, 0, sess, &reused)
                      && reused == 1);
            SSL_SESSION_free(sess);
        }
        CHECK(n >= 1);
        CHECK_EQ_INT(tlsr_attach_pending(att), 0);
        CHECK_CODE(tlsr_attach_pop(att, 50, host, &port, context, &sess,
                                   &err), 0, &err);
        CHECK(sess == NULL);
        CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), TLSR_OK, &err);
        tlsr_attach_free(att);
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
    }
}

/* A full queue (128) drops captures; freeing with captures queued leaks
 * none; no writer thread ever writes them (there is no store). */
static void full_queue_drops_and_free_releases_queued(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_2_VERSION);
    struct tlsr_attach *att = tlsr_attach_new_queue(NULL);
    struct tlsr_error err;
    int i, reused;

    CHECK(sctx != NULL && cctx != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), TLSR_OK, &err);
    for (i = 0; i < 130; i++)
        CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
    CHECK_EQ_INT(tlsr_attach_pending(att), 128);
    CHECK_CODE(tlsr_attach_flush(att, 0, &err), TLSR_OK, &err);
    CHECK_EQ_INT(tlsr_attach_pending(att), 128);
    tlsr_attach_free(att);      /* the context still holds a reference */
    SSL_CTX_free(cctx);         /* the last one: queued sessions freed */
    SSL_CTX_free(sctx);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct popper {
    struct tlsr_attach *att;
    int rc;
    double took;
};

static void *pop_wait(void *arg)
{
    struct popper *p = arg;
    char host[256], context[256];
    SSL_SESSION *sess = NULL;
    int port;
    double t0 = now_s();

    p->rc = tlsr_attach_pop(p->att, 20000, host, &port, context, &sess, NULL);
    p->took = now_s() - t0;
    SSL_SESSION_free(sess);
    return NULL;
}

/* A pop asleep on an idle queue (no capture for long: the long sleep) is
 * woken by the callback's capture, not by its timeout. */
static void waiting_pop_is_woken_by_a_capture(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_2_VERSION);
    struct popper p = { tlsr_attach_new_queue(NULL), -1, 0 };
    struct tlsr_error err;
    pthread_t th;
    int reused;

    CHECK(sctx != NULL && cctx != NULL && p.att != NULL);
    CHECK_CODE(tlsr_attach_ctx(p.att, cctx, &err), TLSR_OK, &err);
    CHECK(pthread_create(&th, NULL, pop_wait, &p) == 0);
    usleep(100000);
    CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
    pthread_join(th, NULL);
    CHECK_EQ_INT(p.rc, 1);
    CHECK(p.took < 10.0);
    CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), TLSR_OK, &err);
    tlsr_attach_free(p.att);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

/* A fork child drops the captures its parent had queued (the parent's
 * binding writes those: never twice) and pops its own; the parent's stay. */
static void regression_fork_child_never_pops_the_parents_captures(void)
{
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_2_VERSION);
    struct tlsr_attach *att = tlsr_attach_new_queue(NULL);
    struct tlsr_error err;
    char host[256], context[256];
    SSL_SESSION *sess = NULL;
    int port, reused, fds[2], status, n = 0;
    char code = 9;
    pid_t pid;

    CHECK(sctx != NULL && cctx != NULL && att != NULL);
    CHECK_CODE(tlsr_attach_ctx(att, cctx, &err), TLSR_OK, &err);
    CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
    CHECK(connect_once(sctx, cctx, 1, NULL, &reused));
    CHECK_EQ_INT(tlsr_attach_pending(att), 2);
    CHECK(pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(20);
        code = 0;
        if (tlsr_attach_pending(att) != 0
            || tlsr_attach_pop(att, 0, host, &port, context, &sess, NULL)
                   != 0)
            code = 2;
        else if (!connect_once(sctx, cctx, 1, NULL, &reused)
                 || tlsr_attach_pending(att) != 1
                 || tlsr_attach_pop(att, 0, host, &port, context, &sess,
                                    NULL) != 1
                 || strcmp(host, "localhost") != 0)
            code = 3;
        SSL_SESSION_free(sess);
        /* The verdict through a pipe, then exec: no leak report for what
         * the parent's objects hold in the child. */
        if (write(fds[1], &code, 1) != 1)
            _exit(4);
        execl("/bin/true", "true", (char *)NULL);
        _exit(0);
    }
    close(fds[1]);
    CHECK(pid > 0 && read(fds[0], &code, 1) == 1);
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    CHECK_EQ_INT(code, 0);
    CHECK_EQ_INT(tlsr_attach_pending(att), 2);
    while (tlsr_attach_pop(att, 0, host, &port, context, &sess, &err) == 1) {
        SSL_SESSION_free(sess);
        n++;
    }
    CHECK_EQ_INT(n, 2);
    CHECK_CODE(tlsr_attach_ctx(NULL, cctx, &err), TLSR_OK, &err);
    tlsr_attach_free(att);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

static void queue_misuse_is_einval(void)
{
    struct tlsr_error err;
    char host[256], context[256];
    SSL_SESSION *sess;
    int port;

    CHECK_CODE(tlsr_attach_pop(NULL, 0, host, &port, context, &sess, &err),
               TLSR_EINVAL, &err);
    CHECK_EQ_INT(tlsr_attach_pending(NULL), 0);
}

TESTS(T(queue_attach_hands_each_capture_to_pop),
      T(full_queue_drops_and_free_releases_queued),
      T(waiting_pop_is_woken_by_a_capture),
      T(regression_fork_child_never_pops_the_parents_captures),
      T(queue_misuse_is_einval))
