/*
 * Lean restores (tlsr_session_parse_lean, TLSR_STORE_RESTORE_LEAN): no
 * certificate decode, the certificate's bytes kept and given back; the
 * early-data calls on connections that cannot send any.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static uint8_t *der_of(const SSL_SESSION *s, unsigned flags, size_t *len)
{
    struct tlsr_error err;
    uint8_t *buf;

    if (tlsr_session_serialize(s, TLSR_FORMAT_DER, flags, NULL, len, &err))
        return NULL;
    buf = malloc(*len);
    if (buf != NULL && tlsr_session_serialize(s, TLSR_FORMAT_DER, flags, buf,
                                              len, &err) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void lean_parse_keeps_the_certificate_and_gives_it_back(void)
{
    static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
    size_t v;

    for (v = 0; v < 2; v++) {
        SSL_CTX *server = tp_server_ctx(TP_RSA, versions[v]);
        SSL_CTX *client = tp_client_ctx(versions[v]);
        struct tlsr_error err;
        SSL_SESSION *full, *lean, *copy, *again;
        uint8_t *der, *back, *lean_der, *slim, cert[4096], *cp = cert;
        size_t n, bn, ln, sn, cn = sizeof(cert);
        int reused = -1, xn;
        char pem[8192];

        full = tp_connect(server, client, NULL, &reused);
        CHECK(full != NULL);
        der = der_of(full, 0, &n);
        CHECK(der != NULL);
        lean = tlsr_session_parse_lean(der, n, &err);
        CHECK(lean != NULL);
        CHECK(SSL_SESSION_get0_peer(lean) == NULL);
        /* The kept bytes are the certificate. */
        xn = i2d_X509(SSL_SESSION_get0_peer(full), &cp);
        CHECK_CODE(tlsr_session_get_peer_der(lean, NULL, &cn, &err), 0, &err);
        CHECK_EQ_INT(cn, (size_t)xn);
        sn = 8;
        CHECK_CODE(tlsr_session_get_peer_der(lean, (uint8_t *)pem, &sn, &err),
                   TLSR_EBUFSIZE, &err);
        CHECK_EQ_INT(sn, (size_t)xn);
        cn = sizeof(pem);
        CHECK_CODE(tlsr_session_get_peer_der(lean, (uint8_t *)pem, &cn, &err),
                   0, &err);
        CHECK(memcmp(pem, cert, cn) == 0);
        /* Serialized again: the very bytes it came from; lean: without. */
        back = der_of(lean, 0, &bn);
        CHECK(back != NULL && bn == n && memcmp(back, der, n) == 0);
        lean_der = der_of(lean, TLSR_SERIALIZE_LEAN, &ln);
        slim = der_of(full, TLSR_SERIALIZE_LEAN, &sn);
        CHECK(lean_der != NULL && slim != NULL && ln == sn
              && memcmp(lean_der, slim, ln) == 0);
        /* A dup keeps them; PEM of the lean session parses to the full. */
        copy = SSL_SESSION_dup(lean);
        free(back);
        back = der_of(copy, 0, &bn);
        CHECK(back != NULL && bn == n && memcmp(back, der, n) == 0);
        cn = sizeof(pem);
        CHECK_CODE(tlsr_session_serialize(lean, TLSR_FORMAT_PEM, 0,
                                          (uint8_t *)pem, &cn, &err), 0, &err);
        again = tlsr_session_parse((uint8_t *)pem, cn, &err);
        CHECK(again != NULL && SSL_SESSION_get0_peer(again) != NULL);
        /* And it resumes. */
        SSL_SESSION_free(tp_connect(server, client, lean, &reused));
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(again);
        SSL_SESSION_free(copy);
        free(back);
        free(lean_der);
        free(slim);
        free(der);
        SSL_SESSION_free(lean);
        SSL_SESSION_free(full);
        SSL_CTX_free(server);
        SSL_CTX_free(client);
    }
}

static void lean_parse_of_a_session_without_peer_is_a_plain_parse(void)
{
    SSL_CTX *server = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *client = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_error err;
    SSL_SESSION *full, *lean;
    uint8_t *slim, *back;
    size_t n, bn, cn = 99;
    int reused;

    full = tp_connect(server, client, NULL, &reused);
    slim = der_of(full, TLSR_SERIALIZE_LEAN, &n);
    lean = tlsr_session_parse_lean(slim, n, &err);
    CHECK(lean != NULL);
    CHECK_CODE(tlsr_session_get_peer_der(lean, NULL, &cn, &err), 0, &err);
    CHECK_EQ_INT(cn, 0);
    back = der_of(lean, 0, &bn);
    CHECK(back != NULL && bn == n && memcmp(back, slim, n) == 0);
    /* Bad input fails as tlsr_session_parse does. */
    CHECK(tlsr_session_parse_lean(slim, n - 1, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ETRUNCATED);
    CHECK(tlsr_session_parse_lean(NULL, 0, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EEMPTY);
    free(back);
    free(slim);
    SSL_SESSION_free(lean);
    SSL_SESSION_free(full);
    SSL_CTX_free(server);
    SSL_CTX_free(client);
}

static void early_data_calls_refuse_what_cannot_go_early(void)
{
    SSL_CTX *server = tp_server_ctx(TP_RSA, TLS1_3_VERSION);
    SSL_CTX *client = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_error err;
    SSL_SESSION *sess;
    SSL *ssl;
    size_t w = 7;
    int reused;

    /* The server allows no early data: its tickets say max 0. */
    sess = tp_connect(server, client, NULL, &reused);
    ssl = SSL_new(client);
    CHECK(tlsr_ssl_early_data_max(ssl, NULL, 0) == 0);   /* no session */
    SSL_set_session(ssl, sess);
    CHECK(tlsr_ssl_early_data_max(ssl, NULL, 0) == 0);   /* max 0 */
    CHECK(tlsr_ssl_early_data_max(NULL, NULL, 0) == 0);
    CHECK_EQ_INT(tlsr_ssl_get_early_data_status(ssl), TLSR_EARLY_NOT_SENT);
    CHECK_EQ_INT(tlsr_ssl_get_early_data_status(NULL), TLSR_EARLY_NOT_SENT);
    CHECK_CODE(tlsr_ssl_write_early_data(NULL, (const uint8_t *)"x", 1, &w,
                                         &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ssl_write_early_data(ssl, NULL, 1, &w, &err),
               TLSR_EINVAL, &err);
    CHECK(!tlsr_ssl_check_app_data(ssl, NULL));
    SSL_free(ssl);
    SSL_SESSION_free(sess);

    /* Allowed early data: max > 0, unless the ALPN would be inconsistent. */
    SSL_CTX_set_max_early_data(server, 16384);
    sess = tp_connect(server, client, NULL, &reused);
    ssl = SSL_new(client);
    SSL_set_session(ssl, sess);
    CHECK(tlsr_ssl_early_data_max(ssl, NULL, 0) == 16384);
    SSL_free(ssl);
    SSL_SESSION_free(sess);
    SSL_CTX_free(server);
    SSL_CTX_free(client);
}

TESTS(T(lean_parse_keeps_the_certificate_and_gives_it_back),
      T(lean_parse_of_a_session_without_peer_is_a_plain_parse),
      T(early_data_calls_refuse_what_cannot_go_early))
