/*
 * tlsr-client: save a TLS session in one process, resume it in another.
 *
 *   tlsr-client save   HOST PORT FILE [CAFILE]
 *       full handshake, one HTTP/1.0 request (so TLS 1.3 tickets arrive),
 *       then the session goes to FILE as PEM ("SSL SESSION PARAMETERS",
 *       readable by `openssl s_client -sess_in`), mode 0600, written by
 *       tlsr_file_write_private (refuses a FILE someone else planted).
 *   tlsr-client resume HOST PORT FILE [CAFILE]
 *       loads FILE, offers the session, prints "Reused" or "New".
 *
 * With CAFILE the server certificate is verified against it (HOST must be
 * in its subjectAltName); without, verification is off (throwaway
 * certificates).  Prints one line:
 *   <mode> <New|Reused> <protocol> handshake_cpu_us=<n>
 *       [load_cpu_us=<n>] [server=<report>]
 * (load: reading and parsing FILE, resume only), where the server report is the "New, ..." / "Reused, ..." line an
 * `openssl s_server -www` page carries, if any.  Exit 0 when the connection
 * worked (whether resumed or not), 1 on any failure.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlsresume.h"

enum { RESPONSE_MAX = 65536 };

static int fail(const char *what)
{
    fprintf(stderr, "tlsr-client: %s\n", what);
    ERR_print_errors_fp(stderr);
    return -1;
}

static int tcp_connect(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *res, *ai;
    struct timeval tv = {10, 0};    /* a demo must never hang */
    int fd = -1, rc;

    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "tlsr-client: %s:%s: %s\n", host, port,
                gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "tlsr-client: cannot connect to %s:%s: %s\n", host,
                port, strerror(errno));
    return fd;
}

static SSL_CTX *client_ctx(const char *host, const char *cafile)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509_VERIFY_PARAM *param;

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (cafile == NULL) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    param = SSL_CTX_get0_param(ctx);
    if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1
        || (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1
            && X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

/* A host name (not an IP literal) goes into SNI, as RFC 6066 wants. */
static int is_ip_literal(const char *host)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

    ASN1_OCTET_STRING_free(ip);
    return ip != NULL;
}

/* Reads the whole response (TLS 1.3 tickets come with it); copies the
 * s_server -www "New, ..."/"Reused, ..." line into report if there is one. */
static int read_response(SSL *ssl, char *report, size_t report_size)
{
    static char buf[RESPONSE_MAX + 1];
    size_t have = 0;
    const char *line;
    int n;

    while (have < RESPONSE_MAX
           && (n = SSL_read(ssl, buf + have, (int)(RESPONSE_MAX - have))) > 0)
        have += (size_t)n;
    buf[have] = '\0';
    if (have == 0)
        return fail("no response from the server");
    report[0] = '\0';
    for (line = buf; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

        if (strncmp(line, "New, ", 5) == 0 || strncmp(line, "Reused, ", 8) == 0) {
            if (len > 0 && line[len - 1] == '\r')
                len--;
            if (len >= report_size)
                len = report_size - 1;
            memcpy(report, line, len);
            report[len] = '\0';
            break;
        }
        line = end != NULL ? end + 1 : NULL;
    }
    ERR_clear_error();      /* EOF without close_notify is fine here */
    return 0;
}

/* The core's safe write: 0600 temporary + rename; refuses a file, FIFO or
 * link someone else planted at path instead of writing the secret into it. */
static int write_private(const char *path, const uint8_t *data, size_t len)
{
    struct tlsr_error err;

    if (tlsr_file_write_private(path, data, len, &err) != 0) {
        fprintf(stderr, "tlsr-client: %s (%s)\n", err.msg,
                tlsr_error_name(err.code));
        return -1;
    }
    return 0;
}

static SSL_SESSION *load_session(const char *path)
{
    static uint8_t buf[TLSR_MAX_INPUT];
    struct tlsr_error err;
    SSL_SESSION *sess;
    size_t len = sizeof(buf);

    /* Only a file no other user could have written (no planted session). */
    if (tlsr_file_read_private(path, buf, &len, &err) != 0) {
        fprintf(stderr, "tlsr-client: %s (%s)\n", err.msg,
                tlsr_error_name(err.code));
        return NULL;
    }
    sess = tlsr_session_parse(buf, len, &err);
    OPENSSL_cleanse(buf, len);
    if (sess == NULL)
        fprintf(stderr, "tlsr-client: %s: %s (%s)\n", path, err.msg,
                tlsr_error_name(err.code));
    return sess;
}

static int save_session(SSL *ssl, const char *path)
{
    SSL_SESSION *sess = SSL_get1_session(ssl);
    struct tlsr_error err;
    uint8_t *pem = NULL;
    size_t len = 0;
    int rc = -1;

    if (sess == NULL || !SSL_SESSION_is_resumable(sess)) {
        fprintf(stderr, "tlsr-client: the server gave no resumable session\n");
    } else if (tlsr_session_serialize(sess, TLSR_FORMAT_PEM, 0, NULL, &len,
                                      &err) != 0
               || (pem = OPENSSL_malloc(len)) == NULL
               || tlsr_session_serialize(sess, TLSR_FORMAT_PEM, 0, pem, &len,
                                         &err) != 0) {
        fprintf(stderr, "tlsr-client: serialize: %s\n",
                pem == NULL && len > 0 ? "out of memory" : err.msg);
    } else {
        rc = write_private(path, pem, len);
    }
    if (pem != NULL)
        OPENSSL_clear_free(pem, len);
    SSL_SESSION_free(sess);
    return rc;
}

static double cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int run(int save, const char *host, const char *port,
               const char *file, const char *cafile)
{
    static const char request[] = "GET / HTTP/1.0\r\n\r\n";
    SSL_CTX *ctx = client_ctx(host, cafile);
    SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    SSL_SESSION *sess = NULL;
    char report[160] = "";
    double t0, t1, load;
    int fd = -1, rc = -1;

    if (ssl == NULL) {
        fail("cannot set up TLS");
        goto end;
    }
    t0 = cpu_us();
    if (!save && (sess = load_session(file)) == NULL)
        goto end;
    if (sess != NULL && SSL_set_session(ssl, sess) != 1) {
        fail("cannot offer the saved session");
        goto end;
    }
    load = cpu_us() - t0;
    if ((fd = tcp_connect(host, port)) < 0)
        goto end;
    if (!is_ip_literal(host) && SSL_set_tlsext_host_name(ssl, host) != 1) {
        fail("cannot set SNI");
        goto end;
    }
    SSL_set_fd(ssl, fd);
    t0 = cpu_us();
    if (SSL_connect(ssl) != 1) {
        fail("handshake failed");
        goto end;
    }
    t1 = cpu_us();
    if (SSL_write(ssl, request, (int)strlen(request)) <= 0) {
        fail("cannot send the request");
        goto end;
    }
    if (read_response(ssl, report, sizeof(report)) != 0)
        goto end;
    if (save && save_session(ssl, file) != 0)
        goto end;
    SSL_shutdown(ssl);
    printf("%s %s %s handshake_cpu_us=%.0f", save ? "save" : "resume",
           SSL_session_reused(ssl) ? "Reused" : "New", SSL_get_version(ssl),
           t1 - t0);
    if (!save)
        printf(" load_cpu_us=%.0f", load);
    printf("%s%s\n", report[0] != '\0' ? " server=" : "", report);
    rc = 0;
end:
    SSL_SESSION_free(sess);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    int save;

    if ((argc != 5 && argc != 6)
        || (strcmp(argv[1], "save") != 0 && strcmp(argv[1], "resume") != 0)) {
        fprintf(stderr, "usage: tlsr-client save|resume HOST PORT FILE "
                        "[CAFILE]\n");
        return 2;
    }
    save = strcmp(argv[1], "save") == 0;
    return run(save, argv[2], argv[3], argv[4], argc == 6 ? argv[5] : NULL)
               == 0 ? 0 : 1;
}
