/*
 * Server CPU per handshake with the shared session cache (a store, csrc/
 * server_cache.c, or Redis) next to OpenSSL's internal cache, in one run:
 * in-memory TLS pairs (tests/c/tls_pair.h, RSA-2048 server, tickets off),
 * only the server's calls timed (SSL_new .. SSL_free): thread CPU time,
 * and wall time (which counts the wait for Redis, whose own CPU is not
 * ours).
 *
 * Rows: a full handshake (new session: kept in memory / written to the
 * store); a resumption on the context that made the session (internal);
 * a resumption on another context of the fleet, of a session it has
 * looked up before (store, warm: its decoded-session cache) and of one it
 * has not (store, cold: read and decode the entry); the same two on a
 * private redis-server (tests/c/redis_server.h; rows left out without
 * one).  Repetitions are interleaved; the best counts.  Figures only.
 *
 *   server_cache_bench [-n handshakes_per_rep] [-r reps] [-v 1.2|1.3]
 *                      [-d store_dir]
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "redis_server.h"
#include "tls_pair.h"
#include "tlsresume.h"

/* Accumulated server CPU and wall time of one measurement. */
static double server_ns, server_wall;

static double clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define SERVER(expr)                                                       \
    do {                                                                   \
        double c0_ = clock_ns(CLOCK_THREAD_CPUTIME_ID);                    \
        double w0_ = clock_ns(CLOCK_MONOTONIC);                            \
        expr;                                                              \
        server_ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0_;              \
        server_wall += clock_ns(CLOCK_MONOTONIC) - w0_;                    \
    } while (0)

static int pending(SSL *s, int rc)
{
    int e = SSL_get_error(s, rc);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* One connection; the server's calls are timed into server_ns.  Returns
 * the client's session (owned) and sets *reused. */
static SSL_SESSION *connect1(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume,
                             int *reused)
{
    SSL *s = NULL, *c = SSL_new(cctx);
    BIO *bs = NULL, *bc = NULL;
    SSL_SESSION *out = NULL;
    int done_s = 0, done_c = 0, i, rc = 0;
    unsigned char byte = 'x';

    SERVER(s = SSL_new(sctx));
    if (s == NULL || c == NULL || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
        goto end;
    SERVER(SSL_set_bio(s, bs, bs); SSL_set_accept_state(s));
    SSL_set_bio(c, bc, bc);
    SSL_set_connect_state(c);
    if (resume != NULL)
        SSL_set_session(c, resume);
    for (i = 0; i < 100 && !(done_s && done_c); i++) {
        if (!done_c) {
            rc = SSL_do_handshake(c);
            if (rc == 1)
                done_c = 1;
            else if (!pending(c, rc))
                goto end;
        }
        if (!done_s) {
            SERVER(rc = SSL_do_handshake(s));
            if (rc == 1)
                done_s = 1;
            else if (!pending(s, rc))
                goto end;
        }
    }
    if (!(done_s && done_c))
        goto end;
    SERVER(rc = SSL_write(s, &byte, 1));
    if (rc != 1 || SSL_read(c, &byte, 1) != 1)
        goto end;
    *reused = SSL_session_reused(c);
    out = SSL_get1_session(c);
    SSL_shutdown(c);
    SERVER(SSL_shutdown(s));
end:
    if (out == NULL)
        ERR_print_errors_fp(stderr);
    SSL_free(c);
    SERVER(SSL_free(s));
    return out;
}

/* A server context on st's cache, or on rs's Redis, or OpenSSL's own. */
static SSL_CTX *server(int version, struct tlsr_store *st,
                       const struct rs_server *rs)
{
    SSL_CTX *ctx = tp_server_ctx(TP_RSA, version);
    struct tlsr_redis_options ro;
    struct tlsr_server_cache *sc;

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"bench", 5);
    if (st != NULL || rs != NULL) {
        tlsr_redis_options_init(&ro);
        if (rs != NULL) {
            ro.host = "127.0.0.1";
            ro.port = rs->port;
            ro.password = rs->pass;
            ro.lookup_timeout_ms = 200;     /* a miss would end the run */
        }
        sc = st != NULL ? tlsr_server_cache_new(st, NULL, NULL)
                        : tlsr_server_cache_new_redis(&ro, NULL, NULL, NULL);
        if (sc == NULL || tlsr_server_cache_ctx(sc, ctx, NULL) != 0) {
            tlsr_server_cache_free(sc);
            SSL_CTX_free(ctx);
            return NULL;
        }
        tlsr_server_cache_free(sc);
    }
    return ctx;
}

/* Write what ctx's cache queued (its writer would within ~20 ms): the
 * sessions another ctx resumes must be in the store.  Not timed. */
static void flush_ctx(SSL_CTX *ctx)
{
    struct tlsr_server_cache *sc = tlsr_server_cache_get(ctx);

    tlsr_server_cache_flush(sc, -1, NULL);
    tlsr_server_cache_free(sc);
}

enum { ROWS = 7 };
static const char *row_name[ROWS] = {
    "full handshake, internal cache",
    "full handshake, shared cache (write queued)",
    "resumed, internal cache",
    "resumed on another ctx, store warm",
    "resumed on another ctx, store cold",
    "full handshake, Redis cache (write queued)",
    "resumed on another ctx, Redis",
};

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    int n = 200, reps = 5, version = TLS1_2_VERSION, opt, r, i, row, rows;
    double best[ROWS], wall[ROWS];
    static struct rs_server rs;
    char dir[256] = "";
    const char *base = NULL;
    struct tlsr_store *st;
    SSL_CTX *in, *a, *b, *cli, *ra = NULL, *rb = NULL;
    SSL_SESSION *warm, *s, *t;
    int reused;

    while ((opt = getopt(argc, argv, "n:r:v:d:")) != -1) {
        if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 'r')
            reps = atoi(optarg);
        else if (opt == 'v')
            version = strcmp(optarg, "1.3") == 0 ? TLS1_3_VERSION
                                                 : TLS1_2_VERSION;
        else if (opt == 'd')
            base = optarg;
        else
            return 2;
    }
    snprintf(dir, sizeof(dir), "%s/tlsr-scache-bench-XXXXXX",
             base != NULL ? base : "/tmp");
    if (n < 1 || reps < 1 || mkdtemp(dir) == NULL)
        return 2;
    strcat(dir, "/s");
    st = tlsr_store_open(dir, NULL, NULL);
    in = server(version, NULL, NULL);
    a = server(version, st, NULL);
    b = server(version, st, NULL);
    cli = tp_client_ctx(version);
    rows = 5;
    if (rs_available() && rs_start(&rs, "bench-pass", NULL) == 0) {
        ra = server(version, NULL, &rs);
        rb = server(version, NULL, &rs);
        rows = ra != NULL && rb != NULL ? ROWS : -1;
    }
    if (st == NULL || in == NULL || a == NULL || b == NULL || cli == NULL
        || rows < 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    for (row = 0; row < ROWS; row++)
        best[row] = wall[row] = 1e18;
    /* The warm rows' sessions: made once, then looked up over and over. */
    warm = connect1(a, cli, NULL, &reused);
    flush_ctx(a);
    s = connect1(in, cli, NULL, &reused);
    if (warm == NULL || s == NULL)
        return 1;
    for (r = 0; r < reps; r++) {
        for (row = 0; row < rows; row++) {
            double total = 0, total_wall = 0;
            int redis = row >= 5;

            for (i = 0; i < n; i++) {
                SSL_SESSION *src = NULL;
                SSL_CTX *on = row == 0 ? in : row == 1 ? a
                            : row == 2 ? in : row == 5 ? ra
                            : row == 6 ? rb : b;

                /* A copy each time: a TLS 1.3 client marks the session
                 * it resumed not resumable when the new ticket comes. */
                if (row == 2)
                    src = SSL_SESSION_dup(s);
                else if (row == 3)
                    src = SSL_SESSION_dup(warm);
                else if (row == 4 || row == 6) {
                    SSL_CTX *maker = row == 4 ? a : ra;

                    /* made on another ctx, written: not timed */
                    src = connect1(maker, cli, NULL, &reused);
                    if (src == NULL)
                        return 1;
                    flush_ctx(maker);
                }
                server_ns = server_wall = 0;
                t = connect1(on, cli, src, &reused);
                total += server_ns;
                total_wall += server_wall;
                if (t == NULL || reused != (row >= 2 && row != 5)) {
                    fprintf(stderr, "%s: reused %d at %d\n", row_name[row],
                            reused, i);
                    return 1;
                }
                SSL_SESSION_free(t);
                SSL_SESSION_free(src);
            }
            if (total / n < best[row])
                best[row] = total / n;
            if (total_wall / n < wall[row])
                wall[row] = total_wall / n;
            if (redis)      /* the queued writes of this row, not timed */
                flush_ctx(row == 5 ? ra : rb);
        }
        /* Keep the store small between repetitions, as prune would. */
        tlsr_store_prune(st, NULL);
    }
    printf("server CPU (and wall) per handshake, %s, tickets off, RSA-2048, "
           "best of %d x %d\n", version == TLS1_3_VERSION ? "TLS 1.3"
                                                          : "TLS 1.2",
           reps, n);
    for (row = 0; row < rows; row++)
        printf("  %-44s %8.1f us  (wall %8.1f us)\n", row_name[row],
               best[row] / 1e3, wall[row] / 1e3);
    printf("  ratio full shared/internal              %6.2fx\n",
           best[1] / best[0]);
    printf("  ratio resumed warm store/internal       %6.2fx\n",
           best[3] / best[2]);
    printf("  ratio resumed cold store/internal       %6.2fx\n",
           best[4] / best[2]);
    printf("  ratio full/resumed: internal %.2fx, store cold %.2fx\n",
           best[0] / best[2], best[0] / best[4]);
    if (rows == ROWS) {
        printf("  ratio resumed Redis/internal   CPU %6.2fx  wall %6.2fx\n",
               best[6] / best[2], wall[6] / wall[2]);
        printf("  ratio resumed Redis/store cold CPU %6.2fx  wall %6.2fx\n",
               best[6] / best[4], wall[6] / wall[4]);
        printf("  ratio full/resumed Redis       CPU %6.2fx  wall %6.2fx\n",
               best[0] / best[6], wall[0] / wall[6]);
    } else {
        printf("  (no %s: no Redis rows)\n", RS_BINARY);
    }
    SSL_SESSION_free(warm);
    SSL_SESSION_free(s);
    SSL_CTX_free(in);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(ra);
    SSL_CTX_free(rb);
    SSL_CTX_free(cli);
    tlsr_store_free(st);
    rs_stop(&rs);
    *strrchr(dir, '/') = '\0';
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
