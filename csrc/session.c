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
#include "peer.h"

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
 * The inverse of strip_peer for a lean-restored session: insert
 * [3] { cert } before the first field tagged above [3] (DER keeps fields in
 * tag order).  out holds len + clen + 16 bytes.  Returns the new length,
 * 0 if der is not a SEQUENCE.
 */
static size_t splice_peer(const uint8_t *der, size_t len, const uint8_t *cert,
                          size_t clen, uint8_t *out)
{
    struct tlsri_der_tlv outer, el;
    struct tlsri_der_iter it;
    const uint8_t *at;
    size_t pre, elem, content, hdr;

    if (tlsri_der_header(der, len, &outer) != TLSRI_DER_OK)
        return 0;
    at = outer.val + outer.len;
    tlsri_der_iter_init(&it, outer.val, outer.len);
    while (tlsri_der_next(&it, &el) == 1) {
        if ((el.tag & 0xE0u) == 0xA0u && (el.tag & 0x1Fu) > 3) {
            at = el.val - el.hdr_len;
            break;
        }
    }
    pre = (size_t)(at - outer.val);
    elem = tlsri_der_len_size(clen) + 1 + clen;
    content = outer.len + elem;
    hdr = tlsri_der_put_header(out, TLSRI_DER_SEQUENCE, content);
    memcpy(out + hdr, outer.val, pre);
    tlsri_der_put_header(out + hdr + pre, TLSRI_DER_CTX(3), clen);
    memcpy(out + hdr + pre + elem - clen, cert, clen);
    memcpy(out + hdr + pre + elem, at, outer.len - pre);
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
    uint8_t stack[STACK_BUF], *der = stack, *p, *full = NULL;
    const uint8_t *kept;
    size_t need, klen = 0;
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

    /* A lean restore's certificate goes back in unless asked not to. */
    kept = (flags & TLSR_SERIALIZE_LEAN) ? NULL : tlsri_peer_kept(sess, &klen);

    /* Plain DER: straight into the caller's buffer, no copy. */
    if (format == TLSR_FORMAT_DER && flags == 0 && kept == NULL) {
        if (size_only(buf, len, (size_t)n, &rc, err))
            return rc;
        p = buf;
        if (i2d_SSL_SESSION(sess, &p) != n)
            return tlsri_error_ssl(err, TLSR_ESSL, "cannot encode session");
        *len = (size_t)n;
        return TLSR_OK;
    }

    if (buf == NULL && format == TLSR_FORMAT_PEM && flags == 0
        && kept == NULL) {
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
    p = der;
    if (kept != NULL) {
        if ((full = OPENSSL_malloc((size_t)n + klen + 16)) == NULL) {
            rc = tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
            goto end;
        }
        need = splice_peer(der, need, kept, klen, full);
        p = full;
    }
    if (format == TLSR_FORMAT_DER) {
        if (!size_only(buf, len, need, &rc, err)) {
            memcpy(buf, p, need);
            *len = need;
            rc = TLSR_OK;
        }
    } else {
        size_t pem = tlsri_pem_size(need);

        if (!size_only(buf, len, pem, &rc, err)) {
            tlsri_pem_encode(p, need, buf);
            *len = pem;
            rc = TLSR_OK;
        }
    }
end:
    OPENSSL_cleanse(der, (size_t)n);
    if (der != stack)
        OPENSSL_free(der);
    if (full != NULL)
        OPENSSL_clear_free(full, (size_t)n + klen + 16);
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

/*
 * Lean: decode a copy without the [3] peer certificate (no d2i_X509) and
 * keep the certificate's DER with the session (csrc/peer.c).  NULL, with
 * *cert_len 0, when there is no certificate to leave out.
 */
static SSL_SESSION *d2i_lean(const uint8_t *der, size_t len,
                             const struct tlsri_der_tlv *outer,
                             const uint8_t **end, size_t *cert_len)
{
    struct tlsri_der_tlv el, cert;
    struct tlsri_der_iter it;
    uint8_t stack[STACK_BUF], *copy = stack;
    const uint8_t *p, *c = NULL;
    SSL_SESSION *sess = NULL;
    size_t n;

    *cert_len = 0;
    tlsri_der_iter_init(&it, outer->val, outer->len);
    while (tlsri_der_next(&it, &el) == 1) {
        if (el.tag == TLSRI_DER_CTX(3)) {
            if (tlsri_der_unwrap(&el, TLSRI_DER_SEQUENCE, &cert) != 0
                || cert.hdr_len + cert.len != el.len)
                return NULL;     /* let d2i report it */
            c = cert.val - cert.hdr_len;
            *cert_len = el.len;
            break;
        }
    }
    if (c == NULL)
        return NULL;
    if (len > sizeof(stack) && (copy = OPENSSL_malloc(len)) == NULL) {
        *cert_len = 0;
        return NULL;
    }
    memcpy(copy, der, len);
    n = strip_peer(copy, len);
    p = copy;
    sess = d2i_SSL_SESSION(NULL, &p, (long)n);
    *end = p == copy + n ? der + len : der;
    OPENSSL_cleanse(copy, len);
    if (copy != stack)
        OPENSSL_free(copy);
    if (sess != NULL && tlsri_peer_keep(sess, c, *cert_len) != 0) {
        SSL_SESSION_free(sess);
        sess = NULL;
    }
    if (sess == NULL)
        *cert_len = 0;
    return sess;
}

static SSL_SESSION *parse_der(const uint8_t *der, size_t len, int lean,
                              struct tlsr_error *err)
{
    struct tlsri_der_tlv outer;
    const uint8_t *p = der;
    SSL_SESSION *sess = NULL;
    size_t total, cert_len = 0;
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
    if (lean)
        sess = d2i_lean(der, len, &outer, &p, &cert_len);
    if (cert_len == 0)
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
                              int lean, struct tlsr_error *err)
{
    uint8_t stack[STACK_BUF], *der = stack;
    size_t cap = tlsri_pem_decoded_max(body_len), n = 0;
    SSL_SESSION *sess = NULL;

    if (cap > sizeof(stack) && (der = OPENSSL_malloc(cap)) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (tlsri_pem_base64(body, body_len, der, &n, err) == 0)
        sess = parse_der(der, n, lean, err);
    else
        n = cap; /* partly decoded: wipe all it may hold */
    OPENSSL_cleanse(der, n);
    if (der != stack)
        OPENSSL_free(der);
    return sess;
}

static SSL_SESSION *parse(const uint8_t *data, size_t len, int lean,
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
        return parse_der(data, len, lean, err);
    rc = tlsri_pem_locate(data, len, &body, &body_len, err);
    if (rc == 1)
        return parse_pem(body, body_len, lean, err);
    if (rc < 0)
        return NULL;
    /* No PEM block: report on the bytes as DER. */
    return parse_der(data, len, lean, err);
}

TLSR_EXPORT SSL_SESSION *tlsr_session_parse(const uint8_t *data, size_t len,
                                            struct tlsr_error *err)
{
    return parse(data, len, 0, err);
}

TLSR_EXPORT SSL_SESSION *tlsr_session_parse_lean(const uint8_t *data,
                                                 size_t len,
                                                 struct tlsr_error *err)
{
    return parse(data, len, 1, err);
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
