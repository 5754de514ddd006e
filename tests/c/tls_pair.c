/* In-memory TLS handshakes for the C tests (see tls_pair.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "tls_pair.h"

/* One key per type and process (owned reference returned): RSA key
 * generation is slow, seconds each under valgrind.  Certificates stay
 * distinct through their random serial numbers. */
static EVP_PKEY *make_key(int key_type)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static EVP_PKEY *rsa, *ec;
    EVP_PKEY **slot = key_type == TP_EC ? &ec : &rsa, *key;

    pthread_mutex_lock(&lock);
    if (*slot == NULL)
        *slot = key_type == TP_EC ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    key = *slot != NULL && EVP_PKEY_up_ref(*slot) == 1 ? *slot : NULL;
    pthread_mutex_unlock(&lock);
    return key;
}

static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name;

    if (x == NULL)
        return NULL;
    X509_set_version(x, 2);
    {
        uint32_t serial = 0;

        RAND_bytes((unsigned char *)&serial, sizeof serial);
        ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(serial >> 1) + 1);
    }
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, key, EVP_sha256()) == 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

SSL_CTX *tp_server_ctx(int key_type, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    EVP_PKEY *key = make_key(key_type);
    X509 *cert = key != NULL ? make_cert(key) : NULL;

    if (ctx == NULL || cert == NULL
        || SSL_CTX_use_certificate(ctx, cert) != 1
        || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    } else {
        SSL_CTX_set_max_proto_version(ctx, max_version);
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tp", 2);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

SSL_CTX *tp_client_ctx(int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    return ctx;
}

static int pending_ok(SSL *s, int rc)
{
    int e = SSL_get_error(s, rc);

    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

SSL_SESSION *tp_connect2(SSL_CTX *server, SSL_CTX *client,
                         SSL_SESSION *resume, int *reused,
                         SSL_SESSION **server_sess)
{
    SSL *s = SSL_new(server), *c = SSL_new(client);
    BIO *bs = NULL, *bc = NULL;
    SSL_SESSION *out = NULL;
    int done_s = 0, done_c = 0, i;
    unsigned char byte = 'x';

    if (s == NULL || c == NULL || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
        goto end;
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, "localhost");
    if (resume != NULL && SSL_set_session(c, resume) != 1)
        goto end;
    for (i = 0; i < 100 && !(done_s && done_c); i++) {
        int rc;

        if (!done_c) {
            rc = SSL_do_handshake(c);
            if (rc == 1)
                done_c = 1;
            else if (!pending_ok(c, rc))
                goto end;
        }
        if (!done_s) {
            rc = SSL_do_handshake(s);
            if (rc == 1)
                done_s = 1;
            else if (!pending_ok(s, rc))
                goto end;
        }
    }
    if (!(done_s && done_c))
        goto end;
    /* Application data carries TLS 1.3 tickets to the client. */
    if (SSL_write(s, &byte, 1) != 1 || SSL_read(c, &byte, 1) != 1)
        goto end;
    if (reused != NULL)
        *reused = SSL_session_reused(c);
    if (server_sess != NULL)
        *server_sess = SSL_get1_session(s);
    out = SSL_get1_session(c);
    /* A connection freed without close_notify marks its session
     * not resumable (ssl_clear_bad_session), as a real client's would. */
    SSL_shutdown(c);
    SSL_shutdown(s);
end:
    if (out == NULL)
        ERR_print_errors_fp(stderr);
    SSL_free(c);
    SSL_free(s);
    return out;
}

SSL_SESSION *tp_connect(SSL_CTX *server, SSL_CTX *client,
                        SSL_SESSION *resume, int *reused)
{
    return tp_connect2(server, client, resume, reused, NULL);
}
