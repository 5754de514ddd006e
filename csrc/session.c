/*
 * Sessions: serialize (DER = i2d_SSL_SESSION, PEM = "openssl sess_id"),
 * parse with precise errors, reference counting, session-id context,
 * ticket and master secret accessors.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "der.h"
#include "internal.h"

/* Sessions are ~0.2-2 KB: encode and decode through the stack if small. */
enum { STACK_BUF = 4096 };

/* ---- serialize ----------------------------------------------------------- */

/*
 * Drop the explicit [3] peer certificate from a session's DER in place and
 * fix the outer SEQUENCE's length.  The header never grows, so everything
 * moves left.  Returns the new length.
 */
static size_t strip_peer(uint8_t *der, size_t len)
{
    struct tlsri_der_tlv outer, el;
    struct tlsri_der_iter it;
    const uint8_t *cut = NULL;
    size_t cut_len = 0, pre, post, content, hdr;
    uint8_t header[8];

    if (tlsri_der_header(der, len, &outer) != TLSRI_DER_OK)
        return len;
    tlsri_der_iter_init(&it, outer.val, outer.len);
    while (tlsri_der_next(&it, &el) == 1) {
        if (el.tag == TLSRI_DER_CTX(3)) {
            cut = el.val - el.hdr_len;
            cut_len = el.hdr_len + el.len;
            break;
        }
    }
    if (cut == NULL)
        return len;
    pre = (size_t)(cut - outer.val);
    post = outer.len - pre - cut_len;
    content = outer.len - cut_len;
    hdr = tlsri_der_put_header(header, TLSRI_DER_SEQUENCE, content);
    memmove(der + hdr, outer.val, pre);
    memmove(der + hdr + pre, cut + cut_len, post);
    memcpy(der, header, hdr);
    /* The abandoned tail held key material too. */
    OPENSSL_cleanse(der + hdr + content, len - hdr - content);
    return hdr + content;
}

/*
 * Ask-size-then-fill: 1 if the caller only learns the size (buf NULL, *rc
 * TLSR_OK) or its buffer is too small (*rc TLSR_EBUFSIZE); *len is then n.
 * 0 if buf can take n bytes.
 */
static int size_only(const uint8_t *buf, size_t *len, size_t n, int *rc,
                     struct tlsr_error *err)
{
    if (buf != NULL && *len >= n)
        return 0;
    *len = n;
    *rc = buf == NULL ? TLSR_OK
                      : tlsri_error_set(err, TLSR_EBUFSIZE,
                                        "buffer too small: %zu bytes needed",
                                        n);
    return 1;
}

TLSR_EXPORT int tlsr_session_serialize(const SSL_SESSION *sess, int format,
                                       unsigned int flags, uint8_t *buf,
                                       size_t *len, struct tlsr_error *err)
{
    uint8_t stack[STACK_BUF], *der = stack, *p;
    size_t need;
    int n, rc;

    if (sess == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or len is NULL");
    if (format != TLSR_FORMAT_DER && format != TLSR_FORMAT_PEM)
        return tlsri_error_set(err, TLSR_EINVAL, "unknown format %d", format);
    if ((flags & ~(unsigned int)TLSR_SERIALIZE_LEAN) != 0)
        return tlsri_error_set(err, TLSR_EINVAL, "unknown flags 0x%x", flags);
    n = i2d_SSL_SESSION(sess, NULL);
    if (n <= 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot encode session");

    /* Plain DER: straight into the caller's buffer, no copy. */
    if (format == TLSR_FORMAT_DER && flags == 0) {
        if (size_only(buf, len, (size_t)n, &rc, err))
            return rc;
        p = buf;
        if (i2d_SSL_SESSION(sess, &p) != n)
            return tlsri_error_ssl(err, TLSR_ESSL, "cannot encode session");
        *len = (size_t)n;
        return TLSR_OK;
    }

    if (buf == NULL && format == TLSR_FORMAT_PEM && flags == 0) {
        *len = tlsri_pem_size((size_t)n);
        return TLSR_OK;
    }
    if ((size_t)n > sizeof(stack) && (der = OPENSSL_malloc((size_t)n)) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    p = der;
    if (i2d_SSL_SESSION(sess, &p) != n) {
        rc = tlsri_error_ssl(err, TLSR_ESSL, "cannot encode session");
        goto end;
    }
    need = (size_t)n;
    if (flags & TLSR_SERIALIZE_LEAN)
        need = strip_peer(der, need);
    if (format == TLSR_FORMAT_DER) {
        if (!size_only(buf, len, need, &rc, err)) {
            memcpy(buf, der, need);
            *len = need;
            rc = TLSR_OK;
        }
    } else {
        size_t pem = tlsri_pem_size(need);

        if (!size_only(buf, len, pem, &rc, err)) {
            tlsri_pem_encode(der, need, buf);
            *len = pem;
            rc = TLSR_OK;
        }
    }
end:
    OPENSSL_cleanse(der, (size_t)n);
    if (der != stack)
        OPENSSL_free(der);
    return rc;
}

/* ---- parse ----------------------------------------------------------------- */

/* Protocol versions this OpenSSL can hold in a session. */
static int known_version(int64_t v)
{
    switch (v) {
    case SSL3_VERSION:
    case TLS1_VERSION:
    case TLS1_1_VERSION:
    case TLS1_2_VERSION:
    case TLS1_3_VERSION:
    case DTLS1_VERSION:
    case DTLS1_2_VERSION:
    case DTLS1_BAD_VER:
        return 1;
    default:
        return 0;
    }
}

/* Whether libssl has a cipher with these two bytes (error path only: it
 * needs a throwaway SSL, since SSL_CIPHER_find is the only public lookup). */
static int known_cipher(const uint8_t bytes[2])
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    int known = ssl != NULL && SSL_CIPHER_find(ssl, bytes) != NULL;

    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return known;
}

/*
 * d2i_SSL_SESSION failed: walk the first fields ourselves to tell a session
 * this OpenSSL cannot hold (unknown protocol or cipher) from bytes that are
 * no session at all.  Fields: INTEGER version (1), INTEGER ssl_version,
 * OCTET STRING cipher (2 bytes).
 */
static int classify_failure(const struct tlsri_der_tlv *outer,
                            struct tlsr_error *err)
{
    struct tlsri_der_iter it;
    struct tlsri_der_tlv el;
    int64_t v;

    tlsri_der_iter_init(&it, outer->val, outer->len);
    if (tlsri_der_next(&it, &el) != 1 || tlsri_der_int64(&el, &v) != 0)
        goto not_session;
    if (v != 1) {
        ERR_clear_error();
        return tlsri_error_set(err, TLSR_EUNSUPPORTED,
                               "unsupported session encoding version %lld",
                               (long long)v);
    }
    if (tlsri_der_next(&it, &el) != 1 || tlsri_der_int64(&el, &v) != 0)
        goto not_session;
    if (!known_version(v)) {
        ERR_clear_error();
        return tlsri_error_set(err, TLSR_EUNSUPPORTED,
                               "unsupported protocol version 0x%04llx",
                               (unsigned long long)v & 0xFFFFFFFFull);
    }
    if (tlsri_der_next(&it, &el) != 1 || el.tag != TLSRI_DER_OCTET_STRING
        || el.len != 2)
        goto not_session;
    if (!known_cipher(el.val)) {
        ERR_clear_error();
        return tlsri_error_set(err, TLSR_EUNSUPPORTED,
                               "unsupported cipher 0x%02X,0x%02X",
                               el.val[0], el.val[1]);
    }
not_session:
    return tlsri_error_ssl(err, TLSR_ENOTSESSION, "not an SSL session");
}

static SSL_SESSION *parse_der(const uint8_t *der, size_t len,
                              struct tlsr_error *err)
{
    struct tlsri_der_tlv outer;
    const uint8_t *p = der;
    SSL_SESSION *sess;
    size_t total;
    int rc;

    if (der[0] != TLSRI_DER_SEQUENCE) {
        tlsri_error_set(err, TLSR_ENOTSESSION,
                        "not an SSL session: neither DER nor PEM");
        return NULL;
    }
    rc = tlsri_der_header(der, len, &outer);
    if (rc == TLSRI_DER_BAD) {
        tlsri_error_set(err, TLSR_ENOTSESSION,
                        "not an SSL session: malformed DER header");
        return NULL;
    }
    if (rc == TLSRI_DER_SHORT) {
        if (outer.hdr_len == 0)
            tlsri_error_set(err, TLSR_ETRUNCATED,
                            "DER ends inside its header (%zu bytes)", len);
        else
            tlsri_error_set(err, TLSR_ETRUNCATED,
                            "DER is %zu bytes, its header says %zu", len,
                            outer.hdr_len + outer.len);
        return NULL;
    }
    total = outer.hdr_len + outer.len;
    if (total < len) {
        tlsri_error_set(err, TLSR_ETRAILING,
                        "%zu bytes after the DER session", len - total);
        return NULL;
    }
    sess = d2i_SSL_SESSION(NULL, &p, (long)len);
    if (sess == NULL) {
        classify_failure(&outer, err);
        return NULL;
    }
    if (p != der + len || !known_version(SSL_SESSION_get_protocol_version(sess))) {
        int v = SSL_SESSION_get_protocol_version(sess);

        SSL_SESSION_free(sess);
        ERR_clear_error();
        if (p != der + len)
            tlsri_error_set(err, TLSR_ETRAILING,
                            "bytes after the DER session");
        else
            tlsri_error_set(err, TLSR_EUNSUPPORTED,
                            "unsupported protocol version 0x%04x",
                            (unsigned)v);
        return NULL;
    }
    return sess;
}

static SSL_SESSION *parse_pem(const uint8_t *body, size_t body_len,
                              struct tlsr_error *err)
{
    uint8_t stack[STACK_BUF], *der = stack;
    size_t cap = tlsri_pem_decoded_max(body_len), n = 0;
    SSL_SESSION *sess = NULL;

    if (cap > sizeof(stack) && (der = OPENSSL_malloc(cap)) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (tlsri_pem_base64(body, body_len, der, &n, err) == 0)
        sess = parse_der(der, n, err);
    else
        n = cap; /* partly decoded: wipe all it may hold */
    OPENSSL_cleanse(der, n);
    if (der != stack)
        OPENSSL_free(der);
    return sess;
}

TLSR_EXPORT SSL_SESSION *tlsr_session_parse(const uint8_t *data, size_t len,
                                            struct tlsr_error *err)
{
    struct tlsri_der_tlv outer;
    const uint8_t *body;
    size_t body_len;
    int rc;

    if (len == 0) {
        tlsri_error_set(err, TLSR_EEMPTY, "empty input");
        return NULL;
    }
    if (data == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "data is NULL");
        return NULL;
    }
    if (len > TLSR_MAX_INPUT) {
        tlsri_error_set(err, TLSR_ETOOBIG, "input is %zu bytes, limit %d",
                        len, TLSR_MAX_INPUT);
        return NULL;
    }
    /* DER whose outer SEQUENCE spans the input exactly: the hot path. */
    if (data[0] == TLSRI_DER_SEQUENCE
        && tlsri_der_header(data, len, &outer) == TLSRI_DER_OK
        && outer.hdr_len + outer.len == len)
        return parse_der(data, len, err);
    rc = tlsri_pem_locate(data, len, &body, &body_len, err);
    if (rc == 1)
        return parse_pem(body, body_len, err);
    if (rc < 0)
        return NULL;
    /* No PEM block: report on the bytes as DER. */
    return parse_der(data, len, err);
}

/* ---- reference counting ---------------------------------------------------- */

TLSR_EXPORT int tlsr_session_up_ref(SSL_SESSION *sess)
{
    if (sess == NULL || SSL_SESSION_up_ref(sess) != 1)
        return TLSR_EINVAL;
    return TLSR_OK;
}

TLSR_EXPORT void tlsr_session_free(SSL_SESSION *sess)
{
    SSL_SESSION_free(sess);
}

/* ---- session-id context ---------------------------------------------------- */

TLSR_EXPORT int tlsr_session_set1_id_context(SSL_SESSION *sess,
                                             const uint8_t *sid_ctx,
                                             size_t len,
                                             struct tlsr_error *err)
{
    static const uint8_t none[1] = { 0 };

    if (sess == NULL || (sid_ctx == NULL && len > 0))
        return tlsri_error_set(err, TLSR_EINVAL, "session or context is NULL");
    if (len > SSL_MAX_SID_CTX_LENGTH)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "session-id context is %zu bytes, limit %d",
                               len, SSL_MAX_SID_CTX_LENGTH);
    if (SSL_SESSION_set1_id_context(sess, len > 0 ? sid_ctx : none,
                                    (unsigned int)len) != 1)
        return tlsri_error_ssl(err, TLSR_ESSL,
                               "cannot set session-id context");
    return TLSR_OK;
}

/* ---- ticket and secret ------------------------------------------------------- */

TLSR_EXPORT int tlsr_session_get_ticket(const SSL_SESSION *sess, uint8_t *buf,
                                        size_t *len, struct tlsr_error *err)
{
    const unsigned char *tick = NULL;
    size_t n = 0;
    int rc;

    if (sess == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or len is NULL");
    SSL_SESSION_get0_ticket(sess, &tick, &n);
    if (tick == NULL || n == 0) {
        *len = 0;
        return TLSR_OK;
    }
    if (size_only(buf, len, n, &rc, err))
        return rc;
    memcpy(buf, tick, n);
    *len = n;
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_session_get_master_key_secret(const SSL_SESSION *sess,
                                                   uint8_t *buf, size_t *len,
                                                   struct tlsr_error *err)
{
    size_t n;
    int rc;

    if (sess == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or len is NULL");
    n = SSL_SESSION_get_master_key(sess, NULL, 0);
    if (size_only(buf, len, n, &rc, err))
        return rc;
    *len = SSL_SESSION_get_master_key(sess, buf, n);
    return TLSR_OK;
}
