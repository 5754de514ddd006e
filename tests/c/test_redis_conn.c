/*
 * The core's Redis client (csrc/redis_conn.c): its reply parser against a
 * peer that sends crafted bytes on a socketpair (what a hostile or broken
 * server could send), then connecting and logging in to a real
 * redis-server (skipped, and passing, when none is installed).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "harness.h"
#include "redis_conn.h"
#include "redis_server.h"

/* The largest OpenSSL allocation while tracking: a length a peer claims
 * must never be allocated before it is checked. */
static size_t biggest;
static int tracking, hooked;

static void *t_malloc(size_t n, const char *file, int line)
{
    (void)file; (void)line;
    if (__atomic_load_n(&tracking, __ATOMIC_SEQ_CST) && n > biggest)
        biggest = n;
    return malloc(n);
}

static void *t_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file; (void)line;
    if (__atomic_load_n(&tracking, __ATOMIC_SEQ_CST) && n > biggest)
        biggest = n;
    return realloc(p, n);
}

static void t_free(void *p, const char *file, int line)
{
    (void)file; (void)line;
    free(p);
}

__attribute__((constructor)) static void hook_allocations(void)
{
    hooked = CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free);
}

/* ---- a fake peer ------------------------------------------------------- */

enum {
    PEER_ALL,           /* the reply in one write, then wait for EOF */
    PEER_BYTES,         /* one byte per write */
    PEER_CLOSE,         /* the reply, then close at once */
    PEER_SILENT,        /* read the command, never answer */
    PEER_GONE           /* close before reading anything */
};

struct peer {
    int fd, how;
    const char *reply;
    size_t len;
    char got[512];      /* the command as received */
    size_t got_len;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    char sink[256];
    size_t i;
    ssize_t n;

    if (p->how != PEER_GONE) {
        n = recv(p->fd, p->got, sizeof(p->got) - 1, 0);
        p->got_len = n > 0 ? (size_t)n : 0;
    }
    if (p->how == PEER_BYTES) {
        for (i = 0; i < p->len; i++) {
            if (send(p->fd, p->reply + i, 1, MSG_NOSIGNAL) != 1)
                break;
            usleep(300);
        }
    } else if (p->how == PEER_ALL || p->how == PEER_CLOSE) {
        for (i = 0; i < p->len; i += (size_t)n)
            if ((n = send(p->fd, p->reply + i, p->len - i, MSG_NOSIGNAL)) <= 0)
                break;
    }
    if (p->how != PEER_CLOSE && p->how != PEER_GONE)
        while (recv(p->fd, sink, sizeof(sink), 0) > 0)
            ;   /* until the client closes */
    close(p->fd);
    return NULL;
}

/* GET k against a peer sending reply; the elapsed ms in *ms if wanted. */
static int exchange(const char *reply, size_t len, int how, int wait_ms,
                    struct tlsri_resp *out, struct tlsr_error *err,
                    struct peer *seen, int64_t *ms)
{
    static const char *const argv[2] = { "GET", "k" };
    static const size_t lens[2] = { 3, 1 };
    struct peer p;
    pthread_t t;
    int sv[2], rc;
    int64_t t0;

    memset(&p, 0, sizeof(p));
    memset(err, 0, sizeof(*err));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return 999;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    p.fd = sv[1];
    p.how = how;
    p.reply = reply;
    p.len = len;
    if (how == PEER_GONE) {     /* gone before the command is sent */
        close(sv[1]);
        p.fd = -1;
    } else if (pthread_create(&t, NULL, peer_main, &p) != 0) {
        return 999;
    }
    t0 = tlsri_mono_ms();
    rc = tlsri_redis_call(sv[0], 2, argv, lens, t0 + wait_ms, out, err);
    if (ms != NULL)
        *ms = tlsri_mono_ms() - t0;
    close(sv[0]);
    if (how != PEER_GONE)
        pthread_join(t, NULL);
    if (seen != NULL)
        *seen = p;
    return rc;
}

#define SEND(lit, how, out, err) \
    exchange(lit, sizeof(lit) - 1, how, 2000, out, err, NULL, NULL)

static void replies_of_each_kind_parse(void)
{
    struct tlsri_resp r;
    struct tlsr_error err;
    struct peer seen;

    CHECK_CODE(exchange("+OK\r\n", 5, PEER_ALL, 2000, &r, &err, &seen, NULL),
               TLSR_OK, &err);
    CHECK_EQ_INT(r.type, TLSRI_RESP_STATUS);
    CHECK(r.len == 2 && strcmp((char *)r.data, "OK") == 0);
    tlsri_resp_clear(&r);
    /* The command went out as RESP: an array of bulk strings. */
    CHECK(seen.got_len == 20
          && memcmp(seen.got, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 20) == 0);
    CHECK_CODE(SEND("-ERR wrong kind\r\n", PEER_ALL, &r, &err), TLSR_OK,
               &err);
    CHECK_EQ_INT(r.type, TLSRI_RESP_ERROR);
    CHECK(strcmp((char *)r.data, "ERR wrong kind") == 0);
    tlsri_resp_clear(&r);
    CHECK_CODE(SEND(":123\r\n", PEER_ALL, &r, &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_INT && r.num == 123 && r.data == NULL);
    CHECK_CODE(SEND(":-7\r\n", PEER_ALL, &r, &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_INT && r.num == -7);
    CHECK_CODE(SEND("$-1\r\n", PEER_ALL, &r, &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_NIL && r.data == NULL);
    CHECK_CODE(SEND("$5\r\nhello\r\n", PEER_ALL, &r, &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_BULK && r.len == 5
          && memcmp(r.data, "hello", 5) == 0);
    tlsri_resp_clear(&r);
    CHECK(r.data == NULL && r.type == 0);
    CHECK_CODE(SEND("$0\r\n\r\n", PEER_ALL, &r, &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_BULK && r.len == 0);
    tlsri_resp_clear(&r);
    /* A bulk value may hold CR, LF and NUL. */
    CHECK_CODE(SEND("$4\r\n\r\n\0x\r\n", PEER_ALL, &r, &err), TLSR_OK, &err);
    CHECK(r.len == 4 && memcmp(r.data, "\r\n\0x", 4) == 0);
    tlsri_resp_clear(&r);
}

static void replies_split_in_single_bytes_parse(void)
{
    struct tlsri_resp r;
    struct tlsr_error err;

    CHECK_CODE(SEND("$5\r\nhello\r\n", PEER_BYTES, &r, &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_BULK && r.len == 5
          && memcmp(r.data, "hello", 5) == 0);
    tlsri_resp_clear(&r);
    CHECK_CODE(SEND("-NOAUTH Authentication required.\r\n", PEER_BYTES, &r,
                    &err), TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_ERROR && strncmp((char *)r.data, "NOAUTH", 6)
                                            == 0);
    tlsri_resp_clear(&r);
    CHECK_CODE(SEND(":42\r\n", PEER_BYTES, &r, &err), TLSR_OK, &err);
    CHECK(r.num == 42);
}

/* Every malformed reply is TLSR_EIO with a message, nothing kept. */
static int refused(const char *reply, size_t len, int how)
{
    struct tlsri_resp r;
    struct tlsr_error err;
    int rc = exchange(reply, len, how, 2000, &r, &err, NULL, NULL);

    if (rc != TLSR_EIO || err.code != TLSR_EIO || err.msg[0] == '\0'
        || r.data != NULL || r.type != 0) {
        fprintf(stderr, "  reply \"%.40s\": rc %d (%s)\n", reply, rc,
                err.msg);
        return 0;
    }
    return 1;
}

#define REFUSED(lit, how) refused(lit, sizeof(lit) - 1, how)

static void malformed_replies_are_eio(void)
{
    static char longline[1200];

    CHECK(REFUSED("$-2\r\n", PEER_ALL));
    CHECK(REFUSED("$abc\r\n", PEER_ALL));
    CHECK(REFUSED("$\r\n", PEER_ALL));
    CHECK(REFUSED("$5x\r\n", PEER_ALL));
    CHECK(REFUSED("$99999999999999999999999\r\n", PEER_ALL));
    CHECK(REFUSED(":abc\r\n", PEER_ALL));
    CHECK(REFUSED(":\r\n", PEER_ALL));
    CHECK(REFUSED(":99999999999999999999999\r\n", PEER_ALL));
    CHECK(REFUSED("$5\r\nhelloXY", PEER_ALL));      /* no CRLF after it */
    CHECK(REFUSED("$5\r\nhello\n\r", PEER_ALL));
    CHECK(REFUSED("*1\r\n$1\r\na\r\n", PEER_ALL));  /* arrays: not ours */
    CHECK(REFUSED("*-1\r\n", PEER_ALL));
    CHECK(REFUSED("OK\r\n", PEER_ALL));
    CHECK(REFUSED("\r\n", PEER_ALL));
    memset(longline, 'a', sizeof(longline));
    longline[0] = '+';
    memcpy(longline + sizeof(longline) - 2, "\r\n", 2);
    CHECK(refused(longline, sizeof(longline), PEER_ALL));
}

/* RESP lengths and integers are plain decimal: strtoll's leading blanks
 * and plus sign are not RESP (a peer's "$ 5" is not a length). */
static void regression_resp_numbers_are_strict_decimal(void)
{
    CHECK(REFUSED("$ 5\r\nhello\r\n", PEER_ALL));
    CHECK(REFUSED("$+5\r\nhello\r\n", PEER_ALL));
    CHECK(REFUSED("$\t5\r\nhello\r\n", PEER_ALL));
    CHECK(REFUSED(": 1\r\n", PEER_ALL));
    CHECK(REFUSED(":+1\r\n", PEER_ALL));
    CHECK(REFUSED(":-\r\n", PEER_ALL));
}

/* A line of 1024 bytes with its CRLF is taken; one of 1025 is not. */
static void the_longest_line_and_one_byte_more(void)
{
    static char line[1025];
    struct tlsri_resp r;
    struct tlsr_error err;

    memset(line, 'a', sizeof(line));
    line[0] = '+';
    memcpy(line + 1022, "\r\n", 2);
    CHECK_CODE(exchange(line, 1024, PEER_ALL, 2000, &r, &err, NULL, NULL),
               TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_STATUS && r.len == 1021);
    tlsri_resp_clear(&r);
    line[1022] = 'a';
    memcpy(line + 1023, "\r\n", 2);
    CHECK(refused(line, 1025, PEER_ALL));
}

static void a_value_larger_than_any_entry_is_toobig_unallocated(void)
{
    char head[64];
    struct tlsri_resp r;
    struct tlsr_error err;
    int n, rc;

    CHECK(hooked);      /* the allocation check below means something */
    n = snprintf(head, sizeof(head), "$%d\r\n", TLSR_ENTRY_MAX + 1);
    biggest = 0;
    __atomic_store_n(&tracking, 1, __ATOMIC_SEQ_CST);
    rc = exchange(head, (size_t)n, PEER_ALL, 2000, &r, &err, NULL, NULL);
    __atomic_store_n(&tracking, 0, __ATOMIC_SEQ_CST);
    CHECK_CODE(rc, TLSR_ETOOBIG, &err);
    CHECK(r.data == NULL && strstr(err.msg, "larger") != NULL);
    CHECK(biggest < 65536);
    rc = SEND("$9223372036854775807\r\n", PEER_ALL, &r, &err);
    CHECK_CODE(rc, TLSR_ETOOBIG, &err);
}

static void a_value_of_entry_max_is_read_whole(void)
{
    size_t len = TLSR_ENTRY_MAX + 16;
    char *reply = malloc(len);
    struct tlsri_resp r;
    struct tlsr_error err;
    int n, rc;

    CHECK(reply != NULL);
    n = snprintf(reply, 32, "$%d\r\n", TLSR_ENTRY_MAX);
    memset(reply + n, 'v', TLSR_ENTRY_MAX);
    memcpy(reply + n + TLSR_ENTRY_MAX, "\r\n", 2);
    rc = exchange(reply, (size_t)n + TLSR_ENTRY_MAX + 2, PEER_ALL, 5000, &r,
                  &err, NULL, NULL);
    free(reply);
    CHECK_CODE(rc, TLSR_OK, &err);
    CHECK(r.type == TLSRI_RESP_BULK && r.len == TLSR_ENTRY_MAX
          && r.data[TLSR_ENTRY_MAX - 1] == 'v');
    tlsri_resp_clear(&r);
}

static void a_peer_that_closes_is_eio(void)
{
    CHECK(REFUSED("$5\r\nhel", PEER_CLOSE));        /* mid-value */
    CHECK(REFUSED("$5\r\n", PEER_CLOSE));           /* after the length */
    CHECK(REFUSED("+O", PEER_CLOSE));               /* mid-line */
    CHECK(REFUSED("+OK\n", PEER_CLOSE));            /* LF alone ends none */
    CHECK(REFUSED("", PEER_CLOSE));                 /* no reply at all */
    CHECK(REFUSED("", PEER_GONE));      /* gone before the command: no
                                         * SIGPIPE, an error */
}

static void a_silent_peer_is_eio_by_the_deadline(void)
{
    struct tlsri_resp r;
    struct tlsr_error err;
    int64_t ms = -1;

    CHECK_CODE(exchange("", 0, PEER_SILENT, 50, &r, &err, NULL, &ms),
               TLSR_EIO, &err);
    CHECK(strstr(err.msg, "timed out") != NULL);
    CHECK(ms >= 45 && ms < 1000);
    /* Silent after half a reply, and with the deadline already gone. */
    CHECK_CODE(exchange("$5\r\nhe", 6, PEER_ALL, 50, &r, &err, NULL, &ms),
               TLSR_EIO, &err);
    CHECK(ms < 1000 && r.data == NULL);
    CHECK_CODE(exchange("", 0, PEER_SILENT, 0, &r, &err, NULL, &ms),
               TLSR_EIO, &err);
    CHECK(ms < 1000);
}

static void arguments_larger_than_any_entry_are_refused(void)
{
    const char *argv[2] = { "SET", "k" };
    size_t lens[2] = { 3, (size_t)TLSR_ENTRY_MAX + 1 };
    struct tlsri_resp r;
    struct tlsr_error err;
    int sv[2];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_CODE(tlsri_redis_call(sv[0], 2, argv, lens, tlsri_mono_ms() + 50,
                                &r, &err), TLSR_EINVAL, &err);
    close(sv[0]);
    close(sv[1]);
}

/* ---- against a real redis-server --------------------------------------- */

static struct rs_server *srv;

static int connect_to(const char *host, int port, const char *unix_path,
                      const char *pass, int db, struct tlsr_error *err)
{
    struct tlsri_redis_addr a;

    if (tlsri_redis_addr_init(&a, host, port, unix_path, NULL, pass, db, err)
        != TLSR_OK)
        return -2;
    return tlsri_redis_connect(&a, tlsri_mono_ms() + 2000, err);
}

static void connects_with_the_password(void)
{
    const char *set[3] = { "SET", "tlsr-test:k", "value" };
    const char *get[2] = { "GET", "tlsr-test:k" };
    struct tlsri_resp r;
    struct tlsr_error err;
    int fd;

    RS_NEED(srv);
    fd = connect_to("127.0.0.1", srv->port, NULL, RS_PASS, 0, &err);
    CHECK_CODE(fd >= 0, 1, &err);
    CHECK_EQ_INT(rs_cmd(fd, &r, 3, set), TLSRI_RESP_STATUS);
    tlsri_resp_clear(&r);
    CHECK_EQ_INT(rs_cmd(fd, &r, 2, get), TLSRI_RESP_BULK);
    CHECK(r.len == 5 && memcmp(r.data, "value", 5) == 0);
    tlsri_resp_clear(&r);
    close(fd);
    /* By name, and on the Unix socket. */
    fd = connect_to("localhost", srv->port, NULL, RS_PASS, 0, &err);
    if (fd < 0)     /* localhost may be ::1 first, where no one listens */
        CHECK_EQ_INT(err.code, TLSR_ECONNECT);
    else
        close(fd);
    fd = connect_to(NULL, 0, srv->sock, RS_PASS, 0, &err);
    CHECK_CODE(fd >= 0, 1, &err);
    CHECK_EQ_INT(rs_cmd(fd, &r, 2, get), TLSRI_RESP_BULK);
    tlsri_resp_clear(&r);
    close(fd);
}

static void a_wrong_password_is_econnect_without_it(void)
{
    const char *get[2] = { "GET", "tlsr-test:k" };
    struct tlsri_resp r;
    struct tlsr_error err;
    int fd;

    RS_NEED(srv);
    fd = connect_to("127.0.0.1", srv->port, NULL, "not-the-pass-xyz", 0, &err);
    CHECK_EQ_INT(fd, -1);
    CHECK_EQ_INT(err.code, TLSR_ECONNECT);
    CHECK(strstr(err.msg, "WRONGPASS") != NULL
          || strstr(err.msg, "invalid password") != NULL);
    CHECK(strstr(err.msg, "not-the-pass") == NULL);
    /* With an ACL user that does not exist: the same. */
    {
        struct tlsri_redis_addr a;

        CHECK_CODE(tlsri_redis_addr_init(&a, "127.0.0.1", srv->port, NULL,
                                         "nobody", RS_PASS, 0, &err),
                   0, &err);
        CHECK_EQ_INT(tlsri_redis_connect(&a, tlsri_mono_ms() + 2000, &err),
                     -1);
        CHECK_EQ_INT(err.code, TLSR_ECONNECT);
        CHECK(strstr(err.msg, RS_PASS) == NULL);
    }
    /* No password: connected, and every command refused by Redis. */
    fd = connect_to("127.0.0.1", srv->port, NULL, NULL, 0, &err);
    CHECK_CODE(fd >= 0, 1, &err);
    CHECK_EQ_INT(rs_cmd(fd, &r, 2, get), TLSRI_RESP_ERROR);
    CHECK(strncmp((char *)r.data, "NOAUTH", 6) == 0);
    tlsri_resp_clear(&r);
    close(fd);
}

static void the_db_is_selected(void)
{
    const char *set[3] = { "SET", "tlsr-test:db", "three" };
    const char *get[2] = { "GET", "tlsr-test:db" };
    struct tlsri_resp r;
    struct tlsr_error err;
    int fd;

    RS_NEED(srv);
    fd = connect_to("127.0.0.1", srv->port, NULL, RS_PASS, 3, &err);
    CHECK_CODE(fd >= 0, 1, &err);
    CHECK_EQ_INT(rs_cmd(fd, &r, 3, set), TLSRI_RESP_STATUS);
    tlsri_resp_clear(&r);
    close(fd);
    fd = connect_to("127.0.0.1", srv->port, NULL, RS_PASS, 0, &err);
    CHECK_CODE(fd >= 0, 1, &err);
    CHECK_EQ_INT(rs_cmd(fd, &r, 2, get), TLSRI_RESP_NIL);
    close(fd);
    fd = connect_to("127.0.0.1", srv->port, NULL, RS_PASS, 3, &err);
    CHECK_CODE(fd >= 0, 1, &err);
    CHECK_EQ_INT(rs_cmd(fd, &r, 2, get), TLSRI_RESP_BULK);
    CHECK(r.len == 5 && memcmp(r.data, "three", 5) == 0);
    tlsri_resp_clear(&r);
    close(fd);
    /* A db this Redis does not have: refused with Redis's words. */
    fd = connect_to("127.0.0.1", srv->port, NULL, RS_PASS, 999, &err);
    CHECK_EQ_INT(fd, -1);
    CHECK_EQ_INT(err.code, TLSR_ECONNECT);
    CHECK(strstr(err.msg, "SELECT") != NULL && strstr(err.msg, "range"));
}

static void a_closed_port_is_econnect_at_once(void)
{
    struct tlsr_error err;
    int64_t t0 = tlsri_mono_ms();
    int port = rs_free_port();

    CHECK(port > 0);
    CHECK_EQ_INT(connect_to("127.0.0.1", port, NULL, RS_PASS, 0, &err), -1);
    CHECK_EQ_INT(err.code, TLSR_ECONNECT);
    CHECK(strstr(err.msg, "refused") != NULL);
    CHECK(tlsri_mono_ms() - t0 < 1000);
    CHECK_EQ_INT(connect_to(NULL, 0, "/nonexistent/redis.sock", RS_PASS, 0,
                            &err), -1);
    CHECK_EQ_INT(err.code, TLSR_ECONNECT);
}

static void bad_addresses_are_refused_by_name(void)
{
    struct tlsri_redis_addr a;
    struct tlsr_error err;
    char longpath[200], longpass[600];

    CHECK_CODE(tlsri_redis_addr_init(&a, "host.invalid", 6379, NULL, NULL,
                                     "pw", 0, &err), TLSR_ECONNECT, &err);
    CHECK(strstr(err.msg, "host.invalid") != NULL);
    CHECK_CODE(tlsri_redis_addr_init(&a, NULL, 6379, NULL, NULL, NULL, 0,
                                     &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsri_redis_addr_init(&a, "127.0.0.1", 0, NULL, NULL, NULL, 0,
                                     &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsri_redis_addr_init(&a, "127.0.0.1", 65536, NULL, NULL, NULL,
                                     0, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsri_redis_addr_init(&a, "127.0.0.1", 6379, NULL, NULL, NULL,
                                     -1, &err), TLSR_EINVAL, &err);
    memset(longpath, 'p', sizeof(longpath));
    longpath[sizeof(longpath) - 1] = '\0';
    CHECK_CODE(tlsri_redis_addr_init(&a, NULL, 0, longpath, NULL, NULL, 0,
                                     &err), TLSR_EINVAL, &err);
    memset(longpass, 'x', sizeof(longpass));
    longpass[sizeof(longpass) - 1] = '\0';
    CHECK_CODE(tlsri_redis_addr_init(&a, "127.0.0.1", 6379, NULL, NULL,
                                     longpass, 0, &err), TLSR_EINVAL, &err);
    CHECK(strstr(err.msg, "xxxx") == NULL);
}

TESTS(T(replies_of_each_kind_parse),
      T(replies_split_in_single_bytes_parse),
      T(malformed_replies_are_eio),
      T(regression_resp_numbers_are_strict_decimal),
      T(the_longest_line_and_one_byte_more),
      T(a_value_larger_than_any_entry_is_toobig_unallocated),
      T(a_value_of_entry_max_is_read_whole),
      T(a_peer_that_closes_is_eio),
      T(a_silent_peer_is_eio_by_the_deadline),
      T(arguments_larger_than_any_entry_are_refused),
      T(connects_with_the_password),
      T(a_wrong_password_is_econnect_without_it),
      T(the_db_is_selected),
      T(a_closed_port_is_econnect_at_once),
      T(bad_addresses_are_refused_by_name))
