/*
 * TLS 1.3 early data (0-RTT) for any binding holding an SSL*.  OpenSSL
 * turns an inconsistent attempt (the session's SNI or ALPN differs from
 * the connection's) into a fatal alert, so tlsr_ssl_early_data_max tells a
 * binding beforehand whether an attempt can be made at all.  Replay: the
 * server may see early data twice (RFC 8446 section 8); what is safe to
 * send early is the binding's decision, never this file's.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"

/* 1 if the session's ALPN (if any) is in the wire-format list. */
static int alpn_offered(const SSL_SESSION *sess, const uint8_t *alpn,
                        size_t alpn_len)
{
    const unsigned char *sel = NULL;
    size_t sel_len = 0, i;

    SSL_SESSION_get0_alpn_selected(sess, &sel, &sel_len);
    if (sel == NULL || sel_len == 0)
        return 1;
    for (i = 0; alpn != NULL && i < alpn_len; i += 1 + (size_t)alpn[i]) {
        if (alpn[i] == sel_len && i + 1 + sel_len <= alpn_len
            && memcmp(alpn + i + 1, sel, sel_len) == 0)
            return 1;
    }
    return 0;
}

TLSR_EXPORT uint32_t tlsr_ssl_early_data_max(const struct ssl_st *ssl,
                                             const uint8_t *alpn,
                                             size_t alpn_len)
{
    SSL_SESSION *sess;
    const char *want, *have;

    if (ssl == NULL || SSL_is_server(ssl) || !SSL_in_before(ssl)
        || (sess = SSL_get_session(ssl)) == NULL
        || SSL_SESSION_get_protocol_version(sess) != TLS1_3_VERSION
        || !SSL_SESSION_is_resumable(sess)
        || !alpn_offered(sess, alpn, alpn_len))
        return 0;
    want = SSL_SESSION_get0_hostname(sess);
    have = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (want != NULL && (have == NULL || strcmp(want, have) != 0))
        return 0;
    return SSL_SESSION_get_max_early_data(sess);
}

TLSR_EXPORT int tlsr_ssl_write_early_data(struct ssl_st *ssl,
                                          const uint8_t *data, size_t len,
                                          size_t *written,
                                          struct tlsr_error *err)
{
    int e;

    tlsri_error_clear(err);
    if (ssl == NULL || written == NULL || (data == NULL && len > 0))
        return tlsri_error_set(err, TLSR_EINVAL, "ssl, data or written is "
                                                 "NULL");
    *written = 0;
    if (SSL_is_server(ssl))
        return tlsri_error_set(err, TLSR_EINVAL, "SSL is a server");
    ERR_clear_error();
    if (SSL_write_early_data(ssl, data, len, written) == 1)
        return TLSR_OK;
    e = SSL_get_error(ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return e == SSL_ERROR_WANT_READ ? TLSR_EARLY_WANT_READ
                                        : TLSR_EARLY_WANT_WRITE;
    }
    return tlsri_error_ssl(err, e == SSL_ERROR_SYSCALL ? TLSR_EIO : TLSR_ESSL,
                           "cannot write early data");
}

TLSR_EXPORT int tlsr_ssl_get_early_data_status(const struct ssl_st *ssl)
{
    if (ssl == NULL)
        return TLSR_EARLY_NOT_SENT;
    switch (SSL_get_early_data_status(ssl)) {
    case SSL_EARLY_DATA_ACCEPTED:
        return TLSR_EARLY_ACCEPTED;
    case SSL_EARLY_DATA_REJECTED:
        return TLSR_EARLY_REJECTED;
    default:
        return TLSR_EARLY_NOT_SENT;
    }
}
