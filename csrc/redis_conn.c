/*
 * A minimal Redis client: RESP2 over a nonblocking socket, every wait
 * bounded by the caller's deadline (poll), so a Redis that is down, slow
 * or silent costs a handshake its lookup timeout and no more.  Replies
 * are read strictly: a reply that is not one of the expected kinds, or a
 * value larger than any entry, ends the connection rather than being
 * half-read (the next command would read the rest as its reply).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "redis_conn.h"

enum { LINE_MAX_LEN = 1024 };

int tlsri_redis_addr_init(struct tlsri_redis_addr *a, const char *host,
                          int port, const char *unix_path, const char *user,
                          const char *pass, int db, struct tlsr_error *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char ports[8];
    int rc;

    memset(a, 0, sizeof(*a));
    if ((user != NULL && strlen(user) >= sizeof(a->user))
        || (pass != NULL && strlen(pass) >= sizeof(a->pass)))
        return tlsri_error_set(err, TLSR_EINVAL, "Redis user name or "
                               "password too long");
    if (db < 0 || db > 100000)
        return tlsri_error_set(err, TLSR_EINVAL, "Redis db %d out of range",
                               db);
    snprintf(a->user, sizeof(a->user), "%s", user ? user : "");
    snprintf(a->pass, sizeof(a->pass), "%s", pass ? pass : "");
    a->db = db;
    if (unix_path != NULL && *unix_path != '\0') {
        struct sockaddr_un *un = (struct sockaddr_un *)&a->sa[0];

        if (strlen(unix_path) >= sizeof(un->sun_path))
            return tlsri_error_set(err, TLSR_EINVAL, "Redis socket path too "
                                   "long");
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, unix_path);
        a->len[0] = sizeof(*un);
        a->n = 1;
        return TLSR_OK;
    }
    if (host == NULL || *host == '\0' || port <= 0 || port > 65535)
        return tlsri_error_set(err, TLSR_EINVAL, "Redis host or port missing "
                               "or out of range");
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof(ports), "%d", port);
    rc = getaddrinfo(host, ports, &hints, &res);
    if (rc != 0)
        return tlsri_error_set(err, TLSR_ECONNECT, "cannot resolve Redis "
                               "host %.200s: %s", host, gai_strerror(rc));
    for (ai = res; ai != NULL && a->n < TLSRI_REDIS_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(a->sa[0]))
            continue;
        memcpy(&a->sa[a->n], ai->ai_addr, ai->ai_addrlen);
        a->len[a->n++] = ai->ai_addrlen;
    }
    freeaddrinfo(res);
    if (a->n == 0)
        return tlsri_error_set(err, TLSR_ECONNECT, "Redis host %.200s has no "
                               "address", host);
    return TLSR_OK;
}

/* 1 when fd is ready, 0 at the deadline, -1 on a poll error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd pfd;
    int64_t left;
    int rc;

    for (;;) {
        left = deadline - tlsri_mono_ms();
        if (left <= 0)
            return 0;
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline,
                    struct tlsr_error *err)
{
    ssize_t w;

    while (n > 0) {
        w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            && wait_fd(fd, POLLOUT, deadline) == 1)
            continue;
        return tlsri_error_set(err, TLSR_EIO, "Redis: %s",
                               w < 0 && errno != EAGAIN ? strerror(errno)
                                                        : "timed out");
    }
    return TLSR_OK;
}

/* Buffered reading of one reply. */
struct reader {
    int fd;
    int64_t deadline;
    size_t off, end;
    uint8_t buf[4096];
};

static int fill(struct reader *r, struct tlsr_error *err)
{
    ssize_t n;

    for (;;) {
        n = recv(r->fd, r->buf, sizeof(r->buf), 0);
        if (n > 0) {
            r->off = 0;
            r->end = (size_t)n;
            return TLSR_OK;
        }
        if (n == 0)
            return tlsri_error_set(err, TLSR_EIO, "Redis closed the "
                                   "connection");
        if (errno == EINTR)
            continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK)
            && wait_fd(r->fd, POLLIN, r->deadline) == 1)
            continue;
        return tlsri_error_set(err, TLSR_EIO, "Redis: %s",
                               errno == EAGAIN || errno == EWOULDBLOCK
                                   ? "timed out" : strerror(errno));
    }
}

/* A line without its CRLF, NUL-terminated; *n its length. */
static int read_line(struct reader *r, char *line, size_t *n,
                     struct tlsr_error *err)
{
    size_t len = 0;
    int rc;

    for (;;) {
        if (r->off == r->end && (rc = fill(r, err)) != TLSR_OK)
            return rc;
        while (r->off < r->end) {
            char c = (char)r->buf[r->off++];

            if (c == '\n' && len > 0 && line[len - 1] == '\r') {
                line[--len] = '\0';
                *n = len;
                return TLSR_OK;
            }
            if (len + 1 >= LINE_MAX_LEN)
                return tlsri_error_set(err, TLSR_EIO, "Redis reply line too "
                                       "long");
            line[len++] = c;
        }
    }
}

static int read_exact(struct reader *r, uint8_t *dst, size_t n,
                      struct tlsr_error *err)
{
    size_t k;
    int rc;

    while (n > 0) {
        if (r->off == r->end && (rc = fill(r, err)) != TLSR_OK)
            return rc;
        k = r->end - r->off < n ? r->end - r->off : n;
        memcpy(dst, r->buf + r->off, k);
        r->off += k;
        dst += k;
        n -= k;
    }
    return TLSR_OK;
}

/* A decimal integer filling all of s (RESP lengths and integers): an
 * optional '-' and digits only (strtoll alone would take blanks and '+'). */
static int parse_ll(const char *s, long long *out)
{
    char *end;

    if (!(*s >= '0' && *s <= '9') && !(*s == '-' && s[1] >= '0'
                                       && s[1] <= '9'))
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

static int read_reply(struct reader *r, struct tlsri_resp *out,
                      struct tlsr_error *err)
{
    char line[LINE_MAX_LEN];
    uint8_t crlf[2];
    long long v;
    size_t n = 0;
    int rc;

    if ((rc = read_line(r, line, &n, err)) != TLSR_OK)
        return rc;
    switch (line[0]) {
    case '+':
    case '-':
        out->type = line[0] == '+' ? TLSRI_RESP_STATUS : TLSRI_RESP_ERROR;
        if ((out->data = OPENSSL_malloc(n)) == NULL)
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        memcpy(out->data, line + 1, n - 1);
        out->data[n - 1] = '\0';
        out->len = n - 1;
        return TLSR_OK;
    case ':':
        if (parse_ll(line + 1, &out->num) != 0)
            break;
        out->type = TLSRI_RESP_INT;
        return TLSR_OK;
    case '$':
        if (parse_ll(line + 1, &v) != 0 || v < -1)
            break;
        if (v == -1) {
            out->type = TLSRI_RESP_NIL;
            return TLSR_OK;
        }
        /* No entry is larger: whatever this is, it is not ours. */
        if (v > TLSR_ENTRY_MAX)
            return tlsri_error_set(err, TLSR_ETOOBIG, "Redis value larger "
                                   "than any entry");
        if ((out->data = OPENSSL_malloc((size_t)v + 1)) == NULL)
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        out->len = (size_t)v;
        out->type = TLSRI_RESP_BULK;
        if ((rc = read_exact(r, out->data, out->len, err)) != TLSR_OK
            || (rc = read_exact(r, crlf, 2, err)) != TLSR_OK)
            return rc;
        if (crlf[0] != '\r' || crlf[1] != '\n')
            break;
        return TLSR_OK;
    default:
        break;
    }
    return tlsri_error_set(err, TLSR_EIO, "Redis sent a reply of an "
                           "unexpected kind");
}

void tlsri_resp_clear(struct tlsri_resp *r)
{
    if (r->data != NULL)
        OPENSSL_clear_free(r->data, r->len + 1);
    memset(r, 0, sizeof(*r));
}

int tlsri_redis_call(int fd, int argc, const char *const *argv,
                     const size_t *lens, int64_t deadline,
                     struct tlsri_resp *out, struct tlsr_error *err)
{
    struct reader *r;
    uint8_t *cmd, *p;
    size_t total = 16;
    int i, rc;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < argc; i++) {
        if (lens[i] > TLSR_ENTRY_MAX)
            return tlsri_error_set(err, TLSR_EINVAL, "Redis argument too "
                                   "large");
        total += lens[i] + 32;
    }
    if ((cmd = OPENSSL_malloc(total)) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    p = cmd + sprintf((char *)cmd, "*%d\r\n", argc);
    for (i = 0; i < argc; i++) {
        p += sprintf((char *)p, "$%zu\r\n", lens[i]);
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    /* The command may hold a password or an entry: wiped. */
    rc = send_all(fd, cmd, (size_t)(p - cmd), deadline, err);
    OPENSSL_clear_free(cmd, total);
    if (rc != TLSR_OK)
        return rc;
    if ((r = OPENSSL_malloc(sizeof(*r))) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    r->fd = fd;
    r->deadline = deadline;
    r->off = r->end = 0;
    rc = read_reply(r, out, err);
    OPENSSL_clear_free(r, sizeof(*r));
    if (rc != TLSR_OK)
        tlsri_resp_clear(out);
    return rc;
}

/* A command whose reply must be +OK (AUTH, SELECT): TLSR_ECONNECT with
 * Redis's own message otherwise (never the arguments). */
static int call_ok(int fd, int argc, const char *const *argv,
                   const size_t *lens, int64_t deadline, const char *what,
                   struct tlsr_error *err)
{
    struct tlsri_resp r;
    int rc = tlsri_redis_call(fd, argc, argv, lens, deadline, &r, err);

    if (rc != TLSR_OK) {
        char why[TLSR_ERRMSG_SIZE];

        snprintf(why, sizeof(why), "%s", err != NULL ? err->msg : "failed");
        return tlsri_error_set(err, TLSR_ECONNECT, "Redis %s: %s", what, why);
    }
    if (r.type != TLSRI_RESP_STATUS)
        rc = tlsri_error_set(err, TLSR_ECONNECT, "Redis refused %s: %.120s",
                             what, r.type == TLSRI_RESP_ERROR
                                       ? (const char *)r.data : "?");
    tlsri_resp_clear(&r);
    return rc;
}

static int handshake(int fd, const struct tlsri_redis_addr *a,
                     int64_t deadline, struct tlsr_error *err)
{
    const char *argv[3];
    size_t lens[3];
    char db[16];
    int n = 0, rc;

    if (a->pass[0] != '\0') {
        argv[n] = "AUTH";
        lens[n++] = 4;
        if (a->user[0] != '\0') {
            argv[n] = a->user;
            lens[n] = strlen(a->user);
            n++;
        }
        argv[n] = a->pass;
        lens[n] = strlen(a->pass);
        n++;
        if ((rc = call_ok(fd, n, argv, lens, deadline, "the password",
                          err)) != TLSR_OK)
            return rc;
    }
    if (a->db != 0) {
        snprintf(db, sizeof(db), "%d", a->db);
        argv[0] = "SELECT";
        lens[0] = 6;
        argv[1] = db;
        lens[1] = strlen(db);
        return call_ok(fd, 2, argv, lens, deadline, "SELECT", err);
    }
    return TLSR_OK;
}

/* A connected socket to address i by deadline, or -1 and *soerr. */
static int connect_one(const struct tlsri_redis_addr *a, int i,
                       int64_t deadline, int *soerr)
{
    socklen_t sl = sizeof(*soerr);
    int fd, w, one = 1;

    *soerr = 0;
    fd = socket(a->sa[i].ss_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *soerr = errno;
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&a->sa[i], a->len[i]) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            *soerr = errno;
        else if ((w = wait_fd(fd, POLLOUT, deadline)) != 1)
            *soerr = w == 0 ? ETIMEDOUT : errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, soerr, &sl) != 0)
            *soerr = errno;
    }
    if (*soerr != 0) {
        close(fd);
        return -1;
    }
    if (a->sa[i].ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int tlsri_redis_connect(const struct tlsri_redis_addr *a, int64_t deadline,
                        struct tlsr_error *err)
{
    int fd = -1, soerr = ENOENT, i;

    for (i = 0; i < a->n && fd < 0 && soerr != ETIMEDOUT; i++)
        fd = connect_one(a, i, deadline, &soerr);
    if (fd < 0) {
        tlsri_error_set(err, TLSR_ECONNECT, "cannot connect to Redis: %s",
                        strerror(soerr));
        return -1;
    }
    if (handshake(fd, a, deadline, err) != TLSR_OK) {
        close(fd);
        return -1;
    }
    return fd;
}
