/*
 * The store's entry format without the directory: for stores that keep
 * entries elsewhere (Redis), so a value there holds the same bytes as a
 * store file (store_entry.c) and is read under the same rules: the
 * header's key must be the caller's, the entry unexpired, the trust rule
 * satisfied.  A codec is a struct tlsr_store with no directory (dirfd -1)
 * and no caches: only tlsri_entry_encode/decode use it.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "store.h"

struct tlsr_codec {
    struct tlsr_store st;
};

TLSR_EXPORT struct tlsr_codec *tlsr_codec_new(
    const struct tlsr_store_options *opts, struct tlsr_error *err)
{
    struct tlsr_store_options defaults;
    struct tlsr_codec *c;

    tlsr_store_options_init(&defaults);
    if (opts == NULL)
        opts = &defaults;
    if ((opts->seal_key != NULL || opts->seal_key_len != 0)
        && (opts->seal_key == NULL
            || opts->seal_key_len != TLSRI_SEAL_KEY_LEN)) {
        tlsri_error_set(err, TLSR_EKEY, "seal key must be %d bytes, not %zu",
                        TLSRI_SEAL_KEY_LEN, opts->seal_key_len);
        return NULL;
    }
    if ((opts->flags
         & ~(uint32_t)(TLSR_STORE_LEAN | TLSR_STORE_RESTORE_LEAN)) != 0
        || opts->max_lifetime < 0) {
        tlsri_error_set(err, TLSR_EINVAL, "bad codec options");
        return NULL;
    }
    if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    c->st.dirfd = -1;
    c->st.max_tickets = opts->max_tickets ? opts->max_tickets : 8;
    c->st.max_lifetime = opts->max_lifetime ? opts->max_lifetime : 7 * 86400;
    c->st.flags = opts->flags;
    if (opts->seal_key != NULL) {
        c->st.sealed = 1;
        memcpy(c->st.seal_key, opts->seal_key, TLSRI_SEAL_KEY_LEN);
        if (tlsri_seal_key_id(c->st.seal_key, c->st.key_id) != 0) {
            tlsr_codec_free(c);
            tlsri_error_ssl(err, TLSR_ESSL, "cannot derive the key id");
            return NULL;
        }
    }
    tlsri_error_clear(err);
    return c;
}

struct tlsr_codec *tlsri_codec_dup(const struct tlsr_codec *codec,
                                   struct tlsr_error *err)
{
    struct tlsr_codec *c;

    if (codec == NULL)
        return tlsr_codec_new(NULL, err);
    if ((c = OPENSSL_malloc(sizeof(*c))) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(c, codec, sizeof(*c));       /* options only: no caches, no fd */
    return c;
}

struct tlsr_store *tlsri_codec_store(struct tlsr_codec *codec)
{
    return &codec->st;
}

SSL_SESSION *tlsri_entry_decode_for(struct tlsr_store *st, const uint8_t *buf,
                                    size_t len, const struct tlsri_key *key,
                                    struct tlsri_entry_meta *meta,
                                    struct tlsr_error *err)
{
    SSL_SESSION *sess = NULL;
    uint8_t digest[32];
    int64_t e;

    if (tlsri_entry_decode(st, buf, len, meta, &sess, err) != TLSR_OK)
        return NULL;
    /* The header, not where the value was found, says whose it is. */
    if (tlsri_key_digest(meta->host, meta->port, meta->context, digest) != 0
        || CRYPTO_memcmp(digest, key->digest, 32) != 0) {
        SSL_SESSION_free(sess);
        tlsri_error_set(err, TLSR_ENOTFOUND, "entry is for another key");
        return NULL;
    }
    e = tlsri_session_expires(sess, st->max_lifetime);
    if (meta->expires < e)
        e = meta->expires;
    if (e <= tlsri_now()) {
        SSL_SESSION_free(sess);
        tlsri_error_set(err, TLSR_ENOTFOUND, "entry has expired");
        return NULL;
    }
    return sess;
}

TLSR_EXPORT void tlsr_codec_free(struct tlsr_codec *codec)
{
    if (codec != NULL)
        OPENSSL_clear_free(codec, sizeof(*codec));
}

TLSR_EXPORT int tlsr_entry_encode(struct tlsr_codec *codec, const char *host,
                                  int port, const char *scope,
                                  struct ssl_session_st *sess, uint8_t *buf,
                                  size_t *len, int64_t *expires, int *kind,
                                  struct tlsr_error *err)
{
    struct tlsri_key key;
    SSL_SESSION *copy = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0, cap;
    unsigned int sid_ctx_len = 0;
    int64_t e;
    int k, rc;

    if (codec == NULL || sess == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "codec, session or len is "
                               "NULL");
    cap = buf != NULL ? *len : 0;
    /* Entries are read by other bindings and other programs (nginx,
     * OpenSSL, Node use none): the empty session-id context, as
     * tlsresume.dumps writes; readers stamp their own.  On a copy. */
    SSL_SESSION_get0_id_context(sess, &sid_ctx_len);
    if (sid_ctx_len > 0) {
        if ((copy = SSL_SESSION_dup(sess)) == NULL
            || !SSL_SESSION_set1_id_context(copy, (const uint8_t *)"", 0)) {
            SSL_SESSION_free(copy);
            return tlsri_error_ssl(err, TLSR_ENOMEM, "cannot copy session");
        }
        sess = copy;
    }
    if ((rc = tlsri_key_init(&key, host, port, scope, err)) == TLSR_OK
        && (rc = tlsri_entry_prepare(&codec->st, sess, &e, &k, err))
               == TLSR_OK)
        rc = tlsri_entry_encode(&codec->st, &key, sess, k, e, &out, &out_len,
                                err);
    SSL_SESSION_free(copy);
    if (rc != TLSR_OK)
        return rc;
    *len = out_len;
    if (expires != NULL)
        *expires = e;
    if (kind != NULL)
        *kind = k;
    if (buf == NULL || cap < out_len) {
        OPENSSL_clear_free(out, out_len);
        if (buf == NULL) {
            tlsri_error_clear(err);
            return TLSR_OK;
        }
        return tlsri_error_set(err, TLSR_EBUFSIZE, "entry needs %zu bytes",
                               out_len);
    }
    memcpy(buf, out, out_len);
    OPENSSL_clear_free(out, out_len);
    tlsri_error_clear(err);
    return TLSR_OK;
}

TLSR_EXPORT struct ssl_session_st *tlsr_entry_decode(
    struct tlsr_codec *codec, const uint8_t *buf, size_t len,
    const char *host, int port, const char *scope,
    const struct tlsr_trust *policy, const struct ssl_ctx_st *ctx,
    struct tlsr_error *err)
{
    struct tlsri_entry_meta meta;
    struct tlsri_key key;
    struct tlsr_trust made;
    SSL_SESSION *sess = NULL;

    if (codec == NULL || (buf == NULL && len > 0)) {
        tlsri_error_set(err, TLSR_EINVAL, "codec or buffer is NULL");
        return NULL;
    }
    if (len == 0) {
        tlsri_error_set(err, TLSR_EEMPTY, "entry is empty");
        return NULL;
    }
    if (len > TLSRI_ENTRY_MAX) {
        tlsri_error_set(err, TLSR_ETOOBIG, "entry larger than %d bytes",
                        TLSRI_ENTRY_MAX);
        return NULL;
    }
    if (tlsri_key_init(&key, host, port, scope, err) != TLSR_OK
        || (sess = tlsri_entry_decode_for(&codec->st, buf, len, &key, &meta,
                                          err)) == NULL)
        return NULL;
    if (tlsr_session_set1_trust(sess, &meta.trust, err) != TLSR_OK) {
        SSL_SESSION_free(sess);
        return NULL;
    }
    if (policy != NULL && policy->verify) {
        made = meta.trust;
        if (tlsr_trust_check(&made, policy, ctx, err) != TLSR_OK) {
            SSL_SESSION_free(sess);
            return NULL;
        }
    }
    tlsri_error_clear(err);
    return sess;
}

TLSR_EXPORT int tlsr_entry_key(const char *host, int port, const char *scope,
                               char *buf, size_t *len, struct tlsr_error *err)
{
    static const char hex[] = "0123456789abcdef";
    struct tlsri_key key;
    size_t i;
    int rc;

    if (len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "len is NULL");
    if ((rc = tlsri_key_init(&key, host, port, scope, err)) != TLSR_OK)
        return rc;
    if (buf == NULL || *len < 65) {
        int sized = buf == NULL;

        *len = 65;
        if (sized) {
            tlsri_error_clear(err);
            return TLSR_OK;
        }
        return tlsri_error_set(err, TLSR_EBUFSIZE, "key needs 65 bytes");
    }
    for (i = 0; i < 32; i++) {
        buf[2 * i] = hex[key.digest[i] >> 4];
        buf[2 * i + 1] = hex[key.digest[i] & 15];
    }
    buf[64] = '\0';
    *len = 64;
    tlsri_error_clear(err);
    return TLSR_OK;
}
