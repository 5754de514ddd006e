/*
 * Real-socket helper for tests/store/run.sh (against `openssl s_server`):
 *
 *   store_tool put DIR PORT 12|13      full handshake to 127.0.0.1:PORT,
 *                                      read the reply (TLS 1.3 tickets come
 *                                      with data), put the session in DIR
 *   store_tool resume DIR PORT 12|13   take the session from DIR, connect
 *                                      with it; prints "reused 1" or
 *                                      "reused 0"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsresume.h"

static SSL *connect_tls(SSL_CTX *ctx, int port, SSL_SESSION *resume, int *fdp)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    SSL *ssl;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        return NULL;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (resume != NULL)
        SSL_set_session(ssl, resume);
    if (SSL_connect(ssl) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    *fdp = fd;
    return ssl;
}

/* Send a request and read the whole reply (s_server -www closes). */
static void exchange(SSL *ssl)
{
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    char buf[4096];

    SSL_write(ssl, req, sizeof(req) - 1);
    while (SSL_read(ssl, buf, sizeof(buf)) > 0)
        ;
}

int main(int argc, char **argv)
{
    struct tlsr_error err;
    struct tlsr_store *st;
    SSL_CTX *ctx;
    SSL *ssl;
    SSL_SESSION *sess = NULL;
    int port, ver, fd = -1, rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: store_tool put|resume DIR PORT 12|13\n");
        return 2;
    }
    port = atoi(argv[3]);
    ver = atoi(argv[4]) == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    st = tlsr_store_open(argv[2], NULL, &err);
    ctx = SSL_CTX_new(TLS_client_method());
    if (st == NULL || ctx == NULL) {
        fprintf(stderr, "store_tool: %s\n", st ? "no SSL_CTX" : err.msg);
        return 2;
    }
    SSL_CTX_set_min_proto_version(ctx, ver);
    SSL_CTX_set_max_proto_version(ctx, ver);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    if (strcmp(argv[1], "resume") == 0) {
        sess = tlsr_store_take(st, "127.0.0.1", port, NULL, NULL, NULL, &err);
        if (sess == NULL) {
            fprintf(stderr, "store_tool: take: %s\n", err.msg);
            goto end;
        }
    }
    ssl = connect_tls(ctx, port, sess, &fd);
    if (ssl == NULL)
        goto end;
    exchange(ssl);
    if (strcmp(argv[1], "resume") == 0) {
        printf("reused %d\n", SSL_session_reused(ssl));
        rc = 0;
    } else {
        SSL_SESSION *got = SSL_get1_session(ssl);

        rc = tlsr_store_put(st, "127.0.0.1", port, NULL, got, &err);
        if (rc != 0)
            fprintf(stderr, "store_tool: put: %s\n", err.msg);
        SSL_SESSION_free(got);
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
end:
    SSL_SESSION_free(sess);
    SSL_CTX_free(ctx);
    tlsr_store_free(st);
    return rc == 0 ? 0 : 1;
}
