/*
 * A minimal Redis client (RESP2) for the server session cache
 * (csrc/server_cache_redis.c): one blocking-with-deadline connection, the
 * few commands the cache sends (AUTH, SELECT, GET, GETDEL, SET PX, DEL).
 * Every operation ends by its deadline: a handshake waits for Redis at
 * most the lookup timeout.  Not thread-safe: one user at a time.
 */
#ifndef TLSR_REDIS_CONN_H
#define TLSR_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal.h"

enum { TLSRI_REDIS_ADDRS = 4 };

/* Where Redis is: resolved once, at start-up (no DNS on a handshake);
 * connecting tries the addresses in turn ("localhost": ::1, 127.0.0.1). */
struct tlsri_redis_addr {
    struct sockaddr_storage sa[TLSRI_REDIS_ADDRS];
    socklen_t len[TLSRI_REDIS_ADDRS];
    int n;
    char user[128];
    char pass[512];                 /* a secret: wiped when freed */
    int db;
};

enum {
    TLSRI_RESP_STATUS = 1,          /* +OK */
    TLSRI_RESP_ERROR,               /* -ERR ... */
    TLSRI_RESP_INT,                 /* :1 */
    TLSRI_RESP_BULK,                /* $n (data, len) */
    TLSRI_RESP_NIL                  /* $-1 */
};

struct tlsri_resp {
    int type;
    long long num;                  /* TLSRI_RESP_INT */
    uint8_t *data;                  /* BULK (OPENSSL_malloc), STATUS, ERROR */
    size_t len;
};

/* Fill a from host (a name or address; resolved here) or a Unix socket
 * path.  Errors name the host, never the password. */
int tlsri_redis_addr_init(struct tlsri_redis_addr *a, const char *host,
                          int port, const char *unix_path, const char *user,
                          const char *pass, int db, struct tlsr_error *err);

/* A connected, authenticated socket (the db selected) by deadline, or -1
 * and err (TLSR_ECONNECT). */
int tlsri_redis_connect(const struct tlsri_redis_addr *a, int64_t deadline,
                        struct tlsr_error *err);

/* Send one command (argc arguments) on fd and read its reply by deadline.
 * A failure (TLSR_EIO: timeout, closed, a reply that is not RESP) leaves
 * the connection unusable: close it.  An error reply is TLSR_OK with
 * type TLSRI_RESP_ERROR. */
int tlsri_redis_call(int fd, int argc, const char *const *argv,
                     const size_t *lens, int64_t deadline,
                     struct tlsri_resp *out, struct tlsr_error *err);

void tlsri_resp_clear(struct tlsri_resp *r);

#endif
