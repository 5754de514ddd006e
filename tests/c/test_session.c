/*
 * Sessions: DER/PEM serialization (byte-compatible with `openssl sess_id`),
 * lean sessions, parse errors, resumption of restored sessions, session-id
 * context normalization, ticket and secret accessors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

/* A real session from an in-memory handshake, with the contexts that made
 * it (to resume against the same server). */
struct fixture {
    SSL_CTX *server, *client;
    SSL_SESSION *sess;
};

static int fixture_make(struct fixture *f, int key_type, int version)
{
    int reused = -1;

    f->server = tp_server_ctx(key_type, version);
    f->client = tp_client_ctx(version);
    f->sess = NULL;
    if (f->server != NULL && f->client != NULL)
        f->sess = tp_connect(f->server, f->client, NULL, &reused);
    return f->sess != NULL && reused == 0;
}

static void fixture_free(struct fixture *f)
{
    SSL_SESSION_free(f->sess);
    SSL_CTX_free(f->server);
    SSL_CTX_free(f->client);
}

static const struct combo {
    int key_type, version;
    const char *name;
} combos[] = {
    { TP_RSA, TLS1_2_VERSION, "RSA TLS1.2" },
    { TP_EC, TLS1_2_VERSION, "EC TLS1.2" },
    { TP_RSA, TLS1_3_VERSION, "RSA TLS1.3" },
    { TP_EC, TLS1_3_VERSION, "EC TLS1.3" },
};
#define NCOMBOS (sizeof(combos) / sizeof(combos[0]))

/* Serialize into a fresh heap buffer (ask size, then fill). */
static uint8_t *serialize(const SSL_SESSION *s, int format, unsigned flags,
                          size_t *len)
{
    struct tlsr_error err;
    uint8_t *buf;

    if (tlsr_session_serialize(s, format, flags, NULL, len, &err) != 0)
        return NULL;
    buf = malloc(*len);
    if (buf != NULL
        && tlsr_session_serialize(s, format, flags, buf, len, &err) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- the openssl CLI and temp files --------------------------------------- */

struct tmpdir {
    char path[64];
};

static int tmpdir_make(struct tmpdir *t)
{
    strcpy(t->path, "/tmp/tlsr-test-session-XXXXXX");
    return mkdtemp(t->path) != NULL;
}

static void tmpdir_file(const struct tmpdir *t, const char *name, char *out,
                        size_t cap)
{
    snprintf(out, cap, "%s/%s", t->path, name);
}

static void tmpdir_remove(struct tmpdir *t)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", t->path);
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL)
        return 0;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Run a shell command, capture its stdout; 1 if it exited 0. */
static int run(const char *cmd, uint8_t *out, size_t cap, size_t *len)
{
    FILE *p = popen(cmd, "r");
    size_t n = 0, r;

    if (p == NULL)
        return 0;
    while (n < cap && (r = fread(out + n, 1, cap - n, p)) > 0)
        n += r;
    *len = n;
    return pclose(p) == 0;
}

/* ---- round trips and byte identity ----------------------------------------- */

static void der_and_pem_round_trips_are_byte_identical(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_error err;
        int format;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        for (format = TLSR_FORMAT_DER; format <= TLSR_FORMAT_PEM; format++) {
            size_t n1, n2;
            uint8_t *a = serialize(f.sess, format, 0, &n1), *b;
            SSL_SESSION *back = tlsr_session_parse(a, n1, &err);

            CHECK(a != NULL);
            CHECK(back != NULL);
            b = serialize(back, format, 0, &n2);
            CHECK(b != NULL);
            CHECK_EQ_INT(n1, n2);
            CHECK(memcmp(a, b, n1) == 0);
            CHECK(SSL_SESSION_get_protocol_version(back)
                  == combos[i].version);
            CHECK(SSL_SESSION_get0_peer(back) != NULL);
            free(a);
            free(b);
            tlsr_session_free(back);
        }
        fixture_free(&f);
    }
}

static void der_is_exactly_i2d_ssl_session(void)
{
    struct fixture f;
    size_t n;
    uint8_t *ours, *theirs = NULL;
    int len;

    CHECK(fixture_make(&f, TP_EC, TLS1_3_VERSION));
    ours = serialize(f.sess, TLSR_FORMAT_DER, 0, &n);
    len = i2d_SSL_SESSION(f.sess, &theirs);
    CHECK(ours != NULL && len > 0);
    CHECK_EQ_INT(n, len);
    CHECK(memcmp(ours, theirs, n) == 0);
    free(ours);
    OPENSSL_free(theirs);
    fixture_free(&f);
}

static void pem_is_byte_identical_to_openssl_sess_id(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tmpdir t;
        char der_path[128], pem_path[128], cmd[512];
        static uint8_t out[16384];
        size_t dn, pn, on;
        uint8_t *der, *pem;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        der = serialize(f.sess, TLSR_FORMAT_DER, 0, &dn);
        pem = serialize(f.sess, TLSR_FORMAT_PEM, 0, &pn);
        CHECK(der != NULL && pem != NULL);
        CHECK(tmpdir_make(&t));
        tmpdir_file(&t, "s.der", der_path, sizeof(der_path));
        tmpdir_file(&t, "s.pem", pem_path, sizeof(pem_path));
        CHECK(write_file(der_path, der, dn) && write_file(pem_path, pem, pn));

        /* The CLI's PEM of our DER is our PEM. */
        snprintf(cmd, sizeof(cmd),
                 "openssl sess_id -inform DER -in '%s' -outform PEM",
                 der_path);
        CHECK(run(cmd, out, sizeof(out), &on));
        CHECK_EQ_INT(on, pn);
        CHECK(memcmp(out, pem, pn) == 0);
        /* The CLI reads our PEM and writes it back unchanged. */
        snprintf(cmd, sizeof(cmd), "openssl sess_id -in '%s' -outform PEM",
                 pem_path);
        CHECK(run(cmd, out, sizeof(out), &on));
        CHECK_EQ_INT(on, pn);
        CHECK(memcmp(out, pem, pn) == 0);
        /* ... and its DER of our PEM is our DER. */
        snprintf(cmd, sizeof(cmd), "openssl sess_id -in '%s' -outform DER",
                 pem_path);
        CHECK(run(cmd, out, sizeof(out), &on));
        CHECK_EQ_INT(on, dn);
        CHECK(memcmp(out, der, dn) == 0);
        tmpdir_remove(&t);
        free(der);
        free(pem);
        fixture_free(&f);
    }
}

static void pem_layout_is_64_column_lines(void)
{
    struct fixture f;
    size_t n, i, col = 0;
    uint8_t *pem;
    const char *begin = "-----BEGIN SSL SESSION PARAMETERS-----\n";
    const char *end = "-----END SSL SESSION PARAMETERS-----\n";

    CHECK(fixture_make(&f, TP_RSA, TLS1_2_VERSION));
    pem = serialize(f.sess, TLSR_FORMAT_PEM, 0, &n);
    CHECK(pem != NULL);
    CHECK(memcmp(pem, begin, strlen(begin)) == 0);
    CHECK(memcmp(pem + n - strlen(end), end, strlen(end)) == 0);
    for (i = strlen(begin); i < n - strlen(end); i++) {
        if (pem[i] == '\n') {
            CHECK(col > 0 && col <= 64);
            col = 0;
        } else {
            col++;
        }
    }
    free(pem);
    fixture_free(&f);
}

/* ---- ask-size-then-fill ------------------------------------------------- */

static void serialize_asks_size_then_fills(void)
{
    struct fixture f;
    struct tlsr_error err;
    int format;
    unsigned flags;

    CHECK(fixture_make(&f, TP_EC, TLS1_2_VERSION));
    for (format = TLSR_FORMAT_DER; format <= TLSR_FORMAT_PEM; format++) {
        for (flags = 0; flags <= TLSR_SERIALIZE_LEAN; flags++) {
            size_t need = 0, small, len;
            uint8_t *buf;

            CHECK_CODE(tlsr_session_serialize(f.sess, format, flags, NULL,
                                              &need, &err), 0, &err);
            CHECK(need > 0);
            buf = malloc(need);
            CHECK(buf != NULL);
            small = need - 1;
            CHECK_CODE(tlsr_session_serialize(f.sess, format, flags, buf,
                                              &small, &err),
                       TLSR_EBUFSIZE, &err);
            CHECK_EQ_INT(small, need);
            CHECK_EQ_INT(err.code, TLSR_EBUFSIZE);
            CHECK(err.msg[0] != '\0');
            len = need;
            CHECK_CODE(tlsr_session_serialize(f.sess, format, flags, buf,
                                              &len, &err), 0, &err);
            CHECK_EQ_INT(len, need);
            free(buf);
        }
    }
    fixture_free(&f);
}

static void serialize_rejects_misuse(void)
{
    struct fixture f;
    struct tlsr_error err;
    size_t len = 0;

    CHECK(fixture_make(&f, TP_EC, TLS1_2_VERSION));
    CHECK_CODE(tlsr_session_serialize(NULL, TLSR_FORMAT_DER, 0, NULL, &len,
                                      &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_session_serialize(f.sess, TLSR_FORMAT_DER, 0, NULL,
                                      NULL, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_session_serialize(f.sess, 7, 0, NULL, &len, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_session_serialize(f.sess, TLSR_FORMAT_DER, 0x80, NULL,
                                      &len, &err), TLSR_EINVAL, &err);
    /* err may be NULL. */
    CHECK_EQ_INT(tlsr_session_serialize(NULL, 0, 0, NULL, &len, NULL),
                 TLSR_EINVAL);
    fixture_free(&f);
}

/* ---- lean sessions -------------------------------------------------------- */

static void lean_session_drops_peer_certificate_and_still_resumes(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_error err;
        struct tlsr_session_info info;
        size_t fn, ln;
        uint8_t *full, *lean;
        SSL_SESSION *back, *next;
        int reused = -1;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        full = serialize(f.sess, TLSR_FORMAT_DER, 0, &fn);
        lean = serialize(f.sess, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN, &ln);
        CHECK(full != NULL && lean != NULL);
        /* a certificate is hundreds of bytes */
        if (!(ln + 200 < fn))
            fprintf(stderr, "  %s: lean %zu, full %zu\n", combos[i].name,
                    ln, fn);
        CHECK(ln + 200 < fn);
        back = tlsr_session_parse(lean, ln, &err);
        CHECK(back != NULL);
        CHECK(SSL_SESSION_get0_peer(back) == NULL);
        CHECK_CODE(tlsr_session_inspect(back, 0, &info, &err), 0, &err);
        CHECK_EQ_INT(info.has_peer, 0);
        next = tp_connect(f.server, f.client, back, &reused);
        CHECK(next != NULL);
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(next);
        /* Lean of a session that has no certificate changes nothing. */
        {
            size_t n2;
            uint8_t *again = serialize(back, TLSR_FORMAT_DER,
                                       TLSR_SERIALIZE_LEAN, &n2);

            CHECK(again != NULL);
            CHECK_EQ_INT(n2, ln);
            CHECK(memcmp(again, lean, ln) == 0);
            free(again);
        }
        tlsr_session_free(back);
        free(full);
        free(lean);
        fixture_free(&f);
    }
}

/*
 * Guards strip_peer's header rewrite: without a ticket a lean TLS 1.2
 * session is under 256 bytes, so the outer length shrinks from the
 * 0x82 form to the 0x81 form and everything moves one byte left.
 */
static void lean_session_with_shorter_length_field_resumes(void)
{
    struct fixture f;
    struct tlsr_error err;
    size_t fn, ln;
    uint8_t *full, *lean;
    SSL_SESSION *back, *next;
    int reused = -1;

    f.server = tp_server_ctx(TP_RSA, TLS1_2_VERSION);
    f.client = tp_client_ctx(TLS1_2_VERSION);
    CHECK(f.server != NULL && f.client != NULL);
    SSL_CTX_set_options(f.server, SSL_OP_NO_TICKET); /* session-id cache */
    f.sess = tp_connect(f.server, f.client, NULL, &reused);
    CHECK(f.sess != NULL);
    full = serialize(f.sess, TLSR_FORMAT_DER, 0, &fn);
    lean = serialize(f.sess, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN, &ln);
    CHECK(full != NULL && lean != NULL);
    CHECK(full[1] == 0x82);
    CHECK(lean[1] == 0x81);
    CHECK_EQ_INT(lean[2] + 3, ln);
    back = tlsr_session_parse(lean, ln, &err);
    CHECK(back != NULL);
    CHECK(SSL_SESSION_get0_peer(back) == NULL);
    next = tp_connect(f.server, f.client, back, &reused);
    CHECK(next != NULL);
    CHECK_EQ_INT(reused, 1);
    SSL_SESSION_free(next);
    tlsr_session_free(back);
    free(full);
    free(lean);
    fixture_free(&f);
}

static void lean_pem_is_accepted_by_openssl_sess_id(void)
{
    struct fixture f;
    struct tmpdir t;
    char path[128], cmd[256];
    static uint8_t out[16384];
    size_t n, on;
    uint8_t *pem;

    CHECK(fixture_make(&f, TP_RSA, TLS1_2_VERSION));
    pem = serialize(f.sess, TLSR_FORMAT_PEM, TLSR_SERIALIZE_LEAN, &n);
    CHECK(pem != NULL);
    CHECK(tmpdir_make(&t));
    tmpdir_file(&t, "lean.pem", path, sizeof(path));
    CHECK(write_file(path, pem, n));
    snprintf(cmd, sizeof(cmd), "openssl sess_id -in '%s' -outform PEM", path);
    CHECK(run(cmd, out, sizeof(out), &on));
    CHECK_EQ_INT(on, n);
    CHECK(memcmp(out, pem, n) == 0);
    tmpdir_remove(&t);
    free(pem);
    fixture_free(&f);
}

/* ---- restored sessions resume -------------------------------------------- */

static void restored_session_resumes(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_error err;
        int format;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        for (format = TLSR_FORMAT_DER; format <= TLSR_FORMAT_PEM; format++) {
            size_t n;
            uint8_t *enc = serialize(f.sess, format, 0, &n);
            SSL_SESSION *back = tlsr_session_parse(enc, n, &err), *next;
            int reused = -1;

            CHECK(back != NULL);
            next = tp_connect(f.server, f.client, back, &reused);
            CHECK(next != NULL);
            CHECK_EQ_INT(reused, 1);
            SSL_SESSION_free(next);
            tlsr_session_free(back);
            free(enc);
        }
        fixture_free(&f);
    }
}

/* ---- parse errors ---------------------------------------------------------- */

/* Parse must fail with exactly code, a message, and an empty error queue. */
static int parse_fails(const uint8_t *data, size_t len, int code,
                       const char *msg_part)
{
    struct tlsr_error err;
    SSL_SESSION *s;

    memset(&err, 0, sizeof(err));
    s = tlsr_session_parse(data, len, &err);
    if (s != NULL) {
        fprintf(stderr, "  parse succeeded, expected %s\n",
                tlsr_error_name(code));
        tlsr_session_free(s);
        return 0;
    }
    if (err.code != code || err.msg[0] == '\0') {
        fprintf(stderr, "  parse gave %s (%s), expected %s\n",
                tlsr_error_name(err.code), err.msg, tlsr_error_name(code));
        return 0;
    }
    if (msg_part != NULL && strstr(err.msg, msg_part) == NULL) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, msg_part);
        return 0;
    }
    if (ERR_peek_error() != 0) {
        fprintf(stderr, "  OpenSSL error queue not empty after %s\n",
                tlsr_error_name(code));
        ERR_clear_error();
        return 0;
    }
    /* err may be NULL. */
    s = tlsr_session_parse(data, len, NULL);
    if (s != NULL) {
        tlsr_session_free(s);
        return 0;
    }
    return ERR_peek_error() == 0;
}

static void parse_rejects_bad_arguments_and_sizes(void)
{
    static uint8_t big[TLSR_MAX_INPUT + 1];
    const uint8_t one = 0x30;

    CHECK(parse_fails(&one, 0, TLSR_EEMPTY, NULL));
    CHECK(parse_fails(NULL, 0, TLSR_EEMPTY, NULL));
    CHECK(parse_fails(NULL, 5, TLSR_EINVAL, NULL));
    big[0] = 0x30;
    CHECK(parse_fails(big, sizeof(big), TLSR_ETOOBIG, NULL));
}

static void parse_reports_truncated_and_trailing_der(void)
{
    struct fixture f;
    size_t n;
    uint8_t *der, *longer;

    CHECK(fixture_make(&f, TP_RSA, TLS1_3_VERSION));
    der = serialize(f.sess, TLSR_FORMAT_DER, 0, &n);
    CHECK(der != NULL);
    CHECK(parse_fails(der, n - 1, TLSR_ETRUNCATED, NULL));
    CHECK(parse_fails(der, n / 2, TLSR_ETRUNCATED, NULL));
    CHECK(parse_fails(der, 1, TLSR_ETRUNCATED, NULL));
    CHECK(parse_fails(der, 3, TLSR_ETRUNCATED, NULL));
    longer = malloc(n + 2);
    CHECK(longer != NULL);
    memcpy(longer, der, n);
    longer[n] = 0;
    longer[n + 1] = 0;
    CHECK(parse_fails(longer, n + 1, TLSR_ETRAILING, NULL));
    CHECK(parse_fails(longer, n + 2, TLSR_ETRAILING, NULL));
    free(longer);
    free(der);
    fixture_free(&f);
}

/* Guards der.c's header reader on lengths DER does not allow. */
static void parse_rejects_ber_indefinite_and_oversized_lengths(void)
{
    const uint8_t indefinite[] = { 0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00 };
    const uint8_t five_len_bytes[] = { 0x30, 0x85, 0, 0, 0, 0, 3, 1, 2, 3 };
    const uint8_t cut_len[] = { 0x30, 0x82, 0x01 };
    const uint8_t huge[] = { 0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF, 0x02 };

    CHECK(parse_fails(indefinite, sizeof(indefinite), TLSR_ENOTSESSION,
                      NULL));
    CHECK(parse_fails(five_len_bytes, sizeof(five_len_bytes),
                      TLSR_ENOTSESSION, NULL));
    CHECK(parse_fails(cut_len, sizeof(cut_len), TLSR_ETRUNCATED, NULL));
    CHECK(parse_fails(huge, sizeof(huge), TLSR_ETRUNCATED, NULL));
}

static void parse_rejects_certificate_and_random_bytes_as_not_session(void)
{
    struct fixture f;
    uint8_t *cert = NULL, rnd[512];
    int clen, i;

    CHECK(fixture_make(&f, TP_EC, TLS1_2_VERSION));
    clen = i2d_X509(SSL_SESSION_get0_peer(f.sess), &cert);
    CHECK(clen > 0);
    CHECK(parse_fails(cert, (size_t)clen, TLSR_ENOTSESSION, NULL));
    OPENSSL_free(cert);
    for (i = 0; i < 20; i++) {
        CHECK(RAND_bytes(rnd, sizeof(rnd)) == 1);
        if (rnd[0] == 0x30)
            rnd[0] = 0x31;
        CHECK(parse_fails(rnd, sizeof(rnd), TLSR_ENOTSESSION, NULL));
        /* A well-formed SEQUENCE of junk is still not a session. */
        rnd[0] = 0x30;
        rnd[1] = 0x82;
        rnd[2] = (sizeof(rnd) - 4) >> 8;
        rnd[3] = (sizeof(rnd) - 4) & 0xFF;
        CHECK(parse_fails(rnd, sizeof(rnd), TLSR_ENOTSESSION, NULL));
    }
    {
        const uint8_t text[] = "hello, not a session\n";

        CHECK(parse_fails(text, sizeof(text) - 1, TLSR_ENOTSESSION, NULL));
    }
    fixture_free(&f);
}

/*
 * Offsets of the protocol version INTEGER's content and the cipher OCTET
 * STRING's content in a session's DER (fields 2 and 3 of the SEQUENCE).
 */
static int locate_version_and_cipher(const uint8_t *der, size_t *ver,
                                     size_t *ver_len, size_t *cipher)
{
    size_t p = der[1] < 0x80 ? 2 : 2 + (der[1] & 0x7F);

    if (der[p] != 0x02)
        return 0;
    p += 2 + der[p + 1];            /* skip version INTEGER (1) */
    if (der[p] != 0x02)
        return 0;
    *ver = p + 2;
    *ver_len = der[p + 1];
    p += 2 + der[p + 1];
    if (der[p] != 0x04 || der[p + 1] != 2)
        return 0;
    *cipher = p + 2;
    return 1;
}

static void parse_names_unsupported_cipher_and_protocol(void)
{
    struct fixture f;
    size_t n, ver, ver_len, cipher;
    uint8_t *der;

    CHECK(fixture_make(&f, TP_RSA, TLS1_2_VERSION));
    der = serialize(f.sess, TLSR_FORMAT_DER, 0, &n);
    CHECK(der != NULL);
    CHECK(locate_version_and_cipher(der, &ver, &ver_len, &cipher));
    CHECK_EQ_INT(ver_len, 2);

    der[cipher] = 0xFF;
    der[cipher + 1] = 0xFF;
    CHECK(parse_fails(der, n, TLSR_EUNSUPPORTED, "0xFF,0xFF"));
    der[cipher] = 0xC0;
    der[cipher + 1] = 0xFE;
    CHECK(parse_fails(der, n, TLSR_EUNSUPPORTED, "0xC0,0xFE"));
    {
        /* restore the real cipher */
        uint16_t id = SSL_CIPHER_get_protocol_id(
            SSL_SESSION_get0_cipher(f.sess));

        der[cipher] = (uint8_t)(id >> 8);
        der[cipher + 1] = (uint8_t)id;
    }

    der[ver] = 0x03; /* TLS 1.4 does not exist (yet) */
    der[ver + 1] = 0x05;
    CHECK(parse_fails(der, n, TLSR_EUNSUPPORTED, "0x0305"));
    der[ver] = 0x04; /* not a TLS major version */
    der[ver + 1] = 0x03;
    CHECK(parse_fails(der, n, TLSR_EUNSUPPORTED, "0x0403"));
    der[ver] = 0x03;
    der[ver + 1] = 0x03;

    free(der);
    fixture_free(&f);
}

/* PEM of arbitrary DER: what PEM_write would produce. */
static char *pem_of(const uint8_t *der, size_t n, const char *label)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    if (b == NULL || PEM_write_bio(b, label, "", der, (long)n) <= 0) {
        BIO_free(b);
        return NULL;
    }
    len = BIO_get_mem_data(b, &data);
    out = malloc((size_t)len + 1);
    if (out != NULL) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(b);
    return out;
}

static void parse_reports_pem_errors_precisely(void)
{
    struct fixture f;
    struct tlsr_error err;
    size_t n, pn;
    uint8_t *der, *pem;
    char *buf, *p;
    SSL_SESSION *s;

    CHECK(fixture_make(&f, TP_EC, TLS1_3_VERSION));
    der = serialize(f.sess, TLSR_FORMAT_DER, 0, &n);
    pem = serialize(f.sess, TLSR_FORMAT_PEM, 0, &pn);
    CHECK(der != NULL && pem != NULL);
    buf = malloc(2 * pn + 256);
    CHECK(buf != NULL);

    /* Text before BEGIN is skipped (the store writes metadata there),
     * even text starting with '0', which is DER's SEQUENCE tag 0x30. */
    {
        const char *pre[] = { "host: example.org\nport: 443\n",
                              "0x metadata line\n", "0\n", "" };
        size_t k;

        for (k = 0; k < sizeof(pre) / sizeof(pre[0]); k++) {
            size_t pl = strlen(pre[k]);

            memcpy(buf, pre[k], pl);
            memcpy(buf + pl, pem, pn);
            s = tlsr_session_parse((uint8_t *)buf, pl + pn, &err);
            CHECK(s != NULL);
            tlsr_session_free(s);
        }
    }

    /* Whitespace after END is fine, anything else is trailing data. */
    memcpy(buf, pem, pn);
    memcpy(buf + pn, "\n  \r\n\t", 6);
    s = tlsr_session_parse((uint8_t *)buf, pn + 6, &err);
    CHECK(s != NULL);
    tlsr_session_free(s);
    memcpy(buf + pn, "junk\n", 5);
    CHECK(parse_fails((uint8_t *)buf, pn + 5, TLSR_ETRAILING, NULL));
    memcpy(buf + pn, pem, pn); /* a second block */
    CHECK(parse_fails((uint8_t *)buf, 2 * pn, TLSR_ETRAILING, NULL));

    /* Wrong label. */
    {
        char *cert_pem = pem_of(der, n, "CERTIFICATE");

        CHECK(cert_pem != NULL);
        CHECK(parse_fails((uint8_t *)cert_pem, strlen(cert_pem),
                          TLSR_EPEMLABEL, "CERTIFICATE"));
        free(cert_pem);
    }
    /* END label that does not match. */
    memcpy(buf, pem, pn);
    p = strstr(buf, "-----END SSL SESSION");
    CHECK(p != NULL);
    memcpy(p + 9, "SSL SESSION PARAMETERZ", 22);
    CHECK(parse_fails((uint8_t *)buf, pn, TLSR_EPEMLABEL, NULL));

    /* Invalid base64. */
    memcpy(buf, pem, pn);
    buf[50] = '*';
    CHECK(parse_fails((uint8_t *)buf, pn, TLSR_EBASE64, NULL));
    memcpy(buf, pem, pn);
    buf[50] = '=';
    CHECK(parse_fails((uint8_t *)buf, pn, TLSR_EBASE64, NULL));

    /* No END line, or a cut-off one. */
    p = strstr((char *)memcpy(buf, pem, pn), "-----END");
    CHECK(parse_fails((uint8_t *)buf, (size_t)(p - buf), TLSR_ETRUNCATED,
                      NULL));
    CHECK(parse_fails((uint8_t *)buf, (size_t)(p - buf) + 12,
                      TLSR_ETRUNCATED, NULL));
    /* A cut-off BEGIN line. */
    CHECK(parse_fails(pem, 20, TLSR_ETRUNCATED, NULL));

    /* A well-formed PEM whose DER is cut short. */
    {
        char *short_pem = pem_of(der, n - 10, "SSL SESSION PARAMETERS");

        CHECK(short_pem != NULL);
        CHECK(parse_fails((uint8_t *)short_pem, strlen(short_pem),
                          TLSR_ETRUNCATED, NULL));
        free(short_pem);
    }
    /* A well-formed PEM of a certificate. */
    {
        uint8_t *cert = NULL;
        int clen = i2d_X509(SSL_SESSION_get0_peer(f.sess), &cert);
        char *cpem;

        CHECK(clen > 0);
        cpem = pem_of(cert, (size_t)clen, "SSL SESSION PARAMETERS");
        OPENSSL_free(cert);
        CHECK(cpem != NULL);
        CHECK(parse_fails((uint8_t *)cpem, strlen(cpem), TLSR_ENOTSESSION,
                          NULL));
        free(cpem);
    }
    free(buf);
    free(der);
    free(pem);
    fixture_free(&f);
}

static void unsupported_cipher_is_reported_through_pem(void)
{
    struct fixture f;
    size_t n, ver, ver_len, cipher;
    uint8_t *der;
    char *pem;

    CHECK(fixture_make(&f, TP_EC, TLS1_3_VERSION));
    der = serialize(f.sess, TLSR_FORMAT_DER, 0, &n);
    CHECK(der != NULL);
    CHECK(locate_version_and_cipher(der, &ver, &ver_len, &cipher));
    der[cipher] = 0xFF;
    der[cipher + 1] = 0xFF;
    pem = pem_of(der, n, "SSL SESSION PARAMETERS");
    CHECK(pem != NULL);
    CHECK(parse_fails((uint8_t *)pem, strlen(pem), TLSR_EUNSUPPORTED,
                      "0xFF,0xFF"));
    free(pem);
    free(der);
    fixture_free(&f);
}

/* ---- reference counting -------------------------------------------------- */

static void free_null_is_noop_and_up_ref_counts(void)
{
    SSL_SESSION *s = SSL_SESSION_new();

    tlsr_session_free(NULL);
    CHECK(s != NULL);
    CHECK_EQ_INT(tlsr_session_up_ref(s), 0);
    tlsr_session_free(s);
    tlsr_session_free(s); /* the second reference; ASan/valgrind check it */
    CHECK_EQ_INT(tlsr_session_up_ref(NULL), TLSR_EINVAL);
}

/* ---- session-id context ---------------------------------------------------- */

static const uint8_t python_sid_ctx[7] = { 'P', 'y', 't', 'h', 'o', 'n', 0 };

/*
 * One client handshake with sess offered; returns 1 when the handshake
 * fails with reason, leaving the error queue empty.
 */
static int handshake_fails_with(SSL_CTX *server, SSL_CTX *client,
                                SSL_SESSION *sess, int reason)
{
    SSL *s = SSL_new(server), *c = SSL_new(client);
    BIO *bs = NULL, *bc = NULL;
    int i, failed = 0, got = 0;
    unsigned long e;

    if (s == NULL || c == NULL || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
        goto end;
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    if (SSL_set_session(c, sess) != 1)
        goto end;
    /* Stop at the client's failure: the server's next step would clear
     * the (shared, per-thread) error queue. */
    for (i = 0; i < 50; i++) {
        int rc = SSL_do_handshake(c), err = SSL_get_error(c, rc);

        if (rc != 1 && err != SSL_ERROR_WANT_READ
            && err != SSL_ERROR_WANT_WRITE) {
            failed = 1;
            break;
        }
        SSL_do_handshake(s);
    }
end:
    while ((e = ERR_get_error()) != 0) {
        if (ERR_GET_REASON(e) == reason)
            got = 1;
    }
    SSL_free(c);
    SSL_free(s);
    return failed && got;
}

static void python_sid_ctx_session_resumes_only_after_normalization(void)
{
    int versions[2] = { TLS1_2_VERSION, TLS1_3_VERSION }, v;

    for (v = 0; v < 2; v++) {
        struct fixture f;
        struct tlsr_error err;
        SSL_CTX *py_client;
        SSL_SESSION *back, *next;
        size_t n;
        uint8_t *der;
        int reused = -1;

        CHECK(fixture_make(&f, TP_EC, versions[v]));
        /* A client context as CPython <= 3.12 makes it. */
        py_client = tp_client_ctx(versions[v]);
        CHECK(py_client != NULL);
        CHECK(SSL_CTX_set_session_id_context(py_client, python_sid_ctx,
                                             sizeof(python_sid_ctx)) == 1);
        der = serialize(f.sess, TLSR_FORMAT_DER, 0, &n);
        back = tlsr_session_parse(der, n, &err);
        CHECK(back != NULL);
        CHECK(handshake_fails_with(f.server, py_client, back,
                           SSL_R_ATTEMPT_TO_REUSE_SESSION_IN_DIFFERENT_CONTEXT));
        tlsr_session_free(back);

        back = tlsr_session_parse(der, n, &err);
        CHECK(back != NULL);
        CHECK_CODE(tlsr_session_set1_id_context(back, python_sid_ctx,
                                                sizeof(python_sid_ctx), &err),
                   0, &err);
        next = tp_connect(f.server, py_client, back, &reused);
        CHECK(next != NULL);
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(next);

        tlsr_session_free(back);

        /* And back to empty for a client without a context (a fresh copy:
         * OpenSSL's client uses a TLS 1.3 session object only once). */
        back = tlsr_session_parse(der, n, &err);
        CHECK(back != NULL);
        CHECK_CODE(tlsr_session_set1_id_context(back, python_sid_ctx,
                                                sizeof(python_sid_ctx), &err),
                   0, &err);
        CHECK_CODE(tlsr_session_set1_id_context(back, NULL, 0, &err), 0,
                   &err);
        next = tp_connect(f.server, f.client, back, &reused);
        CHECK(next != NULL);
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(next);
        tlsr_session_free(back);
        free(der);
        SSL_CTX_free(py_client);
        fixture_free(&f);
    }
}

static void set1_id_context_rejects_long_or_null(void)
{
    SSL_SESSION *s = SSL_SESSION_new();
    struct tlsr_error err;
    uint8_t ctx[33] = { 0 };
    unsigned int n;

    CHECK(s != NULL);
    CHECK_CODE(tlsr_session_set1_id_context(s, ctx, 33, &err), TLSR_EINVAL,
               &err);
    CHECK(err.msg[0] != '\0');
    CHECK_CODE(tlsr_session_set1_id_context(s, NULL, 3, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_session_set1_id_context(NULL, ctx, 3, &err),
               TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_session_set1_id_context(s, ctx, 32, &err), 0, &err);
    SSL_SESSION_get0_id_context(s, &n);
    CHECK_EQ_INT(n, 32);
    CHECK(ERR_peek_error() == 0);
    tlsr_session_free(s);
}

/* ---- ticket and master secret -------------------------------------------- */

static void get_ticket_copies_the_servers_ticket(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_error err;
        const unsigned char *tick;
        size_t tlen, len = 0, small;
        uint8_t *buf;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        SSL_SESSION_get0_ticket(f.sess, &tick, &tlen);
        CHECK(tlen > 0); /* both versions get tickets by default */
        CHECK_CODE(tlsr_session_get_ticket(f.sess, NULL, &len, &err), 0,
                   &err);
        CHECK_EQ_INT(len, tlen);
        buf = malloc(len);
        CHECK(buf != NULL);
        small = len - 1;
        CHECK_CODE(tlsr_session_get_ticket(f.sess, buf, &small, &err),
                   TLSR_EBUFSIZE, &err);
        CHECK_EQ_INT(small, tlen);
        CHECK_CODE(tlsr_session_get_ticket(f.sess, buf, &len, &err), 0,
                   &err);
        CHECK(memcmp(buf, tick, tlen) == 0);
        free(buf);
        fixture_free(&f);
    }
}

static void get_ticket_of_session_without_ticket_is_empty(void)
{
    SSL_SESSION *s = SSL_SESSION_new();
    struct tlsr_error err;
    uint8_t buf[4];
    size_t len = sizeof(buf);

    CHECK(s != NULL);
    CHECK_CODE(tlsr_session_get_ticket(s, buf, &len, &err), 0, &err);
    CHECK_EQ_INT(len, 0);
    len = 99;
    CHECK_CODE(tlsr_session_get_ticket(s, NULL, &len, &err), 0, &err);
    CHECK_EQ_INT(len, 0);
    CHECK_CODE(tlsr_session_get_ticket(NULL, NULL, &len, &err), TLSR_EINVAL,
               &err);
    tlsr_session_free(s);
}

static void get_master_key_secret_matches_openssl(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_error err;
        uint8_t want[64], buf[64];
        size_t wn, len = 0, small;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        wn = SSL_SESSION_get_master_key(f.sess, want, sizeof(want));
        CHECK(wn == 48 || wn == 32);
        CHECK_CODE(tlsr_session_get_master_key_secret(f.sess, NULL, &len,
                                                      &err), 0, &err);
        CHECK_EQ_INT(len, wn);
        small = wn - 1;
        CHECK_CODE(tlsr_session_get_master_key_secret(f.sess, buf, &small,
                                                      &err),
                   TLSR_EBUFSIZE, &err);
        CHECK_EQ_INT(small, wn);
        len = sizeof(buf);
        CHECK_CODE(tlsr_session_get_master_key_secret(f.sess, buf, &len,
                                                      &err), 0, &err);
        CHECK_EQ_INT(len, wn);
        CHECK(memcmp(buf, want, wn) == 0);
        fixture_free(&f);
    }
}

TESTS(T(der_and_pem_round_trips_are_byte_identical),
      T(der_is_exactly_i2d_ssl_session),
      T(pem_is_byte_identical_to_openssl_sess_id),
      T(pem_layout_is_64_column_lines),
      T(serialize_asks_size_then_fills),
      T(serialize_rejects_misuse),
      T(lean_session_drops_peer_certificate_and_still_resumes),
      T(lean_session_with_shorter_length_field_resumes),
      T(lean_pem_is_accepted_by_openssl_sess_id),
      T(restored_session_resumes),
      T(parse_rejects_bad_arguments_and_sizes),
      T(parse_reports_truncated_and_trailing_der),
      T(parse_rejects_ber_indefinite_and_oversized_lengths),
      T(parse_rejects_certificate_and_random_bytes_as_not_session),
      T(parse_names_unsupported_cipher_and_protocol),
      T(parse_reports_pem_errors_precisely),
      T(unsupported_cipher_is_reported_through_pem),
      T(free_null_is_noop_and_up_ref_counts),
      T(python_sid_ctx_session_resumes_only_after_normalization),
      T(set1_id_context_rejects_long_or_null),
      T(get_ticket_copies_the_servers_ticket),
      T(get_ticket_of_session_without_ticket_is_empty),
      T(get_master_key_secret_matches_openssl))
