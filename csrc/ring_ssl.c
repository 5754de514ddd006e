/*
 * Ticket key rings in OpenSSL servers: the ticket key callback
 * (SSL_CTX_set_tlsext_ticket_key_evp_cb) and the cheap freshness check.
 *
 * Per handshake: time(), a read lock, a scan of at most 64 key names and
 * the cipher/MAC set-up OpenSSL's own keys need too.  At most once a second
 * one thread stats the ring directory and reloads it when it changed (or
 * rotates it when due, unless told not to); a failure there keeps the last
 * good keys, is counted, and is reported once through the warn hook:
 * never a failed handshake.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "ring.h"

static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int ctx_index = -1;

/* What a context's ex_data holds: a ring reference and how to use it. */
struct binding {
    struct tlsr_ring *ring;
    uint32_t flags;             /* TLSR_RING_NO_AUTO_ROTATE */
    int has_sid_ctx;
    unsigned int sid_ctx_len;
    uint8_t sid_ctx[SSL_MAX_SID_CTX_LENGTH];
};

static void binding_free(struct binding *b)
{
    if (b != NULL) {
        tlsr_ring_free(b->ring);
        OPENSSL_free(b);
    }
}

static void ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                        long argl, void *argp)
{
    binding_free(ptr);
}

static void init_index(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
}

static void report(struct tlsr_ring *ring, const struct tlsr_error *e)
{
    tlsr_warn_fn fn;
    void *arg;
    int first;

    pthread_mutex_lock(&ring->lock);
    __atomic_fetch_add(&ring->st.failures, 1, __ATOMIC_RELAXED);
    ring->st.last_code = e->code;
    memcpy(ring->st.last_msg, e->msg, sizeof(ring->st.last_msg));
    first = !ring->failing;
    ring->failing = 1;
    fn = ring->warn;
    arg = ring->warn_arg;
    pthread_mutex_unlock(&ring->lock);
    if (first && fn != NULL)
        fn(arg, e->code, e->msg);
}

/* The once-a-second check; only the thread that claims the second runs it. */
static void maybe_refresh(struct tlsr_ring *ring, int64_t now, int auto_rot)
{
    struct tlsr_error e;
    int64_t due = __atomic_load_n(&ring->next_check, __ATOMIC_RELAXED);
    dev_t dev;
    ino_t ino;
    int64_t mt, ct;
    int changed, rotate, rc = TLSR_OK;

    if (now < due || !__atomic_compare_exchange_n(&ring->next_check, &due,
                                                  now + 1, 0,
                                                  __ATOMIC_RELAXED,
                                                  __ATOMIC_RELAXED))
        return;
    tlsri_error_clear(&e);
    if (tlsri_ring_stat(ring->path, &dev, &ino, &mt, &ct) != 0) {
        tlsri_error_set(&e, TLSR_EIO, "ring %.150s cannot be read any more; "
                        "keeping the last keys", ring->path);
        report(ring, &e);
        return;
    }
    pthread_rwlock_rdlock(&ring->rw);
    changed = dev != ring->snap->dev || ino != ring->snap->ino
              || mt != ring->snap->mtime_ns || ct != ring->snap->ctime_ns;
    rotate = auto_rot && now >= ring->no_rotate_until
             && tlsri_ring_due(&ring->conf, ring->snap, now);
    pthread_rwlock_unlock(&ring->rw);
    if (rotate) {
        rc = tlsr_ring_rotate(ring, now, 0, &e);
        if (rc < 0)
            ring->no_rotate_until = now + 600;  /* read-only ring: back off */
        else
            changed = 0;                        /* rotate reloaded it */
    }
    if (rc >= 0 && changed)
        rc = tlsri_ring_refresh(ring, &e);
    if (rc < 0) {
        report(ring, &e);
        return;
    }
    pthread_mutex_lock(&ring->lock);
    ring->failing = 0;
    pthread_mutex_unlock(&ring->lock);
}

static int set_keys(const struct tlsri_ticket_key *k, const uint8_t *iv,
                    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[3];
    const EVP_CIPHER *cipher = k->aes_len == 32 ? EVP_aes_256_cbc()
                                                : EVP_aes_128_cbc();

    params[0] = OSSL_PARAM_construct_octet_string(
        OSSL_MAC_PARAM_KEY, (void *)k->hmac_key, k->hmac_len);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (!EVP_CipherInit_ex(cctx, cipher, NULL, k->aes_key, iv, enc)
        || !EVP_MAC_CTX_set_params(hctx, params))
        return -1;
    return 0;
}

static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    struct binding *b = ctx_index < 0 ? NULL
                      : SSL_CTX_get_ex_data(ctx, ctx_index);
    struct tlsr_ring *ring = b != NULL ? b->ring : NULL;
    int64_t now = tlsri_ring_now(0);
    const struct tlsri_ring_snap *snap;
    int idx, enc_idx, ret = 0;
    size_t i;

    if (ring == NULL)       /* an SNI callback switched to a ring-less ctx */
        return 0;
    maybe_refresh(ring, now, (b->flags & TLSR_RING_NO_AUTO_ROTATE) == 0);
    pthread_rwlock_rdlock(&ring->rw);
    snap = ring->snap;
    enc_idx = tlsri_ring_encrypting(&ring->conf, snap, now);
    if (enc) {
        if (enc_idx >= 0 && RAND_bytes(iv, 16) == 1) {
            memcpy(name, snap->e[enc_idx].k.name, 16);
            if (set_keys(&snap->e[enc_idx].k, iv, cctx, hctx, 1) == 0)
                ret = 1;
        }
        pthread_rwlock_unlock(&ring->rw);
        if (ret == 1)
            __atomic_fetch_add(&ring->st.encrypted, 1, __ATOMIC_RELAXED);
        return ret;         /* 0: no ticket this time, never a failure */
    }
    idx = -1;
    for (i = 0; i < snap->n; i++) {
        int64_t end, exp;

        if (memcmp(snap->e[i].k.name, name, 16) == 0) {
            if (tlsri_ring_role(&ring->conf, snap, i, now, &end, &exp)
                != TLSR_RING_EXPIRED)
                idx = (int)i;
            break;
        }
    }
    if (idx >= 0 && set_keys(&snap->e[idx].k, iv, cctx, hctx, 0) == 0)
        ret = idx == enc_idx && SSL_version(ssl) < TLS1_3_VERSION ? 1 : 2;
    pthread_rwlock_unlock(&ring->rw);
    if (ret == 0)
        __atomic_fetch_add(&ring->st.unknown, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&ring->st.decrypted, 1, __ATOMIC_RELAXED);
    if (ret == 2)
        __atomic_fetch_add(&ring->st.renewed, 1, __ATOMIC_RELAXED);
    return ret;
}

/*
 * The session-id context is also set on each connection, at its
 * ClientHello (before OpenSSL looks for the session to resume): servers
 * that set their own per connection (CPython >= 3.13: "Python\0" on every
 * server-side SSL) would otherwise override the context's.
 */
static int hello_cb(SSL *ssl, int *alert, void *arg)
{
    struct binding *b = ctx_index < 0 ? NULL
                      : SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);

    if (b != NULL && b->has_sid_ctx)
        SSL_set_session_id_context(ssl, b->sid_ctx, b->sid_ctx_len);
    return SSL_CLIENT_HELLO_SUCCESS;
}

TLSR_EXPORT int tlsr_ring_attach_ctx(struct tlsr_ring *ring, SSL_CTX *ctx,
                                     const struct tlsr_ring_attach_options *o,
                                     struct tlsr_error *err)
{
    struct binding *b, *old;

    tlsri_error_clear(err);
    if (ring == NULL || ctx == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring and context expected");
    if (o != NULL && (o->flags & ~(uint32_t)TLSR_RING_NO_AUTO_ROTATE) != 0)
        return tlsri_error_set(err, TLSR_EINVAL, "unknown attach flags");
    if (o != NULL && o->session_id_context != NULL
        && o->session_id_context_len > SSL_MAX_SID_CTX_LENGTH)
        return tlsri_error_set(err, TLSR_EINVAL, "session id context is "
                               "longer than %d bytes", SSL_MAX_SID_CTX_LENGTH);
    if (!CRYPTO_THREAD_run_once(&index_once, init_index) || ctx_index < 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot allocate ex_data");
    if ((b = OPENSSL_zalloc(sizeof(*b))) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    b->ring = ring;
    b->flags = o != NULL ? o->flags : 0;
    if (o != NULL && o->session_id_context != NULL) {
        b->has_sid_ctx = 1;
        b->sid_ctx_len = (unsigned)o->session_id_context_len;
        memcpy(b->sid_ctx, o->session_id_context, b->sid_ctx_len);
        if (!SSL_CTX_set_session_id_context(ctx, b->sid_ctx,
                                            b->sid_ctx_len)) {
            OPENSSL_free(b);
            return tlsri_error_ssl(err, TLSR_ESSL, "cannot set the session "
                                   "id context");
        }
        SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
    }
    old = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, b)) {
        OPENSSL_free(b);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot attach the ring");
    }
    tlsri_ring_retain(ring);
    binding_free(old);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    /* Tickets live as long as the ring guarantees their key (keep). */
    SSL_CTX_set_timeout(ctx, (long)ring->conf.keep);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ring_status(struct tlsr_ring *ring,
                                 struct tlsr_ring_status *status, int clear,
                                 struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (ring == NULL || status == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring and status expected");
    pthread_mutex_lock(&ring->lock);
    status->reloads = __atomic_load_n(&ring->st.reloads, __ATOMIC_RELAXED);
    status->failures = __atomic_load_n(&ring->st.failures, __ATOMIC_RELAXED);
    status->encrypted = __atomic_load_n(&ring->st.encrypted,
                                        __ATOMIC_RELAXED);
    status->decrypted = __atomic_load_n(&ring->st.decrypted,
                                        __ATOMIC_RELAXED);
    status->renewed = __atomic_load_n(&ring->st.renewed, __ATOMIC_RELAXED);
    status->unknown = __atomic_load_n(&ring->st.unknown, __ATOMIC_RELAXED);
    status->last_code = ring->st.last_code;
    memcpy(status->last_msg, ring->st.last_msg, sizeof(status->last_msg));
    if (clear) {
        __atomic_store_n(&ring->st.failures, 0, __ATOMIC_RELAXED);
        ring->st.last_code = 0;
        ring->st.last_msg[0] = '\0';
    }
    pthread_mutex_unlock(&ring->lock);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ring_set_warn(struct tlsr_ring *ring,
                                   tlsr_warn_fn fn, void *arg,
                                   struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (ring == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring is NULL");
    pthread_mutex_lock(&ring->lock);
    ring->warn = fn;
    ring->warn_arg = arg;
    pthread_mutex_unlock(&ring->lock);
    return TLSR_OK;
}
