/* tlsr_ssl_* (csrc/ssl_conn.c): live connections in memory, TLS 1.2/1.3. */
#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

struct conn {
    SSL *c, *s;
};

/* A client and a server SSL joined by a BIO pair (SSL_get_fd is -1). */
static int conn_new(struct conn *k, SSL_CTX *sctx, SSL_CTX *cctx)
{
    BIO *bc, *bs;

    k->c = SSL_new(cctx);
    k->s = SSL_new(sctx);
    if (k->c == NULL || k->s == NULL || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
        return 0;
    SSL_set_bio(k->c, bc, bc);
    SSL_set_bio(k->s, bs, bs);
    SSL_set_connect_state(k->c);
    SSL_set_accept_state(k->s);
    return 1;
}

static int want_more(SSL *x, int rc)
{
    int e = SSL_get_error(x, rc);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

static int conn_handshake(struct conn *k)
{
    int i, rc, rs, done_c = 0, done_s = 0;

    for (i = 0; i < 100 && !(done_c && done_s); i++) {
        if (!done_c) {
            rc = SSL_do_handshake(k->c);
            if (rc == 1)
                done_c = 1;
            else if (!want_more(k->c, rc))
                return 0;
        }
        if (!done_s) {
            rs = SSL_do_handshake(k->s);
            if (rs == 1)
                done_s = 1;
            else if (!want_more(k->s, rs))
                return 0;
        }
    }
    return done_c && done_s;
}

/* One byte server -> client: the client reads the TLS 1.3 tickets too. */
static int conn_read_byte(struct conn *k)
{
    char b = 'x';

    return SSL_write(k->s, &b, 1) == 1 && SSL_read(k->c, &b, 1) == 1;
}

static void conn_free(struct conn *k)
{
    SSL_free(k->c);
    SSL_free(k->s);
}

static void check_rejects_misuse(void)
{
    struct tlsr_error err;
    SSL_CTX *sctx = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cctx = tp_client_ctx(TLS1_3_VERSION);
    struct conn k;

    CHECK(sctx != NULL && cctx != NULL && conn_new(&k, sctx, cctx));
    CHECK_CODE(tlsr_ssl_check(NULL, -1, 0, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ssl_check(k.c, -1, 0, &err), TLSR_OK, &err);
    CHECK_CODE(tlsr_ssl_check(k.c, 7, 0, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ssl_check(k.c, -1, 1, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ssl_check(k.s, -1, 1, &err), TLSR_OK, &err);
    CHECK(tlsr_ssl_get1_session(k.c, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTRESUMABLE);
    CHECK_CODE(tlsr_ssl_set_session(k.c, NULL, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ssl_session_reused(NULL, &err), TLSR_EINVAL, &err);
    conn_free(&k);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

static void resume(int version)
{
    struct tlsr_error err;
    SSL_CTX *sctx = tp_server_ctx(TP_EC, version);
    SSL_CTX *cctx = tp_client_ctx(version);
    SSL_SESSION *sess;
    struct conn a, b;

    CHECK(sctx != NULL && cctx != NULL && conn_new(&a, sctx, cctx));
    CHECK(conn_handshake(&a));
    CHECK_CODE(tlsr_ssl_session_reused(a.c, &err), 0, &err);
    if (version == TLS1_3_VERSION) {
        /* No ticket read yet: refused with a clear reason. */
        CHECK(tlsr_ssl_get1_session(a.c, &err) == NULL);
        CHECK_EQ_INT(err.code, TLSR_ENOTRESUMABLE);
        CHECK(strstr(err.msg, "ticket") != NULL);
    }
    CHECK(conn_read_byte(&a));
    sess = tlsr_ssl_get1_session(a.c, &err);
    CHECK(sess != NULL);
    /* After the handshake, offering a session is misuse. */
    CHECK_CODE(tlsr_ssl_set_session(a.c, sess, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ssl_set_session(a.s, sess, &err), TLSR_EINVAL, &err);
    SSL_shutdown(a.c);
    conn_free(&a);

    CHECK(conn_new(&b, sctx, cctx));
    CHECK_CODE(tlsr_ssl_set_session(b.c, sess, &err), TLSR_OK, &err);
    tlsr_session_free(sess);
    CHECK(conn_handshake(&b));
    CHECK_CODE(tlsr_ssl_session_reused(b.c, &err), 1, &err);
    CHECK_EQ_INT(SSL_session_reused(b.s), 1); /* the server agrees */
    conn_free(&b);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
}

static void resumes_tls12(void) { resume(TLS1_2_VERSION); }
static void resumes_tls13(void) { resume(TLS1_3_VERSION); }

TESTS(T(check_rejects_misuse), T(resumes_tls12), T(resumes_tls13))
