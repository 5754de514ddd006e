/*
 * Automatic persistence: every new client session of an attached SSL_CTX
 * goes to a store.  TLS 1.3 tickets arrive after the handshake (during
 * reads), so sessions are captured by OpenSSL's new-session callback rather
 * than read once from the connection.  The key (host, port, context) of a
 * connection sits in its SSL ex_data, set by the binding before the
 * handshake; without one, SNI and the socket's peer port are used.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "peer.h"
#include "trust.h"

struct tlsr_attach {
    pthread_mutex_t lock;       /* serializes store calls and refs */
    int refs;
    struct tlsr_store *store;   /* owned */
};

/* A connection's key.  It holds a reference to the attach it was made for,
 * so a context detached while the connection is live (Python runs SSL_read
 * without the GIL) cannot free the store under the callback. */
struct attach_key {
    struct tlsr_attach *att;    /* a reference, or NULL */
    char host[256];
    int port;
    char context[256];
};

/* ex_data indexes: allocated once per process, never change afterwards. */
static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int ctx_index = -1;
static int ssl_index = -1;

static void attach_retain(struct tlsr_attach *att)
{
    if (att != NULL) {
        pthread_mutex_lock(&att->lock);
        att->refs++;
        pthread_mutex_unlock(&att->lock);
    }
}

static void attach_release(struct tlsr_attach *att)
{
    int last;

    if (att == NULL)
        return;
    pthread_mutex_lock(&att->lock);
    last = --att->refs == 0;
    pthread_mutex_unlock(&att->lock);
    if (last) {
        tlsr_store_free(att->store);
        pthread_mutex_destroy(&att->lock);
        free(att);
    }
}

static void ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    attach_release(ptr);
}

static void key_free(struct attach_key *key)
{
    if (key != NULL) {
        attach_release(key->att);
        free(key);
    }
}

static void ssl_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    key_free(ptr);
}

/* SSL_dup copies ex_data pointers: give the copy its own key. */
static int ssl_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
                      void **from_d, int idx, long argl, void *argp)
{
    struct attach_key *copy;

    if (*from_d == NULL)
        return 1;
    copy = malloc(sizeof(*copy));
    if (copy != NULL) {
        memcpy(copy, *from_d, sizeof(*copy));
        attach_retain(copy->att);
    }
    *from_d = copy;
    return 1;
}

static void init_indexes(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, ssl_ex_dup, ssl_ex_free);
}

static int indexes(struct tlsr_error *err)
{
    if (!CRYPTO_THREAD_run_once(&index_once, init_indexes)
        || ctx_index < 0 || ssl_index < 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot allocate ex_data");
    return TLSR_OK;
}

/* Key from SNI (or the peer address) and the socket's peer port. */
static int fallback_key(SSL *ssl, struct attach_key *key)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    int fd = SSL_get_fd(ssl);

    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    memset(key, 0, sizeof(*key));
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        key->port = ntohs(in->sin_port);
        if (sni == NULL)
            inet_ntop(AF_INET, &in->sin_addr, key->host, sizeof(key->host));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        key->port = ntohs(in6->sin6_port);
        if (sni == NULL)
            inet_ntop(AF_INET6, &in6->sin6_addr, key->host,
                      sizeof(key->host));
    } else {
        return -1;
    }
    if (sni != NULL) {
        if (strlen(sni) >= sizeof(key->host))
            return -1;
        strcpy(key->host, sni);
    }
    return key->host[0] != '\0' ? 0 : -1;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tlsr_attach *att;
    struct attach_key *key, fallback;

    if (SSL_is_server(ssl))
        return 0;
    /* While the SSL is at hand: what verified the server (csrc/trust.c). */
    tlsri_trust_capture(ssl, sess);
    tlsri_peer_capture(ssl, sess);  /* after a lean restore (peer.c) */
    key = SSL_get_ex_data(ssl, ssl_index);
    if (key != NULL) {
        att = key->att;     /* the connection's own reference */
    } else {
        /* Unkeyed connections use the context's attach: detach such a
         * context only when none of its connections is live. */
        att = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
        if (att == NULL || fallback_key(ssl, &fallback) != 0)
            return 0;   /* no key: never save under a guess */
        key = &fallback;
    }
    if (att == NULL)
        return 0;
    /* Failures to save are not the connection's failures: ignored. */
    pthread_mutex_lock(&att->lock);
    tlsr_store_put(att->store, key->host, key->port, key->context, sess,
                   NULL);
    pthread_mutex_unlock(&att->lock);
    return 0;   /* 0: OpenSSL keeps its reference */
}

TLSR_EXPORT struct tlsr_attach *tlsr_attach_new(struct tlsr_store *store,
                                                struct tlsr_error *err)
{
    struct tlsr_attach *att;

    tlsri_error_clear(err);
    if (store == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    att = calloc(1, sizeof(*att));
    if (att == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&att->lock, NULL) != 0) {
        free(att);
        tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    att->refs = 1;
    att->store = store;
    return att;
}

TLSR_EXPORT void tlsr_attach_free(struct tlsr_attach *att)
{
    attach_release(att);
}

TLSR_EXPORT struct tlsr_store *tlsr_attach_lock(struct tlsr_attach *att)
{
    if (att == NULL)
        return NULL;
    pthread_mutex_lock(&att->lock);
    return att->store;
}

TLSR_EXPORT void tlsr_attach_unlock(struct tlsr_attach *att)
{
    if (att != NULL)
        pthread_mutex_unlock(&att->lock);
}

TLSR_EXPORT uint64_t tlsr_ctx_get_options(const struct ssl_ctx_st *ctx)
{
    return ctx != NULL ? (uint64_t)SSL_CTX_get_options(ctx) : 0;
}

TLSR_EXPORT int tlsr_attach_ctx(struct tlsr_attach *att,
                                struct ssl_ctx_st *ctx,
                                struct tlsr_error *err)
{
    struct tlsr_attach *old;
    int (*cb)(SSL *, SSL_SESSION *);
    int rc;

    tlsri_error_clear(err);
    if (ctx == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ctx is NULL");
    if ((rc = indexes(err)) != TLSR_OK)
        return rc;
    cb = SSL_CTX_sess_get_new_cb(ctx);
    if (cb != NULL && cb != new_session_cb)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "context already has a new-session callback");
    old = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (att == NULL) {                       /* detach */
        SSL_CTX_set_ex_data(ctx, ctx_index, NULL);
        SSL_CTX_sess_set_new_cb(ctx, NULL);
        attach_release(old);
        return TLSR_OK;
    }
    attach_retain(att);
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, att)) {
        attach_release(att);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set ex_data");
    }
    attach_release(old);
    /* The callback fires for clients only with client caching on; the
     * internal cache stays off: the store is the cache. */
    SSL_CTX_set_session_cache_mode(ctx,
        SSL_CTX_get_session_cache_mode(ctx) | SSL_SESS_CACHE_CLIENT
            | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_attach_ssl(struct ssl_st *ssl, const void *app_data,
                                const char *host, int port,
                                const char *context, struct tlsr_error *err)
{
    struct attach_key *key;
    struct tlsr_attach *att;
    int rc;

    tlsri_error_clear(err);
    if (ssl == NULL || host == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or host is NULL");
    if (context == NULL)
        context = "";
    if (host[0] == '\0' || strlen(host) >= sizeof(key->host)
        || strlen(context) >= sizeof(key->context))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "host empty or host/context too long");
    if (port < 0 || port > 65535)
        return tlsri_error_set(err, TLSR_EINVAL, "port out of range");
    if ((rc = indexes(err)) != TLSR_OK)
        return rc;
    if (app_data != NULL && SSL_get_app_data(ssl) != app_data)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "SSL does not belong to the given object");
    if (SSL_is_server(ssl))
        return tlsri_error_set(err, TLSR_EINVAL, "SSL is a server");
    att = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    if (att == NULL)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "the connection's context is not attached");
    key = calloc(1, sizeof(*key));
    if (key == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    strcpy(key->host, host);
    strcpy(key->context, context);
    key->port = port;
    attach_retain(att);
    key->att = att;
    key_free(SSL_get_ex_data(ssl, ssl_index));
    if (!SSL_set_ex_data(ssl, ssl_index, key)) {
        key_free(key);
        SSL_set_ex_data(ssl, ssl_index, NULL);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set ex_data");
    }
    return TLSR_OK;
}

/*
 * A private copy of a session, so a binding can change it (e.g. clear the
 * session-id context before serializing) without touching a session a live
 * connection shares.  Belongs with csrc/session.c; here until it moves.
 */
TLSR_EXPORT struct ssl_session_st *tlsr_session_dup(
    const struct ssl_session_st *sess, struct tlsr_error *err)
{
    SSL_SESSION *copy;

    tlsri_error_clear(err);
    if (sess == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "session is NULL");
        return NULL;
    }
    copy = SSL_SESSION_dup(sess);
    if (copy == NULL)
        tlsri_error_ssl(err, TLSR_ENOMEM, "cannot copy session");
    return copy;
}

/*
 * The few cheap facts a binding compares with what its language's session
 * object reports, to check it found the right SSL_SESSION (inspect does
 * much more: certificate names and digest, a DER walk).
 */
TLSR_EXPORT int tlsr_session_get_brief(const struct ssl_session_st *sess,
                                       struct tlsr_session_brief *brief,
                                       struct tlsr_error *err)
{
    const unsigned char *p;
    unsigned int n;

    if (sess == NULL || brief == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or brief is NULL");
    memset(brief, 0, sizeof(*brief));
    brief->protocol_version = SSL_SESSION_get_protocol_version(sess);
    p = SSL_SESSION_get_id(sess, &n);
    if (n > sizeof(brief->session_id))
        n = sizeof(brief->session_id);
    memcpy(brief->session_id, p, n);
    brief->session_id_len = n;
    SSL_SESSION_get0_id_context(sess, &n);
    brief->sid_ctx_len = n;
    brief->time = SSL_SESSION_get_time(sess);
    brief->timeout = SSL_SESSION_get_timeout(sess);
    brief->has_ticket = SSL_SESSION_has_ticket(sess);
    return TLSR_OK;
}
