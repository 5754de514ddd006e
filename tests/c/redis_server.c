/* A private redis-server for the C tests and benches (redis_server.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_conn.h"
#include "redis_server.h"

enum { RS_MAX = 8 };
static struct rs_server *running[RS_MAX];
static int registered;

int rs_available(void)
{
    return access(RS_BINARY, X_OK) == 0;
}

int rs_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
        && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void stop_all(void)
{
    int i;

    for (i = 0; i < RS_MAX; i++)
        if (running[i] != NULL)
            rs_stop(running[i]);
}

static int accepts(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((unsigned short)port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void exec_redis(struct rs_server *s, const char *const *extra)
{
    const char *argv[40];
    char port[16];
    int n = 0, fd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
    }
    snprintf(port, sizeof(port), "%d", s->port);
    argv[n++] = RS_BINARY;
    argv[n++] = "--port"; argv[n++] = port;
    argv[n++] = "--bind"; argv[n++] = "127.0.0.1";
    argv[n++] = "--requirepass"; argv[n++] = s->pass;
    argv[n++] = "--save"; argv[n++] = "";
    argv[n++] = "--appendonly"; argv[n++] = "no";
    argv[n++] = "--dir"; argv[n++] = s->dir;
    argv[n++] = "--unixsocket"; argv[n++] = s->sock;
    argv[n++] = "--unixsocketperm"; argv[n++] = "700";
    argv[n++] = "--daemonize"; argv[n++] = "no";
    while (extra != NULL && *extra != NULL && n < 38)
        argv[n++] = *extra++;
    argv[n] = NULL;
    execv(RS_BINARY, (char *const *)argv);
    _exit(127);
}

int rs_start(struct rs_server *s, const char *pass, const char *const *extra)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    int i, slot = -1;

    memset(s, 0, sizeof(*s));
    s->pid = -1;
    s->pass = pass;
    for (i = 0; i < RS_MAX && slot < 0; i++)
        if (running[i] == NULL)
            slot = i;
    strcpy(s->dir, "/tmp/tlsr-redis-XXXXXX");
    if (slot < 0 || !rs_available() || mkdtemp(s->dir) == NULL
        || (s->port = rs_free_port()) < 0)
        return -1;
    snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
    if (!registered) {
        registered = 1;
        atexit(stop_all);
    }
    running[slot] = s;
    if ((s->pid = fork()) < 0)
        return -1;
    if (s->pid == 0)
        exec_redis(s, extra);
    for (i = 0; i < 500; i++) {     /* 5 s */
        if (accepts(s->port) && access(s->sock, F_OK) == 0)
            return 0;
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = -1;
            break;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "  redis-server did not start on port %d\n", s->port);
    rs_stop(s);
    return -1;
}

void rs_stop(struct rs_server *s)
{
    char path[128];
    int i;

    for (i = 0; i < RS_MAX; i++)
        if (running[i] == s)
            running[i] = NULL;
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = -1;
    }
    if (s->dir[0] != '\0') {
        unlink(s->sock);
        snprintf(path, sizeof(path), "%s/dump.rdb", s->dir);
        unlink(path);
        rmdir(s->dir);
        s->dir[0] = '\0';
    }
}

int rs_shared(const char *test, struct rs_server **out)
{
    static struct rs_server shared;
    static int state;       /* 0 not tried, 1 up, 2 none, -1 failed */

    if (state == 0)
        state = !rs_available() ? 2
                : rs_start(&shared, RS_PASS, NULL) == 0 ? 1 : -1;
    *out = &shared;
    if (state == 2) {
        printf("skip %s: no %s\n", test, RS_BINARY);
        return 0;
    }
    return state;
}

int rs_connect(const struct rs_server *s, int db)
{
    struct tlsri_redis_addr a;

    if (tlsri_redis_addr_init(&a, "127.0.0.1", s->port, NULL, NULL, s->pass,
                              db, NULL) != TLSR_OK)
        return -1;
    return tlsri_redis_connect(&a, tlsri_mono_ms() + 5000, NULL);
}

int rs_cmd(int fd, struct tlsri_resp *out, int argc, const char **argv)
{
    size_t lens[8];
    int i;

    if (argc > 8)
        return -1;
    for (i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (tlsri_redis_call(fd, argc, argv, lens, tlsri_mono_ms() + 5000, out,
                         NULL) != TLSR_OK)
        return -1;
    return out->type;
}

long long rs_int(const struct rs_server *s, const char *word)
{
    struct tlsri_resp r;
    long long v = -1;
    int fd = rs_connect(s, 0), type;

    if (fd < 0)
        return -1;
    type = rs_cmd(fd, &r, 1, &word);
    if (type == TLSRI_RESP_INT)
        v = r.num;
    else if (type == TLSRI_RESP_STATUS)
        v = 0;
    tlsri_resp_clear(&r);
    close(fd);
    return v;
}
