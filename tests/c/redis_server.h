/*
 * A private redis-server for the C tests and benches: Debian's binary on
 * 127.0.0.1, a free port, a password, no persistence, a Unix socket in a
 * temporary directory.  It dies with the process that started it (also on
 * a crash: PR_SET_PDEATHSIG) and is killed at exit.
 */
#ifndef TLSR_TEST_REDIS_SERVER_H
#define TLSR_TEST_REDIS_SERVER_H

#include <sys/types.h>

#define RS_BINARY "/usr/bin/redis-server"

struct rs_server {
    pid_t pid;
    int port;
    char dir[64];
    char sock[96];          /* its Unix socket */
    const char *pass;
};

/* 1 if redis-server is installed (otherwise the tests that need it skip). */
int rs_available(void);

/* Start one; extra: NULL-terminated further arguments ("--timeout", "1")
 * or NULL.  0 once it accepts connections, -1 on failure. */
int rs_start(struct rs_server *s, const char *pass, const char *const *extra);

/* Kill it (SIGKILL), reap it, remove its directory.  Again: a no-op. */
void rs_stop(struct rs_server *s);

/* A TCP port nothing listens on (just bound and closed). */
int rs_free_port(void);

/* The process's shared server with password RS_PASS, started on first
 * use: 1 up, 0 when redis-server is not installed (a skip line for test
 * is printed), -1 if it would not start. */
#define RS_PASS "tlsr-test-s3cret"
int rs_shared(const char *test, struct rs_server **out);

/* Skip (pass) without redis-server, fail if it is there and won't start;
 * sets s.  For test functions (harness.h's CHECK). */
#define RS_NEED(s)                                                         \
    do {                                                                   \
        int st_ = rs_shared(__func__, &(s));                               \
        if (st_ == 0)                                                      \
            return;                                                        \
        CHECK(st_ == 1);                                                   \
    } while (0)

/* A logged-in connection to s's db (the core's client), or -1. */
int rs_connect(const struct rs_server *s, int db);

/* One command on fd (argv NUL-terminated strings): the reply's type
 * (TLSRI_RESP_*, its data in *out to tlsri_resp_clear), -1 on failure. */
struct tlsri_resp;
int rs_cmd(int fd, struct tlsri_resp *out, int argc, const char **argv);

/* The integer reply of a one-word command (DBSIZE, FLUSHALL: 0) on s's
 * db 0, or -1. */
long long rs_int(const struct rs_server *s, const char *word);

#endif
