/*
 * Lean restores keep the peer certificate as bytes.  Decoding it
 * (d2i_X509) is ~80 us, the first one in a process 150-300 us: almost all
 * of a session restore, and more than a resumed handshake saves.  A lean
 * restore leaves it out of the SSL_SESSION and keeps its DER here, in the
 * session's ex_data (copied by SSL_SESSION_dup and by OpenSSL's own dup
 * when a TLS 1.3 ticket arrives) and, for bindings whose session setter
 * copies the session through i2d/d2i (CPython), in the SSL's ex_data.
 * The bytes go back into every encoding of the session and of the sessions
 * a resumed connection receives, so a lean restore loses nothing.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "internal.h"
#include "peer.h"

struct kept {
    size_t len;
    uint8_t der[];
};

static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int sess_index = -1;
static int ssl_index = -1;

static void kept_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                      long argl, void *argp)
{
    free(ptr);
}

static struct kept *kept_new(const uint8_t *der, size_t len)
{
    struct kept *k = malloc(sizeof(*k) + len);

    if (k != NULL) {
        k->len = len;
        memcpy(k->der, der, len);
    }
    return k;
}

/* Dups copy ex_data pointers: each copy gets its own bytes. */
static int kept_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
                    void **from_d, int idx, long argl, void *argp)
{
    const struct kept *k = *from_d;

    if (k != NULL)
        *from_d = kept_new(k->der, k->len);
    return 1;
}

static void init_indexes(void)
{
    sess_index = SSL_SESSION_get_ex_new_index(0, NULL, NULL, kept_dup,
                                              kept_free);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, kept_dup, kept_free);
}

static int indexes(void)
{
    return CRYPTO_THREAD_run_once(&index_once, init_indexes)
           && sess_index >= 0 && ssl_index >= 0;
}

int tlsri_peer_keep(SSL_SESSION *sess, const uint8_t *der, size_t len)
{
    struct kept *k;

    if (!indexes() || (k = kept_new(der, len)) == NULL)
        return -1;
    free(SSL_SESSION_get_ex_data(sess, sess_index));
    if (!SSL_SESSION_set_ex_data(sess, sess_index, k)) {
        free(k);
        return -1;
    }
    return 0;
}

const uint8_t *tlsri_peer_kept(const SSL_SESSION *sess, size_t *len)
{
    const struct kept *k;

    if (!indexes() || SSL_SESSION_get0_peer((SSL_SESSION *)sess) != NULL
        || (k = SSL_SESSION_get_ex_data(sess, sess_index)) == NULL)
        return NULL;
    *len = k->len;
    return k->der;
}

void tlsri_peer_capture(const SSL *ssl, SSL_SESSION *sess)
{
    const struct kept *k;

    /* A session the connection received inherits the peer of the one it
     * resumed: with a lean restore, the bytes kept on the SSL. */
    if (!indexes() || SSL_SESSION_get0_peer(sess) != NULL
        || SSL_SESSION_get_ex_data(sess, sess_index) != NULL
        || (k = SSL_get_ex_data(ssl, ssl_index)) == NULL)
        return;
    tlsri_peer_keep(sess, k->der, k->len);
}

TLSR_EXPORT int tlsr_ssl_keep_peer(struct ssl_st *ssl,
                                   const struct ssl_session_st *sess,
                                   struct tlsr_error *err)
{
    const uint8_t *der;
    struct kept *k = NULL;
    size_t len;

    tlsri_error_clear(err);
    if (ssl == NULL || sess == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or session is NULL");
    if (!indexes())
        return tlsri_error_set(err, TLSR_ESSL, "cannot allocate ex_data");
    der = tlsri_peer_kept(sess, &len);
    if (der != NULL && (k = kept_new(der, len)) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    free(SSL_get_ex_data(ssl, ssl_index));
    if (!SSL_set_ex_data(ssl, ssl_index, k)) {
        free(k);
        return tlsri_error_set(err, TLSR_ESSL, "cannot set ex_data");
    }
    return TLSR_OK;
}

static int copy_out(const uint8_t *der, size_t n, uint8_t *buf, size_t *len,
                    struct tlsr_error *err)
{
    if (buf == NULL) {
        *len = n;
        return TLSR_OK;
    }
    if (*len < n) {
        *len = n;
        return tlsri_error_set(err, TLSR_EBUFSIZE,
                               "buffer too small: %zu bytes needed", n);
    }
    memcpy(buf, der, n);
    *len = n;
    return TLSR_OK;
}

static int x509_out(X509 *x, uint8_t *buf, size_t *len,
                    struct tlsr_error *err)
{
    unsigned char *p;
    int n = i2d_X509(x, NULL);

    if (n <= 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot encode certificate");
    if (buf == NULL || *len < (size_t)n) {
        int rc = buf == NULL ? TLSR_OK
                             : tlsri_error_set(err, TLSR_EBUFSIZE,
                                               "buffer too small: %d bytes "
                                               "needed", n);
        *len = (size_t)n;
        return rc;
    }
    p = buf;
    *len = (size_t)i2d_X509(x, &p);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_session_get_peer_der(const struct ssl_session_st *sess,
                                          uint8_t *buf, size_t *len,
                                          struct tlsr_error *err)
{
    X509 *x;
    const uint8_t *der;
    size_t n;

    tlsri_error_clear(err);
    if (sess == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or len is NULL");
    if ((x = SSL_SESSION_get0_peer((SSL_SESSION *)sess)) != NULL)
        return x509_out(x, buf, len, err);
    if ((der = tlsri_peer_kept(sess, &n)) != NULL)
        return copy_out(der, n, buf, len, err);
    *len = 0;
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ssl_get_peer_der(const struct ssl_st *ssl, uint8_t *buf,
                                      size_t *len, struct tlsr_error *err)
{
    X509 *x;
    const struct kept *k;

    tlsri_error_clear(err);
    if (ssl == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or len is NULL");
    if ((x = SSL_get0_peer_certificate(ssl)) != NULL)
        return x509_out(x, buf, len, err);
    /* Kept bytes describe the server only if the session was resumed. */
    if (SSL_session_reused((SSL *)ssl) && indexes()
        && (k = SSL_get_ex_data(ssl, ssl_index)) != NULL)
        return copy_out(k->der, k->len, buf, len, err);
    if (SSL_session_reused((SSL *)ssl) && SSL_get_session(ssl) != NULL)
        return tlsr_session_get_peer_der(SSL_get_session(ssl), buf, len, err);
    *len = 0;
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ssl_check_app_data(const struct ssl_st *ssl,
                                        const void *app_data)
{
    return ssl != NULL && app_data != NULL
           && SSL_get_app_data(ssl) == app_data;
}
