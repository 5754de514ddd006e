/*
 * Inspect a session: everything OpenSSL's getters report, plus the fields
 * only its DER carries (verify result, extended-master-secret flag,
 * ticket_age_add), read by walking an i2d copy on the stack.
 */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "der.h"
#include "internal.h"
#include "peer.h"

enum { STACK_BUF = 4096 };

/* ssl_local.h: SSL_SESS_FLAG_EXTMS, session field [13] "flags". */
#define SESS_FLAG_EXTMS 0x1

static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (src == NULL)
        n = 0;
    if (n > cap - 1)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *protocol_name(int v)
{
    switch (v) {
    case SSL3_VERSION: return "SSLv3";
    case TLS1_VERSION: return "TLSv1";
    case TLS1_1_VERSION: return "TLSv1.1";
    case TLS1_2_VERSION: return "TLSv1.2";
    case TLS1_3_VERSION: return "TLSv1.3";
    case DTLS1_VERSION: return "DTLSv1";
    case DTLS1_2_VERSION: return "DTLSv1.2";
    case DTLS1_BAD_VER: return "DTLSv0.9";
    default: return "unknown";
    }
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1,
                           tm.tm_mday) * 86400
           + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return 0;
}

/* a + b, clamped to the int64 range. */
static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* a - b, clamped likewise (now may be any caller's int64). */
static int64_t sat_sub(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    return a - b;
}

/* X509_NAME_print_ex (RFC 2253) into a bounded buffer. */
static int name_rfc2253(const X509_NAME *name, char *out, size_t cap)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    out[0] = '\0';
    if (bio == NULL)
        return -1;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
        BIO_free(bio);
        return -1;
    }
    n = BIO_get_mem_data(bio, &data);
    copy_str(out, cap, data, n > 0 ? (size_t)n : 0);
    BIO_free(bio);
    return 0;
}

static int inspect_peer(X509 *peer, struct tlsr_session_info *info,
                        struct tlsr_error *err)
{
    unsigned int mdlen = 0;

    info->has_peer = 1;
    if (name_rfc2253(X509_get_subject_name(peer), info->peer_subject,
                     sizeof(info->peer_subject)) != 0
        || name_rfc2253(X509_get_issuer_name(peer), info->peer_issuer,
                        sizeof(info->peer_issuer)) != 0)
        return tlsri_error_ssl(err, TLSR_ESSL,
                               "cannot print peer certificate names");
    /* d2i accepts a certificate whose notAfter is no valid time (found by
     * fuzz_parse): report 0 rather than fail on a session we restored. */
    if (asn1_time_unix(X509_get0_notAfter(peer), &info->peer_not_after) != 0) {
        info->peer_not_after = 0;
        tlsri_error_ssl(NULL, TLSR_OK, "");
    }
    if (X509_digest(peer, EVP_sha256(), info->peer_sha256, &mdlen) != 1
        || mdlen != sizeof(info->peer_sha256))
        return tlsri_error_ssl(err, TLSR_ESSL,
                               "cannot hash peer certificate");
    return TLSR_OK;
}

/* Fields with no getter, from the session's own DER (ssl_asn1.c). */
static int inspect_der(const SSL_SESSION *sess, struct tlsr_session_info *info,
                       struct tlsr_error *err)
{
    uint8_t stack[STACK_BUF], *der = stack, *p;
    struct tlsri_der_tlv outer, el, inner;
    struct tlsri_der_iter it;
    int n = i2d_SSL_SESSION(sess, NULL), rc = TLSR_OK;
    int64_t v;

    /* A session without a cipher (fresh SSL_SESSION_new) has no encoding
     * and no DER-only fields: they keep their defaults. */
    if (n <= 0 && SSL_SESSION_get0_cipher(sess) == NULL)
        return TLSR_OK;
    if (n <= 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot encode session");
    if ((size_t)n > sizeof(stack) && (der = OPENSSL_malloc((size_t)n)) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    p = der;
    if (i2d_SSL_SESSION(sess, &p) != n
        || tlsri_der_header(der, (size_t)n, &outer) != TLSRI_DER_OK) {
        rc = tlsri_error_ssl(err, TLSR_ESSL, "cannot encode session");
        goto end;
    }
    tlsri_der_iter_init(&it, outer.val, outer.len);
    while (tlsri_der_next(&it, &el) == 1) {
        if ((el.tag & 0xE0) != 0xA0) /* only explicit [n] fields here */
            continue;
        if (tlsri_der_unwrap(&el, TLSRI_DER_INTEGER, &inner) != 0
            || tlsri_der_int64(&inner, &v) != 0)
            continue;
        switch (el.tag & 0x1F) {
        case 5:
            info->verify_result = v;
            break;
        case 13:
            info->extended_master_secret = (v & SESS_FLAG_EXTMS) != 0;
            break;
        case 14:
            info->ticket_age_add = (uint32_t)v;
            info->has_ticket_age_add = 1;
            break;
        default:
            break;
        }
    }
end:
    OPENSSL_cleanse(der, (size_t)n);
    if (der != stack)
        OPENSSL_free(der);
    return rc;
}

TLSR_EXPORT int tlsr_session_inspect(const SSL_SESSION *sess, int64_t now,
                                     struct tlsr_session_info *info,
                                     struct tlsr_error *err)
{
    const SSL_CIPHER *cipher;
    const unsigned char *p;
    const char *s;
    unsigned int n;
    size_t sn;
    unsigned long hint;
    int64_t life;
    X509 *peer, *owned = NULL;
    int rc;

    if (sess == NULL || info == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or info is NULL");
    memset(info, 0, sizeof(*info));

    info->protocol_version = SSL_SESSION_get_protocol_version(sess);
    copy_str(info->protocol_name, sizeof(info->protocol_name),
             protocol_name(info->protocol_version),
             strlen(protocol_name(info->protocol_version)));
    cipher = SSL_SESSION_get0_cipher(sess);
    if (cipher != NULL) {
        info->cipher_id = SSL_CIPHER_get_protocol_id(cipher);
        s = SSL_CIPHER_get_name(cipher);
        copy_str(info->cipher_name, sizeof(info->cipher_name), s,
                 s != NULL ? strlen(s) : 0);
        s = SSL_CIPHER_standard_name(cipher);
        copy_str(info->cipher_rfc_name, sizeof(info->cipher_rfc_name), s,
                 s != NULL ? strlen(s) : 0);
    }

    p = SSL_SESSION_get_id(sess, &n);
    if (n > sizeof(info->session_id))
        n = sizeof(info->session_id);
    memcpy(info->session_id, p, n);
    info->session_id_len = n;
    p = SSL_SESSION_get0_id_context(sess, &n);
    if (n > sizeof(info->sid_ctx))
        n = sizeof(info->sid_ctx);
    memcpy(info->sid_ctx, p, n);
    info->sid_ctx_len = n;

    info->resumable = SSL_SESSION_is_resumable(sess);
    info->has_ticket = SSL_SESSION_has_ticket(sess);
    p = NULL;
    sn = 0;
    SSL_SESSION_get0_ticket(sess, &p, &sn);
    info->ticket_len = p != NULL ? (uint32_t)sn : 0;
    hint = SSL_SESSION_get_ticket_lifetime_hint(sess);
    info->ticket_lifetime_hint = hint > UINT32_MAX ? UINT32_MAX
                                                   : (uint32_t)hint;

    info->time = SSL_SESSION_get_time(sess);
    info->timeout = SSL_SESSION_get_timeout(sess);
    /* When the session stops being usable: the server's ticket lifetime
     * hint when it is shorter than OpenSSL's timeout (the store's rule,
     * tlsri_session_expires, without its max_lifetime).  time and timeout
     * come from the DER as any int64: saturate, never overflow. */
    life = info->timeout;
    if (info->has_ticket && info->ticket_lifetime_hint > 0
        && (int64_t)info->ticket_lifetime_hint < life)
        life = info->ticket_lifetime_hint;
    info->expires = sat_add(info->time, life);
    if (now == 0)
        now = (int64_t)time(NULL);
    info->remaining = info->expires > now ? sat_sub(info->expires, now) : 0;
    info->max_early_data = SSL_SESSION_get_max_early_data(sess);

    p = NULL;
    sn = 0;
    SSL_SESSION_get0_alpn_selected(sess, &p, &sn);
    copy_str(info->alpn, sizeof(info->alpn), (const char *)p, sn);
    s = SSL_SESSION_get0_hostname(sess);
    copy_str(info->sni, sizeof(info->sni), s, s != NULL ? strlen(s) : 0);

    /* A getter that does not modify the session, despite its prototype. */
    peer = SSL_SESSION_get0_peer((SSL_SESSION *)sess);
    if (peer == NULL && (p = tlsri_peer_kept(sess, &sn)) != NULL)
        peer = owned = d2i_X509(NULL, &p, (long)sn);  /* a lean restore */
    rc = peer != NULL ? inspect_peer(peer, info, err) : TLSR_OK;
    X509_free(owned);
    info->master_key_len = (uint32_t)SSL_SESSION_get_master_key(sess, NULL, 0);
    if (rc == TLSR_OK)
        rc = inspect_der(sess, info, err);
    if (rc != TLSR_OK)
        memset(info, 0, sizeof(*info)); /* no half-filled report */
    return rc;
}
