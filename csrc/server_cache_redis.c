/*
 * A server session cache kept in Redis, for fleets across machines: the
 * same entries as in a store directory (the entry codec's bytes, sealed
 * when the codec seals; the server key of server_cache.c), under
 * <prefix><SHA-256 of the key as hex>, each with its expiry as Redis TTL.
 *
 * Writes (SET PX, DEL) are the writer thread's, on a connection of its
 * own.  Lookups run in the handshake (OpenSSL has no way to suspend a
 * session lookup): on a pooled connection, bounded by lookup_timeout_ms
 * including a connect, after which they are misses.  After any network
 * failure Redis is left alone for retry_after_ms (lookups are instant
 * misses, writes are dropped), so a Redis that is down costs full
 * handshakes, not a stall per handshake.  Connections made before a
 * fork() are never used by the child: the parent still reads from them.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "redis_conn.h"
#include "server_cache_redis.h"

enum { POOL_MAX = 8, PREFIX_MAX = 200, KEY_MAX = PREFIX_MAX + 65 };

struct tlsri_scache_redis {
    struct tlsri_redis_addr addr;
    struct tlsr_codec *codec;
    char prefix[PREFIX_MAX + 1];
    int timeout_ms, lookup_ms, retry_ms;
    pthread_mutex_t lock;           /* idle, nidle, pid, down_until */
    int idle[POOL_MAX];
    int nidle;
    pid_t pid;                      /* whose connections idle[] are */
    int64_t down_until;             /* monotonic ms */
    int writer_fd;                  /* the writer thread's only */
    pid_t writer_pid;
};

TLSR_EXPORT void tlsr_redis_options_init(struct tlsr_redis_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->port = 6379;
    o->prefix = "tlsresume:";
    o->timeout_ms = 200;
    o->lookup_timeout_ms = 10;
    o->retry_after_ms = 1000;
}

static int check_ms(int v, int dflt, int low, const char *name, int *out,
                    struct tlsr_error *err)
{
    if (v == 0)
        v = dflt;
    if (v < low || v > 3600000)
        return tlsri_error_set(err, TLSR_EINVAL, "%s must be %d to 3600000 "
                               "ms", name, low);
    *out = v;
    return TLSR_OK;
}

struct tlsri_scache_redis *tlsri_scache_redis_new(
    const struct tlsr_redis_options *ro, const struct tlsr_codec *codec,
    struct tlsr_error *err)
{
    struct tlsri_scache_redis *r;
    const char *prefix;

    if (ro == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "Redis options are NULL");
        return NULL;
    }
    prefix = ro->prefix != NULL ? ro->prefix : "tlsresume:";
    if (strlen(prefix) > PREFIX_MAX) {
        tlsri_error_set(err, TLSR_EINVAL, "Redis prefix longer than %d bytes",
                        PREFIX_MAX);
        return NULL;
    }
    if ((r = OPENSSL_zalloc(sizeof(*r))) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    r->writer_fd = -1;
    r->pid = r->writer_pid = getpid();
    strcpy(r->prefix, prefix);
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        OPENSSL_free(r);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    if (check_ms(ro->timeout_ms, 200, 1, "timeout", &r->timeout_ms, err)
            != TLSR_OK
        || check_ms(ro->lookup_timeout_ms, 10, 1, "lookup timeout",
                    &r->lookup_ms, err) != TLSR_OK
        || check_ms(ro->retry_after_ms, 1000, 1, "retry_after",
                    &r->retry_ms, err) != TLSR_OK
        || tlsri_redis_addr_init(&r->addr, ro->host,
                                 ro->port ? ro->port : 6379, ro->unix_path,
                                 ro->username, ro->password, ro->db, err)
               != TLSR_OK
        || (r->codec = tlsri_codec_dup(codec, err)) == NULL) {
        tlsri_scache_redis_free(r);
        return NULL;
    }
    return r;
}

void tlsri_scache_redis_free(struct tlsri_scache_redis *r)
{
    int i;

    if (r == NULL)
        return;
    /* Only our own process's connections are closed here: a child's
     * copies of the parent's are just file descriptors to drop. */
    for (i = 0; i < r->nidle; i++)
        close(r->idle[i]);
    if (r->writer_fd >= 0)
        close(r->writer_fd);
    tlsr_codec_free(r->codec);
    pthread_mutex_destroy(&r->lock);
    OPENSSL_clear_free(r, sizeof(*r));
}

int tlsri_scache_redis_same(const struct tlsri_scache_redis *a,
                            const struct tlsri_scache_redis *b)
{
    struct tlsr_store *sa = tlsri_codec_store(a->codec);
    struct tlsr_store *sb = tlsri_codec_store(b->codec);

    return a->addr.n == b->addr.n
           && memcmp(a->addr.len, b->addr.len, sizeof(a->addr.len)) == 0
           && memcmp(a->addr.sa, b->addr.sa, sizeof(a->addr.sa)) == 0
           && a->addr.db == b->addr.db && strcmp(a->prefix, b->prefix) == 0
           && sa->sealed == sb->sealed
           && (!sa->sealed || memcmp(sa->key_id, sb->key_id,
                                     sizeof(sa->key_id)) == 0);
}

static void redis_key(const struct tlsri_scache_redis *r,
                      const struct tlsri_key *key, char out[KEY_MAX])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(r->prefix), i;

    memcpy(out, r->prefix, n);
    for (i = 0; i < 32; i++) {
        out[n + 2 * i] = hex[key->digest[i] >> 4];
        out[n + 2 * i + 1] = hex[key->digest[i] & 15];
    }
    out[n + 64] = '\0';
}

/* Whether Redis is being left alone after a failure. */
static int resting(struct tlsri_scache_redis *r, struct tlsr_error *err)
{
    int64_t until;

    pthread_mutex_lock(&r->lock);
    until = r->down_until;
    pthread_mutex_unlock(&r->lock);
    if (tlsri_mono_ms() >= until)
        return 0;
    tlsri_error_set(err, TLSR_ENOTFOUND, "Redis is left alone after a "
                    "failure");
    return 1;
}

/* A network failure: rest, and say so with Redis's own words. */
static void went_down(struct tlsri_scache_redis *r)
{
    pthread_mutex_lock(&r->lock);
    r->down_until = tlsri_mono_ms() + r->retry_ms;
    pthread_mutex_unlock(&r->lock);
}

/* An idle connection Redis has closed (restarted, its idle timeout) is
 * readable: such a one is dropped before use, not taken for Redis being
 * down. */
static int idle_ok(int fd)
{
    struct pollfd pfd = { fd, POLLIN, 0 };

    return poll(&pfd, 1, 0) == 0;
}

static int pool_get(struct tlsri_scache_redis *r)
{
    int fd = -1, i;

    pthread_mutex_lock(&r->lock);
    if (r->pid != getpid()) {       /* forked: the parent's, not ours */
        for (i = 0; i < r->nidle; i++)
            close(r->idle[i]);
        r->nidle = 0;
        r->pid = getpid();
    }
    while (fd < 0 && r->nidle > 0) {
        fd = r->idle[--r->nidle];
        if (!idle_ok(fd)) {
            close(fd);
            fd = -1;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return fd;
}

static void pool_put(struct tlsri_scache_redis *r, int fd)
{
    pthread_mutex_lock(&r->lock);
    if (r->pid == getpid() && r->nidle < POOL_MAX) {
        r->idle[r->nidle++] = fd;
        fd = -1;
    }
    pthread_mutex_unlock(&r->lock);
    if (fd >= 0)
        close(fd);
}

/* The writer's connection, (re)made as needed. */
static int writer_conn(struct tlsri_scache_redis *r, int64_t deadline,
                       struct tlsr_error *err)
{
    if (r->writer_fd >= 0
        && (r->writer_pid != getpid() || !idle_ok(r->writer_fd))) {
        close(r->writer_fd);
        r->writer_fd = -1;
    }
    if (r->writer_fd < 0) {
        r->writer_pid = getpid();
        r->writer_fd = tlsri_redis_connect(&r->addr, deadline, err);
    }
    return r->writer_fd;
}

/* A write command on the writer's connection. */
static int write_call(struct tlsri_scache_redis *r, int argc,
                      const char *const *argv, const size_t *lens,
                      struct tlsri_resp *out, struct tlsr_error *err)
{
    int64_t deadline = tlsri_mono_ms() + r->timeout_ms;
    int rc;

    memset(out, 0, sizeof(*out));
    if (resting(r, err))
        return tlsri_error_set(err, TLSR_EIO, "Redis is left alone after a "
                               "failure: session not written");
    if (writer_conn(r, deadline, err) < 0) {
        went_down(r);
        return err != NULL ? err->code : TLSR_ECONNECT;
    }
    rc = tlsri_redis_call(r->writer_fd, argc, argv, lens, deadline, out,
                          err);
    if (rc == TLSR_OK && out->type == TLSRI_RESP_ERROR) {
        /* Redis's own words (NOAUTH, OOM, READONLY ...) name no value. */
        rc = tlsri_error_set(err, TLSR_EIO, "Redis: %.160s",
                             (const char *)out->data);
        tlsri_resp_clear(out);
    }
    if (rc != TLSR_OK) {
        close(r->writer_fd);
        r->writer_fd = -1;
        went_down(r);
    }
    return rc;
}

int tlsri_scache_redis_put(struct tlsri_scache_redis *r,
                           const struct tlsri_key *key, SSL_SESSION *sess,
                           struct tlsr_error *err)
{
    struct tlsr_store *st = tlsri_codec_store(r->codec);
    struct tlsri_resp resp;
    char k[KEY_MAX], ttl[24];
    const char *argv[5];
    size_t lens[5], len = 0;
    uint8_t *buf = NULL;
    int64_t expires, left_ms;
    int kind, rc;

    if ((rc = tlsri_entry_prepare(st, sess, &expires, &kind, err)) != TLSR_OK
        || (rc = tlsri_entry_encode(st, key, sess, kind, expires, &buf, &len,
                                    err)) != TLSR_OK)
        return rc;
    left_ms = (expires - (int64_t)time(NULL)) * 1000;
    if (left_ms <= 0) {
        OPENSSL_clear_free(buf, len);
        return tlsri_error_set(err, TLSR_ENOTRESUMABLE, "session expired");
    }
    redis_key(r, key, k);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)left_ms);
    argv[0] = "SET";
    argv[1] = k;
    argv[2] = (const char *)buf;
    argv[3] = "PX";
    argv[4] = ttl;
    lens[0] = 3;
    lens[1] = strlen(k);
    lens[2] = len;
    lens[3] = 2;
    lens[4] = strlen(ttl);
    rc = write_call(r, 5, argv, lens, &resp, err);
    OPENSSL_clear_free(buf, len);
    tlsri_resp_clear(&resp);
    return rc;
}

int tlsri_scache_redis_remove(struct tlsri_scache_redis *r,
                              const struct tlsri_key *key,
                              struct tlsr_error *err)
{
    struct tlsri_resp resp;
    char k[KEY_MAX];
    const char *argv[2] = { "DEL", k };
    size_t lens[2];
    int rc;

    redis_key(r, key, k);
    lens[0] = 3;
    lens[1] = strlen(k);
    rc = write_call(r, 2, argv, lens, &resp, err);
    if (rc == TLSR_OK)
        rc = resp.type == TLSRI_RESP_INT && resp.num > 0;
    tlsri_resp_clear(&resp);
    return rc;
}

SSL_SESSION *tlsri_scache_redis_fetch(struct tlsri_scache_redis *r,
                                      const struct tlsri_key *key, int take,
                                      struct tlsr_error *err)
{
    struct tlsri_entry_meta meta;
    struct tlsri_resp resp;
    SSL_SESSION *sess = NULL;
    char k[KEY_MAX];
    const char *argv[2];
    size_t lens[2];
    int64_t deadline = tlsri_mono_ms() + r->lookup_ms;
    int fd, rc;

    if (resting(r, err))
        return NULL;
    if ((fd = pool_get(r)) < 0
        && (fd = tlsri_redis_connect(&r->addr, deadline, err)) < 0) {
        went_down(r);
        return NULL;
    }
    redis_key(r, key, k);
    argv[0] = take ? "GETDEL" : "GET";
    argv[1] = k;
    lens[0] = strlen(argv[0]);
    lens[1] = strlen(k);
    rc = tlsri_redis_call(fd, 2, argv, lens, deadline, &resp, err);
    if (rc != TLSR_OK) {
        close(fd);      /* a reply may still come: never reuse it */
        if (rc != TLSR_ETOOBIG)     /* a value not ours: not Redis's fault */
            went_down(r);
        return NULL;
    }
    pool_put(r, fd);
    if (resp.type == TLSRI_RESP_BULK)
        sess = tlsri_entry_decode_for(tlsri_codec_store(r->codec), resp.data,
                                      resp.len, key, &meta, err);
    else if (resp.type == TLSRI_RESP_ERROR)   /* WRONGTYPE, NOAUTH, ... */
        tlsri_error_set(err, TLSR_EIO, "Redis: %.160s",
                        (const char *)resp.data);
    else
        tlsri_error_set(err, TLSR_ENOTFOUND, "no entry");
    tlsri_resp_clear(&resp);
    return sess;
}
