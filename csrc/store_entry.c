/*
 * Entry files.  A text header names the key, then comes the session:
 *
 *   tlsresume-store-entry 1
 *   host example.com
 *   port 443
 *   context h2            (bytes outside '!'..'~' and '%' as %XX)
 *   kind t13
 *   time 1763900000
 *   expires 1763907200
 *   trust 1 ...           (what verified the session: csrc/trust.c)
 *   check <SHA-256 of all other bytes, hex>  (unsealed only)
 *   -----BEGIN SSL SESSION PARAMETERS-----   (unsealed: the PEM block that
 *   ...                                        openssl sess_id reads; it
 *   -----END SSL SESSION PARAMETERS-----       skips the text above)
 *
 * Sealed, the PEM block is replaced by one more header line and binary:
 *   seal aes-256-gcm <key id:16 hex> <nonce:24 hex> <length>
 *   <AES-256-GCM(DER of the session), tag>
 * with every header byte up to that line's newline as the AAD, so host,
 * port and context are authenticated with the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <unistd.h>

#include "store.h"
#include "trust.h"

static const char MAGIC[] = "tlsresume-store-entry 1\n";
static const char PEM_BEGIN[] = "-----BEGIN ";

int64_t tlsri_session_expires(const SSL_SESSION *sess, int64_t max_lifetime)
{
    int64_t t = (int64_t)SSL_SESSION_get_time(sess);
    int64_t life = (int64_t)SSL_SESSION_get_timeout(sess);
    int64_t hint = (int64_t)SSL_SESSION_get_ticket_lifetime_hint(sess);

    if (SSL_SESSION_has_ticket(sess) && hint > 0 && hint < life)
        life = hint;
    if (max_lifetime > 0 && max_lifetime < life)
        life = max_lifetime;
    if (life < 0)
        life = 0;
    /* t comes from the session's DER as any int64: saturate. */
    return t > INT64_MAX - life ? INT64_MAX : t + life;
}

static size_t escape(char *out, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (; *in != '\0'; in++) {
        unsigned char c = (unsigned char)*in;

        if (c > 0x20 && c < 0x7f && c != '%') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return n;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode [s, e) into out (size cap); 0 ok, -1 malformed. */
static int unescape(char *out, size_t cap, const char *s, const char *e)
{
    size_t n = 0;

    while (s < e) {
        int c = (unsigned char)*s;

        if (c == '%') {
            int h, l;

            if (e - s < 3 || (h = unhex(s[1])) < 0 || (l = unhex(s[2])) < 0)
                return -1;
            c = h * 16 + l;
            s += 3;
            if (c == 0)
                return -1;
        } else if (c <= 0x20 || c >= 0x7f) {
            return -1;      /* escape() writes these as %XX: never raw */
        } else {
            s++;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

/*
 * Unsealed entries end their header with "check <SHA-256 hex>\n" over every
 * other byte of the file: whatever damages an entry (a foreign tool, a bad
 * disk) makes it unreadable rather than a different session.
 */
enum { CHECK_LINE = 6 + 64 + 1 };

static int check_line(const uint8_t *head, size_t head_len,
                      const uint8_t *body, size_t body_len, char *line)
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t d[32];
    unsigned int dl = 0;
    int i, ok;

    ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(md, head, head_len) == 1
         && EVP_DigestUpdate(md, body, body_len) == 1
         && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32;
    EVP_MD_CTX_free(md);
    if (!ok)
        return -1;
    memcpy(line, "check ", 6);
    for (i = 0; i < 32; i++) {
        line[6 + 2 * i] = hex[d[i] >> 4];
        line[7 + 2 * i] = hex[d[i] & 15];
    }
    line[CHECK_LINE - 1] = '\n';
    return 0;
}

static int write_header(char *h, size_t cap, const struct tlsri_key *key,
                        int kind, int64_t t, int64_t expires,
                        const SSL_SESSION *sess)
{
    char ehost[3 * 256], ectx[3 * 256];
    struct tlsr_trust made;
    int n, tn;

    /* No record: kept as unverified, offered to non-verifying policies. */
    if (tlsr_session_get_trust(sess, &made, NULL) != TLSR_OK)
        memset(&made, 0, sizeof(made));
    escape(ehost, key->host);
    escape(ectx, key->context);
    n = snprintf(h, cap,
                 "%shost %s\nport %d\ncontext %s\nkind t%d\n"
                 "time %" PRId64 "\nexpires %" PRId64 "\n",
                 MAGIC, ehost, key->port, ectx, kind, t, expires);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    tn = tlsri_trust_encode(&made, h + n, cap - (size_t)n);
    return tn < 0 ? -1 : n + tn;
}

int tlsri_entry_encode(struct tlsr_store *st, const struct tlsri_key *key,
                       SSL_SESSION *sess, int kind, int64_t expires,
                       uint8_t **out, size_t *out_len, struct tlsr_error *err)
{
    char header[4096];
    unsigned int flags = (st->flags & TLSR_STORE_LEAN) ? TLSR_SERIALIZE_LEAN
                                                       : 0;
    int hl, rc;
    size_t blen = 0, total;
    uint8_t *buf = NULL, *body = NULL;

    *out = NULL;
    *out_len = 0;
    hl = write_header(header, sizeof(header), key, kind,
                      (int64_t)SSL_SESSION_get_time(sess), expires, sess);
    if (hl < 0 || (size_t)hl >= sizeof(header))
        return tlsri_error_set(err, TLSR_EINVAL, "entry header too long");
    rc = tlsr_session_serialize(sess, st->sealed ? TLSR_FORMAT_DER
                                                 : TLSR_FORMAT_PEM,
                                flags, NULL, &blen, err);
    if (rc != TLSR_OK)
        return rc;
    if (blen > TLSR_MAX_INPUT)
        return tlsri_error_set(err, TLSR_ETOOBIG,
                               "session encodes to %zu bytes, limit %d",
                               blen, TLSR_MAX_INPUT);
    if (!st->sealed) {
        size_t body_off = (size_t)hl + CHECK_LINE;

        total = body_off + blen;
        if ((buf = OPENSSL_malloc(total)) == NULL)
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        memcpy(buf, header, (size_t)hl);
        rc = tlsr_session_serialize(sess, TLSR_FORMAT_PEM, flags,
                                    buf + body_off, &blen, err);
        if (rc != TLSR_OK || check_line(buf, (size_t)hl, buf + body_off, blen,
                                        (char *)buf + hl) != 0) {
            OPENSSL_clear_free(buf, total);
            return rc != TLSR_OK ? rc : tlsri_error_ssl(err, TLSR_ESSL,
                                                        "cannot hash entry");
        }
        *out = buf;
        *out_len = body_off + blen;
        return TLSR_OK;
    } else {
        uint8_t nonce[TLSRI_SEAL_NONCE_LEN];
        char kid[2 * TLSRI_SEAL_KEYID_LEN + 1], nhex[2 * sizeof(nonce) + 1];
        size_t i, ct_len = blen + TLSRI_SEAL_TAG_LEN, body_cap = blen;
        int sl;

        if (RAND_bytes(nonce, sizeof(nonce)) != 1)
            return tlsri_error_ssl(err, TLSR_ESSL, "no random nonce");
        for (i = 0; i < TLSRI_SEAL_KEYID_LEN; i++)
            snprintf(kid + 2 * i, 3, "%02x", st->key_id[i]);
        for (i = 0; i < sizeof(nonce); i++)
            snprintf(nhex + 2 * i, 3, "%02x", nonce[i]);
        sl = snprintf(header + hl, sizeof(header) - (size_t)hl,
                      "seal aes-256-gcm %s %s %zu\n", kid, nhex, ct_len);
        if (sl < 0 || (size_t)(hl + sl) >= sizeof(header))
            return tlsri_error_set(err, TLSR_EINVAL, "entry header too long");
        hl += sl;
        if ((body = OPENSSL_malloc(body_cap)) == NULL)
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        /* EBUFSIZE would set blen to more than body holds: wipe and free
         * body_cap bytes, never blen. */
        rc = tlsr_session_serialize(sess, TLSR_FORMAT_DER, flags, body,
                                    &blen, err);
        total = (size_t)hl + blen + TLSRI_SEAL_TAG_LEN;
        if (rc == TLSR_OK && (buf = OPENSSL_malloc(total)) == NULL)
            rc = tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        if (rc == TLSR_OK) {
            memcpy(buf, header, (size_t)hl);
            if (tlsri_seal(st->seal_key, nonce, buf, (size_t)hl, body, blen,
                           buf + hl) != 0)
                rc = tlsri_error_ssl(err, TLSR_ESSL, "cannot seal entry");
        }
        OPENSSL_clear_free(body, body_cap);
        if (rc != TLSR_OK) {
            OPENSSL_free(buf);
            return rc;
        }
        *out = buf;
        *out_len = total;
        return TLSR_OK;
    }
}

/* One header line "name value\n" at *p; value is [*vs, *ve). */
static int field(const char **p, const char *end, const char *name,
                 const char **vs, const char **ve)
{
    size_t nl = strlen(name);
    const char *s = *p, *e;

    if ((size_t)(end - s) <= nl || memcmp(s, name, nl) != 0 || s[nl] != ' ')
        return -1;
    s += nl + 1;
    e = memchr(s, '\n', (size_t)(end - s));
    if (e == NULL)
        return -1;
    *vs = s;
    *ve = e;
    *p = e + 1;
    return 0;
}

static int num(const char *s, const char *e, int64_t lo, int64_t hi,
               int64_t *v)
{
    int64_t x = 0;
    int neg = 0;

    if (s < e && *s == '-') {
        neg = 1;
        s++;
    }
    if (s == e || e - s > 18)
        return -1;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        x = x * 10 + (*s - '0');
    }
    if (neg)
        x = -x;
    if (x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static int hexbytes(const char *s, const char *e, uint8_t *out, size_t n)
{
    size_t i;

    if ((size_t)(e - s) != 2 * n)
        return -1;
    for (i = 0; i < n; i++) {
        int h = unhex(s[2 * i]), l = unhex(s[2 * i + 1]);

        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h * 16 + l);
    }
    return 0;
}

static int corrupt(struct tlsr_error *err, const char *what)
{
    return tlsri_error_set(err, TLSR_ECORRUPT, "store entry unreadable: %s",
                           what);
}

static int decode_sealed(struct tlsr_store *st, const uint8_t *buf,
                         const char *p, const char *end, SSL_SESSION **sess,
                         struct tlsr_error *err)
{
    uint8_t kid[TLSRI_SEAL_KEYID_LEN], nonce[TLSRI_SEAL_NONCE_LEN], *pt;
    const char *vs, *ve, *sp1, *sp2;
    int64_t ct_len;
    size_t aad_len, pt_len;
    struct tlsr_error perr;

    if (field(&p, end, "seal", &vs, &ve) != 0
        || (size_t)(ve - vs) < 12 || memcmp(vs, "aes-256-gcm ", 12) != 0)
        return corrupt(err, "bad seal line");
    vs += 12;
    sp1 = memchr(vs, ' ', (size_t)(ve - vs));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(ve - sp1 - 1)) : NULL;
    if (sp2 == NULL || hexbytes(vs, sp1, kid, sizeof(kid)) != 0
        || hexbytes(sp1 + 1, sp2, nonce, sizeof(nonce)) != 0
        || num(sp2 + 1, ve, TLSRI_SEAL_TAG_LEN + 1,
               TLSR_MAX_INPUT + TLSRI_SEAL_TAG_LEN, &ct_len) != 0)
        return corrupt(err, "bad seal line");
    aad_len = (size_t)(p - (const char *)buf);
    if ((size_t)(end - p) != (size_t)ct_len)
        return corrupt(err, "sealed data truncated or extended");
    if (!st->sealed)
        return tlsri_error_set(err, TLSR_ESEAL,
                               "entry is sealed and the store has no key");
    if (CRYPTO_memcmp(kid, st->key_id, sizeof(kid)) != 0)
        return tlsri_error_set(err, TLSR_ESEAL,
                               "entry is sealed under another key");
    pt_len = (size_t)ct_len - TLSRI_SEAL_TAG_LEN;
    if ((pt = OPENSSL_malloc(pt_len)) == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    if (tlsri_unseal(st->seal_key, nonce, buf, aad_len, (const uint8_t *)p,
                     (size_t)ct_len, pt) != 0) {
        OPENSSL_free(pt);
        return tlsri_error_set(err, TLSR_ESEAL,
                               "sealed entry does not authenticate "
                               "(tampered, or another key)");
    }
    *sess = (st->flags & TLSR_STORE_RESTORE_LEAN)
                ? tlsr_session_parse_lean(pt, pt_len, &perr)
                : tlsr_session_parse(pt, pt_len, &perr);
    OPENSSL_clear_free(pt, pt_len);
    if (*sess == NULL)
        return tlsri_error_set(err, TLSR_ECORRUPT,
                               "sealed entry holds no session: %s", perr.msg);
    return TLSR_OK;
}

int tlsri_entry_decode(struct tlsr_store *st, const uint8_t *buf, size_t len,
                       struct tlsri_entry_meta *meta, SSL_SESSION **sess,
                       struct tlsr_error *err)
{
    const char *p = (const char *)buf, *end = p + len, *vs, *ve;
    int64_t v;
    struct tlsr_error perr;

    *sess = NULL;
    memset(meta, 0, sizeof(*meta));
    if (len < sizeof(MAGIC) - 1 || memcmp(p, MAGIC, sizeof(MAGIC) - 1) != 0)
        return corrupt(err, "not a tlsresume store entry");
    p += sizeof(MAGIC) - 1;
    if (field(&p, end, "host", &vs, &ve) != 0 || vs == ve
        || unescape(meta->host, sizeof(meta->host), vs, ve) != 0)
        return corrupt(err, "bad host line");
    if (field(&p, end, "port", &vs, &ve) != 0 || num(vs, ve, 0, 65535, &v))
        return corrupt(err, "bad port line");
    meta->port = (int)v;
    if (field(&p, end, "context", &vs, &ve) != 0
        || unescape(meta->context, sizeof(meta->context), vs, ve) != 0)
        return corrupt(err, "bad context line");
    if (field(&p, end, "kind", &vs, &ve) != 0 || ve - vs != 3
        || (memcmp(vs, "t12", 3) != 0 && memcmp(vs, "t13", 3) != 0))
        return corrupt(err, "bad kind line");
    meta->kind = vs[2] == '3' ? TLSRI_KIND_T13 : TLSRI_KIND_T12;
    if (field(&p, end, "time", &vs, &ve) != 0
        || num(vs, ve, INT64_MIN / 2, INT64_MAX / 2, &meta->time) != 0)
        return corrupt(err, "bad time line");
    if (field(&p, end, "expires", &vs, &ve) != 0
        || num(vs, ve, INT64_MIN / 2, INT64_MAX / 2, &meta->expires) != 0)
        return corrupt(err, "bad expires line");
    /* Entries written before trust records had none: unverified. */
    if ((size_t)(end - p) >= 6 && memcmp(p, "trust ", 6) == 0) {
        if (field(&p, end, "trust", &vs, &ve) != 0
            || tlsri_trust_decode(vs, ve, &meta->trust) != 0)
            return corrupt(err, "bad trust line");
    }
    if ((size_t)(end - p) >= 5 && memcmp(p, "seal ", 5) == 0) {
        meta->sealed = 1;
        return decode_sealed(st, buf, p, end, sess, err);
    }
    {
        char want[CHECK_LINE];
        const char *body = p + CHECK_LINE;

        if ((size_t)(end - p) < CHECK_LINE + sizeof(PEM_BEGIN) - 1
            || memcmp(p, "check ", 6) != 0
            || memcmp(body, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0)
            return corrupt(err, "no checked session after the header");
        if (check_line(buf, (size_t)(p - (const char *)buf),
                       (const uint8_t *)body, (size_t)(end - body), want) != 0)
            return tlsri_error_ssl(err, TLSR_ESSL, "cannot hash entry");
        if (CRYPTO_memcmp(want, p, CHECK_LINE) != 0)
            return corrupt(err, "checksum mismatch (damaged file)");
        p = body;
    }
    if (st->sealed)
        return tlsri_error_set(err, TLSR_ESEAL,
                               "entry is not sealed in a sealed store");
    *sess = (st->flags & TLSR_STORE_RESTORE_LEAN)
        ? tlsr_session_parse_lean((const uint8_t *)p, (size_t)(end - p), &perr)
        : tlsr_session_parse((const uint8_t *)p, (size_t)(end - p), &perr);
    if (*sess == NULL)
        return tlsri_error_set(err, TLSR_ECORRUPT,
                               "store entry holds no session: %s", perr.msg);
    return TLSR_OK;
}

int tlsri_read_file(int dfd, const char *name, uint8_t **buf, size_t *len,
                    struct stat *sb, struct tlsr_error *err)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t got = 0, size;
    uint8_t *b;
    ssize_t r;

    *buf = NULL;
    *len = 0;
    if (fd < 0) {
        if (errno == ENOENT)
            return tlsri_error_set(err, TLSR_ENOTFOUND, "entry vanished");
        return tlsri_error_set(err, TLSR_EIO, "cannot open store entry: %s",
                               strerror(errno));
    }
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)
        || sb->st_size <= 0 || sb->st_size > TLSRI_ENTRY_MAX) {
        close(fd);
        return corrupt(err, "not a regular file of a sensible size");
    }
    size = (size_t)sb->st_size;
    if ((b = OPENSSL_malloc(size)) == NULL) {
        close(fd);
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    }
    while (got < size) {
        r = read(fd, b + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        OPENSSL_clear_free(b, size);
        return corrupt(err, "short read");
    }
    *buf = b;
    *len = size;
    return TLSR_OK;
}
