/*
 * The trust rule: resuming skips the certificate check, so a session may be
 * offered only where it was verified at least as well.  A session carries a
 * record of what verified it (struct tlsr_trust) in its ex_data and in its
 * store entry; the policy of a connection about to resume is read from its
 * SSL (or SSL_CTX plus the name it will check).  Like Go's crypto/tls, the
 * trust anchor that verified the chain must still be trusted by the
 * resuming context; unlike it, the chain is not verified again: the record
 * names the anchor (subject and SHA-256), so a check is one store lookup.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "internal.h"
#include "trust.h"

static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int sess_index = -1;

static void rec_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                     long argl, void *argp)
{
    free(ptr);
}

/* SSL_SESSION_dup, and OpenSSL's own dup of a session when a new ticket
 * arrives, copy ex_data pointers: give each copy its own record. */
static int rec_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
                   void **from_d, int idx, long argl, void *argp)
{
    struct tlsr_trust *copy;

    if (*from_d == NULL)
        return 1;
    copy = malloc(sizeof(*copy));
    if (copy != NULL)
        memcpy(copy, *from_d, sizeof(*copy));
    *from_d = copy;
    return 1;
}

static void init_index(void)
{
    sess_index = SSL_SESSION_get_ex_new_index(0, NULL, NULL, rec_dup,
                                              rec_free);
}

static int get_index(struct tlsr_error *err)
{
    if (!CRYPTO_THREAD_run_once(&index_once, init_index) || sess_index < 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot allocate ex_data");
    return TLSR_OK;
}

static void params_of(X509_VERIFY_PARAM *param, struct tlsr_trust *t)
{
    t->flags = (uint64_t)X509_VERIFY_PARAM_get_flags(param);
    t->depth = X509_VERIFY_PARAM_get_depth(param);
}

/* The name param matches certificates against (host or IP), if any. */
static int host_of(X509_VERIFY_PARAM *param, struct tlsr_trust *t)
{
    const char *h = X509_VERIFY_PARAM_get0_host(param, 0);
    char *ip = NULL;

    if (h == NULL) {
        /* Without an address set, OpenSSL 3.0 queues an error. */
        ERR_set_mark();
        h = ip = X509_VERIFY_PARAM_get1_ip_asc(param);
        ERR_pop_to_mark();
    }
    if (h != NULL && strlen(h) < sizeof(t->host)) {
        strcpy(t->host, h);
        t->check_host = 1;
    }
    OPENSSL_free(ip);
    return h == NULL || t->check_host ? 0 : -1;
}

static int set_anchor(struct tlsr_trust *t, X509 *anchor)
{
    unsigned char *p = t->anchor_subject;
    unsigned int n = 0;
    int len = i2d_X509_NAME(X509_get_subject_name(anchor), NULL);

    if (len <= 0 || (size_t)len > sizeof(t->anchor_subject)
        || i2d_X509_NAME(X509_get_subject_name(anchor), &p) != len
        || X509_digest(anchor, EVP_sha256(), t->anchor, &n) != 1 || n != 32)
        return -1;
    t->anchor_subject_len = (uint32_t)len;
    t->anchor_kind = TLSR_ANCHOR_CERT;
    return 0;
}

TLSR_EXPORT int tlsr_session_get_trust(const SSL_SESSION *sess,
                                       struct tlsr_trust *made,
                                       struct tlsr_error *err)
{
    const struct tlsr_trust *rec;
    int rc;

    tlsri_error_clear(err);
    if (sess == NULL || made == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or record is NULL");
    if ((rc = get_index(err)) != TLSR_OK)
        return rc;
    rec = SSL_SESSION_get_ex_data(sess, sess_index);
    if (rec == NULL)
        return tlsri_error_set(err, TLSR_ENOTFOUND,
                               "session has no trust record");
    memcpy(made, rec, sizeof(*made));
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_session_set1_trust(SSL_SESSION *sess,
                                        const struct tlsr_trust *made,
                                        struct tlsr_error *err)
{
    struct tlsr_trust *rec, *old;
    int rc;

    tlsri_error_clear(err);
    if (sess == NULL || made == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "session or record is NULL");
    if ((rc = get_index(err)) != TLSR_OK)
        return rc;
    if ((rec = malloc(sizeof(*rec))) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    memcpy(rec, made, sizeof(*rec));
    old = SSL_SESSION_get_ex_data(sess, sess_index);
    if (!SSL_SESSION_set_ex_data(sess, sess_index, rec)) {
        free(rec);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set ex_data");
    }
    free(old);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_trust_from_ssl(const SSL *cssl, struct tlsr_trust *made,
                                    struct tlsr_error *err)
{
    SSL *ssl = (SSL *)cssl;     /* OpenSSL 3.0 getters take non-const */
    STACK_OF(X509) *chain;
    SSL_SESSION *sess;

    tlsri_error_clear(err);
    if (ssl == NULL || made == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or record is NULL");
    memset(made, 0, sizeof(*made));
    /* A resumed connection was not verified now: it inherits the record
     * of the session it resumed (none: unverified). */
    if (SSL_session_reused(ssl)) {
        sess = SSL_get_session(ssl);
        if (sess != NULL && tlsr_session_get_trust(sess, made, NULL) == 0)
            return TLSR_OK;
        memset(made, 0, sizeof(*made));
        return TLSR_OK;
    }
    params_of(SSL_get0_param(ssl), made);
    if (host_of(SSL_get0_param(ssl), made) != 0)
        return tlsri_error_set(err, TLSR_EINVAL, "host name too long");
    chain = SSL_get0_verified_chain(ssl);
    /* The result is recorded even under SSL_VERIFY_NONE: OK means the
     * chain (and host name, if set) did verify. */
    if (SSL_get_verify_result(ssl) == X509_V_OK && chain != NULL
        && sk_X509_num(chain) > 0
        && set_anchor(made, sk_X509_value(chain, sk_X509_num(chain) - 1))
               == 0)
        made->verify = 1;
    else
        made->anchor_kind = TLSR_ANCHOR_NONE;
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_trust_policy_ssl(const SSL *cssl,
                                      struct tlsr_trust *policy,
                                      struct tlsr_error *err)
{
    SSL *ssl = (SSL *)cssl;

    tlsri_error_clear(err);
    if (ssl == NULL || policy == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ssl or policy is NULL");
    memset(policy, 0, sizeof(*policy));
    policy->verify = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;
    params_of(SSL_get0_param(ssl), policy);
    if (host_of(SSL_get0_param(ssl), policy) != 0)
        return tlsri_error_set(err, TLSR_EINVAL, "host name too long");
    return TLSR_OK;
}

static int is_ip(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1
           || inet_pton(AF_INET6, host, a) == 1;
}

int tlsri_session_verify_ok(const SSL_SESSION *sess)
{
    struct tlsr_session_info info;

    return tlsr_session_inspect(sess, 0, &info, NULL) == TLSR_OK
           && info.verify_result == X509_V_OK;
}

static int set_host(struct tlsr_trust *t, const char *host,
                    struct tlsr_error *err)
{
    if (host == NULL)
        return TLSR_OK;
    if (host[0] == '\0' || strlen(host) >= sizeof(t->host))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "host name empty or too long");
    strcpy(t->host, host);
    t->check_host = 1;
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_trust_policy_ctx(const SSL_CTX *cctx,
                                      const char *check_host,
                                      struct tlsr_trust *policy,
                                      struct tlsr_error *err)
{
    SSL_CTX *ctx = (SSL_CTX *)cctx;

    tlsri_error_clear(err);
    if (ctx == NULL || policy == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ctx or policy is NULL");
    memset(policy, 0, sizeof(*policy));
    policy->verify = (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0;
    params_of(SSL_CTX_get0_param(ctx), policy);
    return set_host(policy, check_host, err);
}

TLSR_EXPORT int tlsr_trust_from_session(const SSL_SESSION *sess,
                                        const SSL_CTX *cctx,
                                        const char *check_host,
                                        struct tlsr_trust *made,
                                        struct tlsr_error *err)
{
    SSL_CTX *ctx = (SSL_CTX *)cctx;
    X509 *peer;
    X509_STORE_CTX *sc = NULL;
    STACK_OF(X509) *chain;
    int rc;

    tlsri_error_clear(err);
    if (sess == NULL || ctx == NULL || made == NULL)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "session, ctx or record is NULL");
    memset(made, 0, sizeof(*made));
    params_of(SSL_CTX_get0_param(ctx), made);
    if ((rc = set_host(made, check_host, err)) != TLSR_OK)
        return rc;
    if (tlsri_session_verify_ok(sess) != 1
        || (peer = SSL_SESSION_get0_peer((SSL_SESSION *)sess)) == NULL)
        return TLSR_OK;
    if ((sc = X509_STORE_CTX_new()) == NULL
        || !X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), peer, NULL)
        || !X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(sc),
                                   SSL_CTX_get0_param(ctx))
        || !X509_STORE_CTX_set_default(sc, "ssl_server")
        || (made->check_host
            && !(is_ip(made->host)
                     ? X509_VERIFY_PARAM_set1_ip_asc(
                           X509_STORE_CTX_get0_param(sc), made->host)
                     : X509_VERIFY_PARAM_set1_host(
                           X509_STORE_CTX_get0_param(sc), made->host, 0)))) {
        X509_STORE_CTX_free(sc);
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot set up verification");
    }
    if (X509_verify_cert(sc) == 1
        && (chain = X509_STORE_CTX_get0_chain(sc)) != NULL
        && sk_X509_num(chain) > 0
        && set_anchor(made, sk_X509_value(chain, sk_X509_num(chain) - 1)) == 0)
        made->verify = 1;
    else
        made->anchor_kind = TLSR_ANCHOR_NONE;
    X509_STORE_CTX_free(sc);
    ERR_clear_error();      /* a failed build is an answer, not an error */
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_trust_set_label(struct tlsr_trust *trust,
                                     const char *label,
                                     struct tlsr_error *err)
{
    unsigned int n = 0;

    tlsri_error_clear(err);
    if (trust == NULL || label == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "record or label is NULL");
    if (EVP_Digest(label, strlen(label), trust->anchor, &n, EVP_sha256(),
                   NULL) != 1 || n != 32)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot hash label");
    trust->anchor_kind = TLSR_ANCHOR_LABEL;
    trust->anchor_subject_len = 0;
    return TLSR_OK;
}

/* Host names compare without case; addresses by value ("::1" and
 * "0:0:0:0:0:0:0:1" are one address). */
static int same_host(const char *a, const char *b)
{
    unsigned char x[16], y[16];

    if (is_ip(a) || is_ip(b)) {
        int fa = strchr(a, ':') ? AF_INET6 : AF_INET;
        int fb = strchr(b, ':') ? AF_INET6 : AF_INET;

        return fa == fb && inet_pton(fa, a, x) == 1
               && inet_pton(fb, b, y) == 1
               && memcmp(x, y, fa == AF_INET6 ? 16 : 4) == 0;
    }
    return strcasecmp(a, b) == 0;
}

/* 1 if ctx's store holds the certificate made names as its anchor. */
static int anchor_trusted(const SSL_CTX *cctx, const struct tlsr_trust *made)
{
    const unsigned char *p = made->anchor_subject;
    X509_NAME *name;
    X509_STORE_CTX *sc;
    STACK_OF(X509) *certs = NULL;
    unsigned char md[32];
    unsigned int n;
    int i, found = 0;

    if (made->anchor_subject_len == 0 || made->anchor_subject_len
                                             > sizeof(made->anchor_subject))
        return 0;
    name = d2i_X509_NAME(NULL, &p, (long)made->anchor_subject_len);
    sc = X509_STORE_CTX_new();
    /* get1_certs also asks the store's lookups (a hashed directory). */
    if (name != NULL && sc != NULL
        && X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(cctx), NULL, NULL))
        certs = X509_STORE_CTX_get1_certs(sc, name);
    for (i = 0; certs != NULL && i < sk_X509_num(certs) && !found; i++)
        found = X509_digest(sk_X509_value(certs, i), EVP_sha256(), md, &n) == 1
                && n == 32 && CRYPTO_memcmp(md, made->anchor, 32) == 0;
    sk_X509_pop_free(certs, X509_free);
    X509_STORE_CTX_free(sc);
    X509_NAME_free(name);
    ERR_clear_error();
    return found;
}

TLSR_EXPORT int tlsr_trust_check(const struct tlsr_trust *made,
                                 const struct tlsr_trust *policy,
                                 const SSL_CTX *ctx, struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (policy == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "policy is NULL");
    if (!policy->verify)
        return TLSR_OK;     /* nothing verified, nothing to weaken */
    if (made == NULL || !made->verify)
        return tlsri_error_set(err, TLSR_ETRUST,
                               "the session was made without a successful "
                               "certificate check, and this connection "
                               "verifies");
    if (made->flags != policy->flags || made->depth != policy->depth)
        return tlsri_error_set(err, TLSR_ETRUST,
                               "the session was verified with other "
                               "verification flags or depth");
    if (policy->check_host
        && (!made->check_host || !same_host(made->host, policy->host)))
        return tlsri_error_set(err, TLSR_ETRUST,
                               "the session was not checked for the host "
                               "name this connection checks");
    if (policy->anchor_kind == TLSR_ANCHOR_LABEL) {
        if (made->anchor_kind != TLSR_ANCHOR_LABEL
            || CRYPTO_memcmp(made->anchor, policy->anchor, 32) != 0)
            return tlsri_error_set(err, TLSR_ETRUST,
                                   "the session was verified under another "
                                   "trust label");
        return TLSR_OK;
    }
    if (made->anchor_kind != TLSR_ANCHOR_CERT || ctx == NULL
        || !anchor_trusted(ctx, made))
        return tlsri_error_set(err, TLSR_ETRUST,
                               "the trust anchor that verified the session "
                               "is not trusted by this context");
    return TLSR_OK;
}

void tlsri_trust_capture(const SSL *ssl, SSL_SESSION *sess,
                         const struct tlsr_trust *offered)
{
    struct tlsr_trust made;

    /* Inside the application's SSL_read: leave its error queue as is. */
    ERR_set_mark();
    if (tlsr_session_get_trust(sess, &made, NULL) != TLSR_OK) {
        if (offered != NULL && SSL_session_reused((SSL *)ssl))
            tlsr_session_set1_trust(sess, offered, NULL);
        else if (tlsr_trust_from_ssl(ssl, &made, NULL) == TLSR_OK)
            tlsr_session_set1_trust(sess, &made, NULL);
    }
    ERR_pop_to_mark();
}

int tlsri_trust_check_session(const SSL_SESSION *sess,
                              const struct tlsr_trust *policy,
                              const SSL_CTX *ctx, struct tlsr_error *err)
{
    struct tlsr_trust made;

    if (policy == NULL || !policy->verify)
        return TLSR_OK;
    if (tlsr_session_get_trust(sess, &made, NULL) == TLSR_OK)
        return tlsr_trust_check(&made, policy, ctx, err);
    /* No record: bytes the caller restored itself (a file, Node, nginx).
     * Its own verify result must at least say the check passed. */
    if (tlsri_session_verify_ok(sess) == 1)
        return TLSR_OK;
    return tlsri_error_set(err, TLSR_ETRUST,
                           "the session was made without a successful "
                           "certificate check, and this connection "
                           "verifies");
}

/* ---- the record in a store entry's header ---- */

static size_t put_hex(char *out, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    if (n == 0) {
        out[0] = '-';
        return 1;
    }
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    return 2 * n;
}

int tlsri_trust_encode(const struct tlsr_trust *t, char *out, size_t cap)
{
    char subj[2 * sizeof(t->anchor_subject) + 1];
    char host[2 * sizeof(t->host) + 1], anchor[65];
    int n;

    subj[put_hex(subj, t->anchor_subject, t->anchor_subject_len)] = '\0';
    host[put_hex(host, (const uint8_t *)t->host,
                 t->check_host ? strlen(t->host) : 0)] = '\0';
    anchor[put_hex(anchor, t->anchor, 32)] = '\0';
    n = snprintf(out, cap, "trust 1 %d %d %llx %d %d %s %s %s\n",
                 t->verify != 0, t->check_host != 0,
                 (unsigned long long)t->flags, t->depth, t->anchor_kind,
                 anchor, subj, host);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* One space-separated word of [*p, e): [*ws, *we). */
static int word(const char **p, const char *e, const char **ws,
                const char **we)
{
    const char *s = *p, *sp;

    if (s >= e)
        return -1;
    sp = memchr(s, ' ', (size_t)(e - s));
    *ws = s;
    *we = sp != NULL ? sp : e;
    *p = sp != NULL ? sp + 1 : e;
    return *we > *ws ? 0 : -1;
}

static int get_hex(const char *s, const char *e, uint8_t *out, size_t cap,
                   size_t *n)
{
    size_t i, len = (size_t)(e - s);

    if (len == 1 && *s == '-') {
        *n = 0;
        return 0;
    }
    if (len % 2 != 0 || len / 2 > cap)
        return -1;
    for (i = 0; i < len / 2; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);

        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h * 16 + l);
    }
    *n = len / 2;
    return 0;
}

static int get_num(const char *s, const char *e, int base, long long lo,
                   unsigned long long hi, unsigned long long *v)
{
    char buf[24], *end;
    size_t len = (size_t)(e - s);

    if (len == 0 || len >= sizeof(buf) || (*s == '-' && lo >= 0))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (*s == '-') {
        long long x = strtoll(buf, &end, base);

        if (*end != '\0' || x < lo)
            return -1;
        *v = (unsigned long long)x;
        return 0;
    }
    *v = strtoull(buf, &end, base);
    return *end == '\0' && buf[0] != '+' && buf[0] != ' ' && *v <= hi ? 0
                                                                      : -1;
}

/* Parse the value of a "trust" line, [s, e) without the newline. */
int tlsri_trust_decode(const char *s, const char *e, struct tlsr_trust *t)
{
    const char *ws, *we;
    unsigned long long v[6];
    size_t n, i;
    static const struct { int base; long long lo; unsigned long long hi; }
        f[6] = { { 10, 1, 1 }, { 10, 0, 1 }, { 10, 0, 1 },
                 { 16, 0, UINT64_MAX }, { 10, -1, 1000 },
                 { 10, 0, TLSR_ANCHOR_LABEL } };

    memset(t, 0, sizeof(*t));
    for (i = 0; i < 6; i++)
        if (word(&s, e, &ws, &we) != 0
            || get_num(ws, we, f[i].base, f[i].lo, f[i].hi, &v[i]) != 0)
            return -1;
    t->verify = (int)v[1];
    t->check_host = (int)v[2];
    t->flags = (uint64_t)v[3];
    t->depth = (int)(long long)v[4];
    t->anchor_kind = (int)v[5];
    if (word(&s, e, &ws, &we) != 0 || get_hex(ws, we, t->anchor, 32, &n) != 0
        || (n != 32 && n != 0))
        return -1;
    if (word(&s, e, &ws, &we) != 0
        || get_hex(ws, we, t->anchor_subject, sizeof(t->anchor_subject), &n))
        return -1;
    t->anchor_subject_len = (uint32_t)n;
    if (word(&s, e, &ws, &we) != 0 || s != e
        || get_hex(ws, we, (uint8_t *)t->host, sizeof(t->host) - 1, &n) != 0
        || memchr(t->host, '\0', n) != NULL || (n > 0) != (t->check_host != 0))
        return -1;
    t->host[n] = '\0';
    /* A record that claims a verification it cannot name is unverified. */
    if (t->verify && t->anchor_kind == TLSR_ANCHOR_NONE)
        t->verify = 0;
    return 0;
}
