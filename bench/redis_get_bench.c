/*
 * Wall time per operation of the Redis server cache's lookup on a private
 * redis-server (tests/c/redis_server.h), next to a raw GET of the same
 * bytes in the same run:
 *
 *   lookup   tlsri_scache_redis_fetch: pooled connection, GET, the entry
 *            decoded into an SSL_SESSION (what a handshake waits for)
 *   GET      tlsri_redis_call alone (the core's RESP client)
 *   raw GET  the same command bytes written on a blocking socket and the
 *            reply read whole: no parsing, no allocation (the floor)
 *
 * One TLS 1.2 server session (RSA-2048) as the entry.  Repetitions are
 * interleaved; the best counts.  Figures only.
 *
 *   redis_get_bench [-n ops_per_rep] [-r reps]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "redis_conn.h"
#include "redis_server.h"
#include "server_cache_redis.h"
#include "tls_pair.h"

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A plain blocking socket, logged in: the raw baseline's. */
static int raw_connect(const struct rs_server *rs)
{
    struct sockaddr_in sa;
    char cmd[128], buf[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, n;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)rs->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    n = snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n",
                 strlen(rs->pass), rs->pass);
    if (write(fd, cmd, (size_t)n) != n || read(fd, buf, sizeof(buf)) != 5)
        return -1;
    return fd;
}

/* One raw GET: the command written, want bytes of reply read. */
static int raw_get(int fd, const char *cmd, size_t cmd_len, char *buf,
                   size_t want)
{
    size_t got = 0;
    ssize_t n;

    if (write(fd, cmd, cmd_len) != (ssize_t)cmd_len)
        return -1;
    while (got < want) {
        if ((n = read(fd, buf + got, want - got)) <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct rs_server rs;
    struct tlsr_redis_options ro;
    struct tlsri_scache_redis *cache;
    struct tlsri_key key;
    struct tlsri_resp resp;
    struct tlsr_error err;
    SSL_CTX *srv, *cli;
    SSL_SESSION *csess, *ssess = NULL, *got;
    const unsigned char *id;
    const char *argv2[2];
    char name[300] = "", cmd[400], *reply;
    size_t lens[2], cmd_len, want = 0;
    unsigned int id_len;
    double best[3] = { 1e18, 1e18, 1e18 }, t0;
    int n = 2000, reps = 5, opt, r, i, fd, raw, reused;

    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 'r')
            reps = atoi(optarg);
        else
            return 2;
    }
    if (!rs_available()) {
        printf("redis GET bench: skipped (no %s)\n", RS_BINARY);
        return 0;
    }
    if (n < 1 || reps < 1 || rs_start(&rs, "bench-pass", NULL) != 0)
        return 1;
    srv = tp_server_ctx(TP_RSA, TLS1_2_VERSION);
    cli = tp_client_ctx(TLS1_2_VERSION);
    SSL_CTX_set_options(srv, SSL_OP_NO_TICKET);
    csess = tp_connect2(srv, cli, NULL, &reused, &ssess);
    tlsr_redis_options_init(&ro);
    ro.host = "127.0.0.1";
    ro.port = rs.port;
    ro.password = rs.pass;
    ro.lookup_timeout_ms = 1000;
    cache = tlsri_scache_redis_new(&ro, NULL, &err);
    if (csess == NULL || ssess == NULL || cache == NULL)
        return 1;
    id = SSL_SESSION_get_id(ssess, &id_len);
    if (tlsri_key_init_server(&key, id, id_len, "", &err) != TLSR_OK
        || tlsri_scache_redis_put(cache, &key, ssess, &err) != TLSR_OK) {
        fprintf(stderr, "put: %s\n", err.msg);
        return 1;
    }
    /* The key's name and the reply's size, for the raw GET. */
    fd = rs_connect(&rs, 0);
    argv2[0] = "RANDOMKEY";
    if (fd < 0 || rs_cmd(fd, &resp, 1, argv2) != TLSRI_RESP_BULK
        || resp.len >= sizeof(name))
        return 1;
    memcpy(name, resp.data, resp.len);
    tlsri_resp_clear(&resp);
    argv2[0] = "GET";
    argv2[1] = name;
    lens[0] = 3;
    lens[1] = strlen(name);
    if (rs_cmd(fd, &resp, 2, argv2) != TLSRI_RESP_BULK)
        return 1;
    want = (size_t)snprintf(cmd, sizeof(cmd), "$%zu\r\n", resp.len)
           + resp.len + 2;
    printf("entry: %zu bytes\n", resp.len);
    tlsri_resp_clear(&resp);
    cmd_len = (size_t)snprintf(cmd, sizeof(cmd),
                               "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
                               strlen(name), name);
    reply = malloc(want);
    raw = raw_connect(&rs);
    if (reply == NULL || raw < 0)
        return 1;
    for (r = 0; r < reps; r++) {
        t0 = now_ns();
        for (i = 0; i < n; i++) {
            got = tlsri_scache_redis_fetch(cache, &key, 0, &err);
            if (got == NULL) {
                fprintf(stderr, "lookup: %s\n", err.msg);
                return 1;
            }
            SSL_SESSION_free(got);
        }
        if ((now_ns() - t0) / n < best[0])
            best[0] = (now_ns() - t0) / n;
        t0 = now_ns();
        for (i = 0; i < n; i++) {
            if (tlsri_redis_call(fd, 2, argv2, lens, tlsri_mono_ms() + 1000,
                                 &resp, &err) != TLSR_OK)
                return 1;
            tlsri_resp_clear(&resp);
        }
        if ((now_ns() - t0) / n < best[1])
            best[1] = (now_ns() - t0) / n;
        t0 = now_ns();
        for (i = 0; i < n; i++)
            if (raw_get(raw, cmd, cmd_len, reply, want) != 0)
                return 1;
        if ((now_ns() - t0) / n < best[2])
            best[2] = (now_ns() - t0) / n;
    }
    printf("wall time per operation on a local redis-server, best of %d x "
           "%d\n", reps, n);
    printf("  lookup (GET + decode)     %8.1f us\n", best[0] / 1e3);
    printf("  GET (core's RESP client)  %8.1f us\n", best[1] / 1e3);
    printf("  raw GET (plain socket)    %8.1f us\n", best[2] / 1e3);
    printf("  ratio GET/raw %.2fx, lookup/raw %.2fx, lookup/GET %.2fx\n",
           best[1] / best[2], best[0] / best[2], best[0] / best[1]);
    free(reply);
    close(raw);
    close(fd);
    tlsri_scache_redis_free(cache);
    SSL_SESSION_free(csess);
    SSL_SESSION_free(ssess);
    SSL_CTX_free(srv);
    SSL_CTX_free(cli);
    rs_stop(&rs);
    return 0;
}
