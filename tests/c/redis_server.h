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

#endif
