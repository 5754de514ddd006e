/*
 * Live connections: the few SSL* calls a binding needs (LuaSec exposes no
 * session API, so the Lua binding reaches its SSL* and comes here).  Kept in
 * the core so bindings never touch OpenSSL's error queue.
 */
#include <openssl/ssl.h>

#include "internal.h"
#include "trust.h"

TLSR_EXPORT int tlsr_ssl_check(struct ssl_st *ssl, int fd, int want_server,
                               struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (ssl == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "connection has no SSL");
    if (SSL_get_SSL_CTX(ssl) == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "SSL has no SSL_CTX");
    if (SSL_get_fd(ssl) != fd)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "SSL is on another socket than expected");
    if ((SSL_is_server(ssl) != 0) != (want_server != 0))
        return tlsri_error_set(err, TLSR_EINVAL, "SSL is a %s, not a %s",
                               SSL_is_server(ssl) ? "server" : "client",
                               want_server ? "server" : "client");
    return TLSR_OK;
}

TLSR_EXPORT struct ssl_session_st *tlsr_ssl_get1_session(struct ssl_st *ssl,
                                                         struct tlsr_error *err)
{
    SSL_SESSION *sess;
    struct tlsr_trust made;

    tlsri_error_clear(err);
    if (ssl == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "ssl is NULL");
        return NULL;
    }
    if (!SSL_is_init_finished(ssl)) {
        tlsri_error_set(err, TLSR_ENOTRESUMABLE, "handshake not finished");
        return NULL;
    }
    sess = SSL_get1_session(ssl);
    if (sess == NULL) {
        tlsri_error_set(err, TLSR_ENOTRESUMABLE, "connection has no session");
        return NULL;
    }
    /* TLS 1.3: the session becomes resumable only once a ticket was read. */
    if (!SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION_free(sess);
        tlsri_error_set(err, TLSR_ENOTRESUMABLE,
                        SSL_version(ssl) >= TLS1_3_VERSION
                            ? "session not resumable yet: no ticket received "
                              "(TLS 1.3: read from the connection first)"
                            : "session not resumable");
        return NULL;
    }
    /* Keep what verified it, for the stores and tlsr_ssl_set_session.  A
     * session that already has one (it resumed) keeps it. */
    if (tlsr_session_get_trust(sess, &made, NULL) != TLSR_OK
        && (tlsr_trust_from_ssl(ssl, &made, err) != TLSR_OK
            || tlsr_session_set1_trust(sess, &made, err) != TLSR_OK)) {
        SSL_SESSION_free(sess);
        return NULL;
    }
    return sess;
}

TLSR_EXPORT int tlsr_ssl_set_session(struct ssl_st *ssl,
                                     struct ssl_session_st *sess,
                                           struct tlsr_error *err)
{
    struct tlsr_trust policy;
    int rc;

    tlsri_error_clear(err);
    if (ssl == NULL || sess == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or session is NULL");
    if (SSL_is_server(ssl))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "only a client can offer a session");
    if (!SSL_in_before(ssl))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "handshake already started");
    if ((rc = tlsr_trust_policy_ssl(ssl, &policy, err)) != TLSR_OK
        || (rc = tlsri_trust_check_session(sess, &policy, SSL_get_SSL_CTX(ssl),
                                           err)) != TLSR_OK)
        return rc;
    if (SSL_set_session(ssl, sess) != 1)
        return tlsri_error_ssl(err, TLSR_ESSL, "SSL_set_session");
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ssl_session_reused(struct ssl_st *ssl,
                                        struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (ssl == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl is NULL");
    return SSL_session_reused(ssl) ? 1 : 0;
}
