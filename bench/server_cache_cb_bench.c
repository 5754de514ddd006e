/*
 * Time spent inside the server session cache's new-session callback: what
 * a server's handshake pays to share a new session (TLS 1.2 session id,
 * tickets off).  The callback is called directly (SSL_CTX_sess_get_new_cb)
 * on a server SSL with real server sessions, each under a fresh random id
 * (a write per call, as in a fleet).  Modes: "batch" writes what is queued
 * between batches of 32 calls (untimed: every call finds room); "paced"
 * sleeps 1 ms between calls (untimed) while the cache's writer thread
 * writes, as in a server.  Wall time counts waits (a lock, the CPU on a
 * busy machine), thread CPU time only the work.  Figures only.  Built with
 * -DBEFORE against a tree whose callback wrote inside the handshake (no
 * flush there).
 *
 *   server_cache_cb_bench [calls [batch|paced]]    (default 2000 batch)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
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

static void write_queued(struct tlsr_server_cache *sc)
{
#ifndef BEFORE
    tlsr_server_cache_flush(sc, -1, NULL);
#else
    (void)sc;
#endif
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000, i, reused;
    int paced = argc > 2 && strcmp(argv[2], "paced") == 0;
    SSL_CTX *sctx = tp_server_ctx(TP_RSA, TLS1_2_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_2_VERSION);
    char dir[] = "/tmp/tlsr-scache-cb-bench-XXXXXX", path[64], cmd[96];
    struct tlsr_server_cache *sc;
    struct tlsr_error err;
    struct tlsr_store *st;
    int (*cb)(SSL *, SSL_SESSION *);
    SSL_SESSION *csess, *ssess = NULL, **sess;
    unsigned char id[32];
    double *t, t0, c0, total = 0, cpu = 0;
    SSL *ssl;

    if (n < BATCH || mkdtemp(dir) == NULL || sctx == NULL || cctx == NULL
        || (t = calloc((size_t)n, sizeof(*t))) == NULL
        || (sess = calloc((size_t)n, sizeof(*sess))) == NULL)
        return 1;
    SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_id_context(sctx, (const unsigned char *)"bench", 5);
    snprintf(path, sizeof(path), "%s/s", dir);
    st = tlsr_store_open(path, NULL, &err);
    sc = st != NULL ? tlsr_server_cache_new(st, NULL, &err) : NULL;
    if (sc == NULL || tlsr_server_cache_ctx(sc, sctx, &err) != 0) {
        fprintf(stderr, "cache: %s\n", err.msg);
        return 1;
    }
    csess = tp_connect2(sctx, cctx, NULL, &reused, &ssess);
    if (csess == NULL || ssess == NULL)
        return 1;
    for (i = 0; i < n; i++) {       /* the same session, fresh ids */
        sess[i] = SSL_SESSION_dup(ssess);
        if (sess[i] == NULL || RAND_bytes(id, sizeof(id)) != 1
            || !SSL_SESSION_set1_id(sess[i], id, sizeof(id)))
            return 1;
    }
    ssl = SSL_new(sctx);
    if (ssl == NULL)
        return 1;
    SSL_set_accept_state(ssl);
    cb = SSL_CTX_sess_get_new_cb(sctx);
    write_queued(sc);
    for (i = 0; i < n; i++) {
        if (paced)
            usleep(1000);
        else if (i % BATCH == 0)
            write_queued(sc);
        c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
        t0 = now_ns(CLOCK_MONOTONIC);
        cb(ssl, sess[i]);
        t[i] = now_ns(CLOCK_MONOTONIC) - t0;
        cpu += now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        total += t[i];
    }
    write_queued(sc);
#ifndef BEFORE
    {
        struct tlsr_server_cache_stats sst;

        if (tlsr_server_cache_stats(sc, &sst, NULL) == 0 && sst.dropped > 0)
            printf("(%llu dropped: the writer fell 128 behind)\n",
                   (unsigned long long)sst.dropped);
    }
#endif
    qsort(t, (size_t)n, sizeof(*t), cmp);
    printf("server new_session_cb (%s), %d calls (TLS 1.2, RSA-2048): "
           "wall: mean %.1f us, median %.1f us, p99 %.1f us, max %.1f us; "
           "thread CPU: mean %.1f us; stored %d\n",
           paced ? "paced" : "batch", n, total / n / 1e3, t[n / 2] / 1e3,
           t[n * 99 / 100] / 1e3, t[n - 1] / 1e3, cpu / n / 1e3,
           tlsr_store_count(st, NULL));
    for (i = 0; i < n; i++)
        SSL_SESSION_free(sess[i]);
    free(sess);
    free(t);
    SSL_free(ssl);
    SSL_SESSION_free(ssess);
    SSL_SESSION_free(csess);
    tlsr_server_cache_free(sc);
    tlsr_store_free(st);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) != 0;
}
