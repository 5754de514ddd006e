/*
 * The probe's C API: option checks, bad targets (closed port, a server that
 * accepts and never answers: ends within the timeout), and a real
 * `openssl s_server` whose resumption is known (exit status, JSON).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tlsresume.h"

/* A listening socket on 127.0.0.1 (its port in *port); never accepts. */
static int listener(int *port, int listen_too)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || (listen_too && listen(fd, 8) != 0)
        || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_probe_options_checked(void)
{
    struct tlsr_probe_opts o;
    struct tlsr_error err;
    const char *bad_ip[] = { "example.org" };

    CHECK(tlsr_probe_run(NULL, &err) == NULL && err.code == TLSR_EINVAL);
    tlsr_probe_opts_init(&o);
    CHECK(tlsr_probe_run(&o, &err) == NULL && err.code == TLSR_EINVAL);
    o.host = "127.0.0.1";
    o.port = 0;
    CHECK(tlsr_probe_run(&o, &err) == NULL && err.code == TLSR_EINVAL);
    o.port = 443;
    o.tries = 101;
    CHECK(tlsr_probe_run(&o, &err) == NULL && err.code == TLSR_EINVAL);
    o.tries = 1;
    o.versions = 8;
    CHECK(tlsr_probe_run(&o, &err) == NULL && err.code == TLSR_EINVAL);
    o.versions = 0;
    o.ips = bad_ip;
    o.n_ips = 1;
    CHECK(tlsr_probe_run(&o, &err) == NULL && err.code == TLSR_EINVAL);
    CHECK(strstr(err.msg, "not an IP address") != NULL);
    CHECK(strcmp(tlsr_error_name(TLSR_ECONNECT), "TLSR_ECONNECT") == 0);
    tlsr_probe_free(NULL);
    CHECK(tlsr_probe_exit_status(NULL) == 2);
}

static void test_probe_closed_port(void)
{
    struct tlsr_probe_opts o;
    struct tlsr_error err;
    int port, fd = listener(&port, 0);

    CHECK(fd >= 0);
    close(fd);                  /* bound once, nobody listens now */
    tlsr_probe_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.timeout_ms = 2000;
    CHECK(tlsr_probe_run(&o, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ECONNECT);
    CHECK(strstr(err.msg, "refused") != NULL);
}

static void test_probe_silent_server_ends_within_timeout(void)
{
    struct tlsr_probe_opts o;
    struct tlsr_error err;
    int port, fd = listener(&port, 1);
    double t0;

    int closed, cfd = listener(&closed, 0);
    double base;

    CHECK(fd >= 0 && cfd >= 0);
    close(cfd);
    tlsr_probe_opts_init(&o);
    o.host = "127.0.0.1";
    /* What a probe costs without waiting (valgrind makes it seconds). */
    o.port = closed;
    t0 = now_s();
    CHECK(tlsr_probe_run(&o, &err) == NULL);
    base = now_s() - t0;
    o.port = port;
    o.timeout_ms = 300;
    t0 = now_s();
    CHECK(tlsr_probe_run(&o, &err) == NULL);
    close(fd);
    CHECK_EQ_INT(err.code, TLSR_ECONNECT);
    CHECK(strstr(err.msg, "no answer within 300 ms") != NULL);
    CHECK(now_s() - t0 < 2 * base + 0.3 + 0.5);
}

/* openssl s_server with the test vectors' certificate and flag (-www
 * unless early_data); its stdin is a pipe kept open (EOF would end an
 * -early_data server's connections). */
static pid_t s_server(int *port, const char *flag, const char *arg,
                      int early_data)
{
    const char *root = getenv("TLSR_ROOT");
    char cert[1024], key[1024], line[256];
    int pfd[2], in[2];
    pid_t pid;
    FILE *f;

    snprintf(cert, sizeof(cert), "%s/tests/vectors/certs/rsa.crt",
             root ? root : ".");
    snprintf(key, sizeof(key), "%s/tests/vectors/certs/rsa.key",
             root ? root : ".");
    if (pipe(pfd) != 0 || pipe(in) != 0)
        return -1;
    if ((pid = fork()) == 0) {
        dup2(pfd[1], 1);
        dup2(in[0], 0);
        close(pfd[0]);
        close(in[1]);
        execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0",
               early_data ? "-early_data" : "-www", "-cert", cert, "-key",
               key, flag, arg, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    close(in[0]);               /* in[1] stays open until exit */
    f = fdopen(pfd[0], "r");
    *port = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "ACCEPT 127.0.0.1:%d", port) == 1)
            break;
    /* Keep the pipe open (s_server writes to it); closed at exit. */
    return *port > 0 ? pid : -1;
}

/* Probe an s_server(flag); the JSON must hold every needle. */
static int probe_json_has(const char *flag, const char *arg, int early,
                          int versions,
                          const char *const *needles, int want_status)
{
    struct tlsr_probe_opts o;
    struct tlsr_error err;
    struct tlsr_probe *p;
    char *json;
    size_t len = 0;
    int port, status, ok = 1;
    pid_t pid = s_server(&port, flag, arg, early);

    if (pid <= 0)
        return 0;
    tlsr_probe_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.tries = 2;
    o.insecure = 1;
    o.versions = versions;
    o.early_data = early;
    p = tlsr_probe_run(&o, &err);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (p == NULL) {
        fprintf(stderr, "  probe: %s\n", err.msg);
        return 0;
    }
    status = tlsr_probe_exit_status(p);
    if (tlsr_probe_json(p, NULL, &len, &err) != TLSR_OK
        || (json = malloc(len + 1)) == NULL) {
        tlsr_probe_free(p);
        return 0;
    }
    len += 1;
    tlsr_probe_json(p, json, &len, &err);
    tlsr_probe_free(p);
    for (; *needles != NULL; needles++)
        if (strstr(json, *needles) == NULL) {
            fprintf(stderr, "  missing %s\n", *needles);
            ok = 0;
        }
    if (!ok || status != want_status)
        fprintf(stderr, "%s\n", json);
    free(json);
    return ok && status == want_status;
}

static void test_probe_s_server_variants(void)
{
    static const char *const no_ticket[] = {
        "\"session_id\": {\"attempts\": 2, \"resumed\": 2}",
        "\"ticket_tls12\": {\"attempts\": 2, \"resumed\": 0", NULL };
    static const char *const num0[] = {
        "\"tls13\": {\"attempts\": 2, \"resumed\": 0",
        "the server sent no tickets", NULL };
    static const char *const early[] = {
        "\"advertised_max\": 16384, \"attempted\": true, \"attempts\": 2,"
        " \"accepted\": 2, \"replay_accepted\": false", NULL };

    CHECK(probe_json_has("-no_ticket", NULL, 0, TLSR_PROBE_TLS12, no_ticket,
                         1));
    CHECK(probe_json_has("-num_tickets", "0", 0, TLSR_PROBE_TLS13, num0, 1));
    CHECK(probe_json_has("-tls1_3", NULL, 1, TLSR_PROBE_TLS13, early, 0));
}

static void test_probe_s_server_resumes(void)
{
    struct tlsr_probe_opts o;
    struct tlsr_error err;
    struct tlsr_probe *p;
    char *json;
    size_t len = 0;
    int port, status;
    pid_t pid = s_server(&port, NULL, NULL, 0);

    CHECK(pid > 0);
    tlsr_probe_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.tries = 2;
    o.insecure = 1;
    p = tlsr_probe_run(&o, &err);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    CHECK(p != NULL);
    status = tlsr_probe_exit_status(p);
    CHECK_CODE(tlsr_probe_json(p, NULL, &len, &err), TLSR_OK, &err);
    json = malloc(len + 1);
    CHECK(json != NULL);
    len = 1;                    /* too small: the size comes back */
    if (tlsr_probe_json(p, json, &len, &err) != TLSR_EBUFSIZE) {
        free(json);
        tlsr_probe_free(p);
        CHECK(0);
    }
    len += 1;
    CHECK(tlsr_probe_json(p, json, &len, &err) == TLSR_OK);
    tlsr_probe_free(p);
    if (status != 0)
        fprintf(stderr, "%s\n", json);
    CHECK(strstr(json, "\"session_id\": {\"attempts\": 2, \"resumed\": 2}")
          != NULL);
    CHECK(strstr(json, "\"tls13\": {\"attempts\": 2, \"resumed\": 2") != NULL);
    free(json);
    CHECK_EQ_INT(status, 0);
}

TESTS(T(test_probe_options_checked), T(test_probe_closed_port),
      T(test_probe_silent_server_ends_within_timeout),
      T(test_probe_s_server_resumes), T(test_probe_s_server_variants))
