/*
 * Time spent inside the attach new-session callback: what an application's
 * SSL_read pays when a TLS 1.3 ticket arrives on an attached context.  The
 * callback is called directly (SSL_CTX_sess_get_new_cb) with a real TLS 1.3
 * session on a keyed connection, in batches; between batches the store is
 * locked and unlocked, which writes whatever the callback queued, so every
 * timed call finds room in the queue.  Wall time counts waits (for a lock,
 * for the CPU on a busy machine), thread CPU time only the work.  Figures
 * only: nothing passes or fails.
 *
 *   attach_bench [calls]        (default 2000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsresume.h"
#include "tls_pair.h"

enum { BATCH = 32 };

static double now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000, i, reused;
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *plain = tp_client_ctx(TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    char dir[] = "/tmp/tlsr-attach-bench-XXXXXX", path[64], cmd[96];
    struct tlsr_error err;
    struct tlsr_store *st;
    struct tlsr_attach *att;
    int (*cb)(SSL *, SSL_SESSION *);
    SSL_SESSION *sess;
    double *t, t0, c0, total = 0, cpu = 0;
    SSL *ssl;

    if (n < BATCH || mkdtemp(dir) == NULL || sctx == NULL || plain == NULL
        || cctx == NULL || (t = calloc((size_t)n, sizeof(*t))) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/s", dir);
    st = tlsr_store_open(path, NULL, &err);
    att = st != NULL ? tlsr_attach_new(st, &err) : NULL;
    if (att == NULL || tlsr_attach_ctx(att, cctx, &err) != 0) {
        fprintf(stderr, "attach: %s\n", err.msg);
        return 1;
    }
    sess = tp_connect(sctx, plain, NULL, &reused);
    ssl = SSL_new(cctx);
    if (sess == NULL || ssl == NULL
        || tlsr_attach_ssl(ssl, NULL, "localhost", 443, NULL, &err) != 0)
        return 1;
    SSL_set_connect_state(ssl);
    cb = SSL_CTX_sess_get_new_cb(cctx);
    for (i = 0; i < n; i++) {
        if (i % BATCH == 0) {       /* write what is queued, untimed */
            tlsr_attach_lock(att);
            tlsr_attach_unlock(att);
        }
        c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        t0 = now_ns(CLOCK_MONOTONIC);
        cb(ssl, sess);
        t[i] = now_ns(CLOCK_MONOTONIC) - t0;
        cpu += now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        total += t[i];
    }
    qsort(t, (size_t)n, sizeof(*t), cmp);
    printf("new_session_cb, %d calls (TLS 1.3 session, keyed): "
           "wall: mean %.1f us, median %.1f us, p99 %.1f us, max %.1f us; "
           "thread CPU: mean %.1f us\n",
           n, total / n / 1e3, t[n / 2] / 1e3, t[n * 99 / 100] / 1e3,
           t[n - 1] / 1e3, cpu / n / 1e3);
    SSL_free(ssl);
    SSL_SESSION_free(sess);
    tlsr_attach_free(att);
    SSL_CTX_free(cctx);
    SSL_CTX_free(plain);
    SSL_CTX_free(sctx);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) != 0;
}
