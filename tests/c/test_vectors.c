/*
 * The shared test vectors (tests/vectors/manifest.tsv, made from real
 * openssl / Node / nginx handshakes by tests/vectors/generate): every row
 * parses to its expected code or to the inspect fields the servers and
 * `openssl sess_id -text` reported; PEM and DER twins agree; serialize gives
 * the input bytes back; tickets decrypt with their servers' key files to a
 * server-side session holding the client's master secret.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tlsresume.h"

/* ---- manifest ----------------------------------------------------------- */

enum { MAX_COLS = 64, MAX_ROWS = 1024 };

struct row {
    char *col[MAX_COLS];
};

static struct {
    char *text;
    char *hdr[MAX_COLS];
    int ncols;
    struct row rows[MAX_ROWS];
    int nrows;
    char root[1024];
} M;

static int read_file(const char *rel, uint8_t **data, size_t *len)
{
    char path[2048];
    FILE *f;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    snprintf(path, sizeof(path), "%s/%s", M.root, rel);
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "  cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;

        if (n == cap) {
            uint8_t *nb;

            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *data = buf;
    *len = n;
    return 0;
}

static const char *col(const struct row *r, const char *name)
{
    int i;

    for (i = 0; i < M.ncols; i++)
        if (strcmp(M.hdr[i], name) == 0)
            return r->col[i];
    fprintf(stderr, "  manifest has no column %s\n", name);
    abort();
}

static int is_none(const char *v)
{
    return strcmp(v, "-") == 0;
}

/* "-" reads as the empty string for text fields. */
static const char *text(const struct row *r, const char *name)
{
    const char *v = col(r, name);

    return is_none(v) ? "" : v;
}

static long long num(const struct row *r, const char *name)
{
    return strtoll(col(r, name), NULL, 0);
}

/* Seconds a row's session is usable: tlsr_session_inspect's expires. */
static long long life(const struct row *r)
{
    long long t = num(r, "timeout"), h = num(r, "ticket_lifetime_hint");

    return num(r, "has_ticket") && h > 0 && h < t ? h : t;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Without TLSR_ROOT: look upwards from the cwd, then from the binary. */
static int find_root(void)
{
    char start[2][1024];
    int i, up;

    if (getcwd(start[0], sizeof(start[0])) == NULL)
        start[0][0] = '\0';
    {
        ssize_t n = readlink("/proc/self/exe", start[1],
                             sizeof(start[1]) - 1);

        start[1][n > 0 ? n : 0] = '\0';
    }
    for (i = 0; i < 2; i++) {
        char dir[1024];

        memcpy(dir, start[i], sizeof(dir));
        for (up = 0; up < 8 && dir[0] != '\0'; up++) {
            char *slash, probe[1100];

            if (snprintf(M.root, sizeof(M.root), "%s/tests/vectors", dir) <
                    (int)sizeof(M.root) &&
                snprintf(probe, sizeof(probe), "%s/manifest.tsv", M.root) <
                    (int)sizeof(probe) &&
                access(probe, R_OK) == 0)
                return 0;
            slash = strrchr(dir, '/');
            if (slash == NULL)
                break;
            *slash = '\0';
        }
    }
    return -1;
}

static void free_manifest(void)
{
    free(M.text);
    M.text = NULL;
}

static int load_manifest(void)
{
    const char *env = getenv("TLSR_ROOT");
    uint8_t *data;
    size_t len;
    char *line, *save = NULL;

    if (M.text != NULL)
        return 0;
    if (env != NULL && *env != '\0') {
        if (snprintf(M.root, sizeof(M.root), "%s/tests/vectors", env) >=
            (int)sizeof(M.root))
            return -1;
    } else if (find_root() != 0) {
        fprintf(stderr, "  no tests/vectors: set TLSR_ROOT\n");
        return -1;
    }
    if (read_file("manifest.tsv", &data, &len) != 0)
        return -1;
    M.text = realloc(data, len + 1);
    if (M.text == NULL) {
        free(data);
        return -1;
    }
    M.text[len] = '\0';
    atexit(free_manifest);
    for (line = strtok_r(M.text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char **dst = M.ncols == 0 ? M.hdr : M.rows[M.nrows].col;
        int n = 0;
        char *p = line;

        for (;;) {
            char *tab = strchr(p, '\t');

            if (n == MAX_COLS)
                return -1;
            dst[n++] = p;
            if (tab == NULL)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (M.ncols == 0) {
            M.ncols = n;
        } else {
            if (n != M.ncols) {
                fprintf(stderr, "  manifest row %d has %d columns\n",
                        M.nrows + 2, n);
                return -1;
            }
            if (++M.nrows == MAX_ROWS)
                return -1;
        }
    }
    return 0;
}

static int key_format(const struct row *r)
{
    const char *f = col(r, "key_format");

    if (strcmp(f, "OPENSSL80") == 0)
        return TLSR_KEYS_OPENSSL80;
    if (strcmp(f, "NGINX48") == 0)
        return TLSR_KEYS_NGINX48;
    if (strcmp(f, "NODE48") == 0)
        return TLSR_KEYS_NODE48;
    return -1;
}

static int is_session_row(const struct row *r)
{
    return strcmp(col(r, "format"), "DER") == 0 ||
           strcmp(col(r, "format"), "PEM") == 0;
}

static int expects_ok(const struct row *r)
{
    return strcmp(col(r, "expect"), "OK") == 0;
}

/* ANY: no outcome decided yet (fuzz finds), only "no crash, no leak". */
static int expects_error(const struct row *r)
{
    return strncmp(col(r, "expect"), "TLSR_E", 6) == 0;
}

/* A failure inside a loop over rows: count it, name the row, go on. */
static void row_fail(const struct row *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void row_fail(const struct row *r, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "  [%s] ", col(r, "name"));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    harness_failures++;
}

/* Parse a row's file; NULL with err filled on failure. */
static struct ssl_session_st *parse_row(const struct row *r, uint8_t **data,
                                        size_t *len, struct tlsr_error *err)
{
    memset(err, 0, sizeof(*err));
    if (read_file(col(r, "file"), data, len) != 0) {
        err->code = -9999;
        return NULL;
    }
    return tlsr_session_parse(*data, *len, err);
}

/* ---- checks ------------------------------------------------------------- */

static void manifest_is_readable(void)
{
    int i, sessions = 0, bad = 0, tickets = 0;

    CHECK(load_manifest() == 0);
    CHECK(M.nrows > 50);
    CHECK(strcmp(M.hdr[0], "name") == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];

        if (is_session_row(r) && expects_ok(r))
            sessions++;
        else if (strcmp(col(r, "format"), "TICKET") == 0)
            tickets++;
        if (expects_error(r))
            bad++;
        else if (!expects_ok(r) && strcmp(col(r, "expect"), "ANY") != 0)
            CHECK(!"expect is OK, ANY or a TLSR_E* name");
    }
    CHECK(sessions >= 30 && bad >= 20 && tickets >= 10);
}

static void check_error(const struct row *r, int code,
                        const struct tlsr_error *err, const char *what)
{
    if (strcmp(tlsr_error_name(code), col(r, "expect")) != 0)
        row_fail(r, "%s gave %d %s (%s), expected %s", what, code,
                 tlsr_error_name(code), err->msg, col(r, "expect"));
    else if (err->code != code)
        row_fail(r, "%s: err.code %d != returned %d", what, err->code, code);
    else if (err->msg[0] == '\0' || memchr(err->msg, '\0',
                                          sizeof(err->msg)) == NULL)
        row_fail(r, "%s: empty or unterminated message", what);
}

static void bad_sessions_fail_with_their_code(void)
{
    int i, n = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        struct ssl_session_st *s;
        uint8_t *data = NULL;
        size_t len = 0;

        if (!is_session_row(r) || !expects_error(r))
            continue;
        n++;
        s = parse_row(r, &data, &len, &err);
        if (s != NULL) {
            row_fail(r, "parsed, expected %s", col(r, "expect"));
            tlsr_session_free(s);
        } else {
            check_error(r, err.code, &err, "parse");
        }
        free(data);
    }
    CHECK(n >= 15);
}

/* Compare inspect fields with what the servers / openssl sess_id said. */
static void check_info(const struct row *r, const struct tlsr_session_info *in)
{
    char h[2 * 48 + 1];
    const char *want;

    if (in->protocol_version != num(r, "protocol"))
        row_fail(r, "protocol 0x%04x, want %s", in->protocol_version,
                 col(r, "protocol"));
    if (strcmp(in->protocol_name, col(r, "protocol_name")) != 0)
        row_fail(r, "protocol_name %s, want %s", in->protocol_name,
                 col(r, "protocol_name"));
    if (in->cipher_id != (uint32_t)num(r, "cipher_id"))
        row_fail(r, "cipher_id 0x%04x, want %s", (unsigned)in->cipher_id,
                 col(r, "cipher_id"));
    if (strcmp(in->cipher_name, col(r, "cipher_name")) != 0)
        row_fail(r, "cipher_name %s, want %s", in->cipher_name,
                 col(r, "cipher_name"));
    if (strcmp(in->cipher_rfc_name, col(r, "cipher_rfc_name")) != 0)
        row_fail(r, "cipher_rfc_name %s, want %s", in->cipher_rfc_name,
                 col(r, "cipher_rfc_name"));
    if (in->session_id_len > 32) {
        row_fail(r, "session_id_len %u", (unsigned)in->session_id_len);
    } else {
        hex(in->session_id, in->session_id_len, h);
        if (strcmp(h, text(r, "session_id")) != 0)
            row_fail(r, "session_id %s, want %s", h, col(r, "session_id"));
    }
    if (in->sid_ctx_len > 32) {
        row_fail(r, "sid_ctx_len %u", (unsigned)in->sid_ctx_len);
    } else {
        hex(in->sid_ctx, in->sid_ctx_len, h);
        if (strcmp(h, text(r, "sid_ctx")) != 0)
            row_fail(r, "sid_ctx %s, want %s", h, col(r, "sid_ctx"));
    }
    if (in->time != num(r, "time"))
        row_fail(r, "time %lld, want %s", (long long)in->time, col(r, "time"));
    if (in->timeout != num(r, "timeout"))
        row_fail(r, "timeout %lld, want %s", (long long)in->timeout,
                 col(r, "timeout"));
    /* Usable until the shorter of timeout and a ticket's lifetime hint
     * (nginx rows: 300 s against OpenSSL's 7200 s). */
    if (in->expires != num(r, "time") + life(r))
        row_fail(r, "expires %lld", (long long)in->expires);
    if (in->has_ticket != num(r, "has_ticket"))
        row_fail(r, "has_ticket %d, want %s", in->has_ticket,
                 col(r, "has_ticket"));
    if (in->ticket_len != (uint32_t)num(r, "ticket_len"))
        row_fail(r, "ticket_len %u, want %s", (unsigned)in->ticket_len,
                 col(r, "ticket_len"));
    if (in->ticket_lifetime_hint != (uint32_t)num(r, "ticket_lifetime_hint"))
        row_fail(r, "ticket_lifetime_hint %u, want %s",
                 (unsigned)in->ticket_lifetime_hint,
                 col(r, "ticket_lifetime_hint"));
    if (in->ticket_age_add != (uint32_t)num(r, "ticket_age_add"))
        row_fail(r, "ticket_age_add %u, want %s", (unsigned)in->ticket_age_add,
                 col(r, "ticket_age_add"));
    if (in->max_early_data != (uint32_t)num(r, "max_early_data"))
        row_fail(r, "max_early_data %u, want %s", (unsigned)in->max_early_data,
                 col(r, "max_early_data"));
    if (strcmp(in->alpn, text(r, "alpn")) != 0)
        row_fail(r, "alpn '%s', want %s", in->alpn, col(r, "alpn"));
    if (strcmp(in->sni, text(r, "sni")) != 0)
        row_fail(r, "sni '%s', want %s", in->sni, col(r, "sni"));
    if (in->has_peer != num(r, "has_peer"))
        row_fail(r, "has_peer %d, want %s", in->has_peer, col(r, "has_peer"));
    if (in->has_peer) {
        hex(in->peer_sha256, 32, h);
        if (strcmp(h, col(r, "peer_sha256")) != 0)
            row_fail(r, "peer_sha256 %s, want %s", h, col(r, "peer_sha256"));
        if (strstr(in->peer_subject, "CN=localhost") == NULL)
            row_fail(r, "peer_subject %s", in->peer_subject);
        if (in->peer_not_after <= in->time)
            row_fail(r, "peer_not_after %lld", (long long)in->peer_not_after);
    }
    if (in->verify_result != num(r, "verify_result"))
        row_fail(r, "verify_result %lld, want %s",
                 (long long)in->verify_result,
                 col(r, "verify_result"));
    want = col(r, "extended_master_secret");
    if (!is_none(want) && in->extended_master_secret != atoi(want))
        row_fail(r, "extended_master_secret %d, want %s",
                 in->extended_master_secret,
                 col(r, "extended_master_secret"));
    if (in->master_key_len != (uint32_t)num(r, "master_key_len"))
        row_fail(r, "master_key_len %u, want %s", (unsigned)in->master_key_len,
                 col(r, "master_key_len"));
}

static int master_key_hex(const struct ssl_session_st *s, char *h,
                          struct tlsr_error *err)
{
    uint8_t mk[256];
    size_t len = sizeof(mk);
    int rc = tlsr_session_get_master_key_secret(s, mk, &len, err);

    if (rc == 0)
        hex(mk, len > 128 ? 128 : len, h);
    return rc;
}

static void good_sessions_inspect_as_the_servers_said(void)
{
    int i, n = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        struct tlsr_session_info info;
        struct ssl_session_st *s;
        uint8_t *data = NULL;
        size_t len = 0;
        char mk[2 * 128 + 1];
        int rc;

        if (!is_session_row(r) || !expects_ok(r))
            continue;
        n++;
        s = parse_row(r, &data, &len, &err);
        if (s == NULL) {
            row_fail(r, "parse: %d %s", err.code, err.msg);
            free(data);
            continue;
        }
        memset(&info, 0xA5, sizeof(info));
        rc = tlsr_session_inspect(s, num(r, "time") + 1, &info, &err);
        if (rc != 0) {
            row_fail(r, "inspect: %d %s", rc, err.msg);
        } else {
            check_info(r, &info);
            if (info.remaining != life(r) - 1)
                row_fail(r, "remaining %lld", (long long)info.remaining);
        }
        /* long after expiry: remaining clamps to 0 */
        rc = tlsr_session_inspect(s, num(r, "time") + num(r, "timeout") +
                                  100000, &info, &err);
        if (rc != 0 || info.remaining != 0)
            row_fail(r, "remaining after expiry %lld (rc %d)",
                     (long long)info.remaining, rc);
        rc = master_key_hex(s, mk, &err);
        if (rc != 0 || strcmp(mk, col(r, "master_key")) != 0)
            row_fail(r, "master key differs from sess_id's (rc %d)", rc);
        if (num(r, "has_ticket")) {
            uint8_t *want = NULL, *got;
            size_t wlen = 0, glen = 0;
            char path[512];

            snprintf(path, sizeof(path), "tickets/%s.ticket",
                     col(r, "group"));
            rc = tlsr_session_get_ticket(s, NULL, &glen, &err);
            got = malloc(glen ? glen : 1);
            if (rc != 0 || got == NULL || read_file(path, &want, &wlen) != 0)
                row_fail(r, "ticket size query rc %d", rc);
            else if ((rc = tlsr_session_get_ticket(s, got, &glen, &err)) != 0
                     || glen != wlen || memcmp(got, want, wlen) != 0)
                row_fail(r, "ticket bytes differ (rc %d)", rc);
            free(got);
            free(want);
        }
        tlsr_session_free(s);
        free(data);
    }
    CHECK(n >= 30);
}

static int info_equal(const struct tlsr_session_info *a,
                      const struct tlsr_session_info *b)
{
    return a->protocol_version == b->protocol_version &&
           strcmp(a->protocol_name, b->protocol_name) == 0 &&
           a->cipher_id == b->cipher_id &&
           strcmp(a->cipher_name, b->cipher_name) == 0 &&
           strcmp(a->cipher_rfc_name, b->cipher_rfc_name) == 0 &&
           a->session_id_len == b->session_id_len &&
           memcmp(a->session_id, b->session_id, a->session_id_len) == 0 &&
           a->sid_ctx_len == b->sid_ctx_len &&
           memcmp(a->sid_ctx, b->sid_ctx, a->sid_ctx_len) == 0 &&
           a->time == b->time && a->timeout == b->timeout &&
           a->expires == b->expires && a->remaining == b->remaining &&
           a->resumable == b->resumable && a->has_ticket == b->has_ticket &&
           a->ticket_len == b->ticket_len &&
           a->ticket_lifetime_hint == b->ticket_lifetime_hint &&
           a->ticket_age_add == b->ticket_age_add &&
           a->has_ticket_age_add == b->has_ticket_age_add &&
           a->max_early_data == b->max_early_data &&
           strcmp(a->alpn, b->alpn) == 0 && strcmp(a->sni, b->sni) == 0 &&
           a->has_peer == b->has_peer &&
           strcmp(a->peer_subject, b->peer_subject) == 0 &&
           strcmp(a->peer_issuer, b->peer_issuer) == 0 &&
           a->peer_not_after == b->peer_not_after &&
           memcmp(a->peer_sha256, b->peer_sha256, 32) == 0 &&
           a->verify_result == b->verify_result &&
           a->extended_master_secret == b->extended_master_secret &&
           a->master_key_len == b->master_key_len;
}

static int inspect_row(const struct row *r, struct tlsr_session_info *info)
{
    struct tlsr_error err;
    uint8_t *data = NULL;
    size_t len = 0;
    struct ssl_session_st *s = parse_row(r, &data, &len, &err);
    int rc = -1;

    if (s != NULL)
        rc = tlsr_session_inspect(s, 1000, info, &err);
    tlsr_session_free(s);
    free(data);
    return rc;
}

static void pem_and_der_twins_inspect_alike(void)
{
    int i, j, pairs = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *a = &M.rows[i];

        if (!is_session_row(a) || !expects_ok(a) ||
            strcmp(col(a, "format"), "PEM") != 0)
            continue;
        for (j = 0; j < M.nrows; j++) {
            const struct row *b = &M.rows[j];
            struct tlsr_session_info ia, ib;

            if (!is_session_row(b) || strcmp(col(b, "format"), "DER") != 0 ||
                strcmp(col(a, "group"), col(b, "group")) != 0)
                continue;
            pairs++;
            memset(&ia, 0, sizeof(ia));
            memset(&ib, 0, sizeof(ib));
            if (inspect_row(a, &ia) != 0 || inspect_row(b, &ib) != 0)
                row_fail(a, "twin does not inspect");
            else if (!info_equal(&ia, &ib))
                row_fail(a, "PEM and DER twins inspect differently");
        }
    }
    CHECK(pairs >= 15);
}

static int serialize(const struct ssl_session_st *s, int format,
                     unsigned flags, uint8_t **out, size_t *len,
                     struct tlsr_error *err)
{
    int rc;

    *out = NULL;
    *len = 0;
    rc = tlsr_session_serialize(s, format, flags, NULL, len, err);
    if (rc != 0)
        return rc;
    *out = malloc(*len ? *len : 1);
    if (*out == NULL)
        return TLSR_ENOMEM;
    rc = tlsr_session_serialize(s, format, flags, *out, len, err);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static void serialize_gives_the_input_back(void)
{
    int i, n = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        struct ssl_session_st *s;
        uint8_t *data = NULL, *out = NULL, small[8];
        size_t len = 0, olen = 0, slen = sizeof(small);
        int fmt, rc;

        if (!is_session_row(r) || !expects_ok(r) || num(r, "roundtrip") != 1)
            continue;
        n++;
        fmt = strcmp(col(r, "format"), "PEM") == 0 ? TLSR_FORMAT_PEM
                                                   : TLSR_FORMAT_DER;
        s = parse_row(r, &data, &len, &err);
        if (s == NULL) {
            row_fail(r, "parse: %s", err.msg);
            free(data);
            continue;
        }
        rc = serialize(s, fmt, 0, &out, &olen, &err);
        if (rc != 0)
            row_fail(r, "serialize: %d %s", rc, err.msg);
        else if (olen != len || memcmp(out, data, len) != 0)
            row_fail(r, "serialize gave %zu bytes, not the %zu input bytes",
                     olen, len);
        rc = tlsr_session_serialize(s, fmt, 0, small, &slen, &err);
        if (rc != TLSR_EBUFSIZE || slen != len)
            row_fail(r, "small buffer: rc %d len %zu", rc, slen);
        free(out);
        tlsr_session_free(s);
        free(data);
    }
    CHECK(n >= 30);
}

/* Lean: no peer certificate, everything else as before. */
static void lean_serialize_drops_only_the_peer(void)
{
    int i, n = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        struct tlsr_session_info a, b;
        struct ssl_session_st *s, *s2 = NULL;
        uint8_t *data = NULL, *out = NULL;
        size_t len = 0, olen = 0;
        int fmt;

        if (!is_session_row(r) || !expects_ok(r))
            continue;
        s = parse_row(r, &data, &len, &err);
        free(data);
        if (s == NULL)
            continue;   /* reported by the parse test */
        n++;
        for (fmt = TLSR_FORMAT_DER; fmt <= TLSR_FORMAT_PEM; fmt++) {
            memset(&a, 0, sizeof(a));
            memset(&b, 0, sizeof(b));
            if (serialize(s, fmt, TLSR_SERIALIZE_LEAN, &out, &olen, &err)) {
                row_fail(r, "lean serialize: %s", err.msg);
                break;
            }
            s2 = tlsr_session_parse(out, olen, &err);
            free(out);
            if (s2 == NULL) {
                row_fail(r, "lean form does not parse: %s", err.msg);
                break;
            }
            if (tlsr_session_inspect(s, 1000, &a, &err) != 0 ||
                tlsr_session_inspect(s2, 1000, &b, &err) != 0) {
                row_fail(r, "inspect: %s", err.msg);
            } else if (b.has_peer != 0) {
                row_fail(r, "lean form has a peer");
            } else {
                a.has_peer = 0;
                memset(a.peer_subject, 0, sizeof(a.peer_subject));
                memset(a.peer_issuer, 0, sizeof(a.peer_issuer));
                memset(a.peer_sha256, 0, sizeof(a.peer_sha256));
                a.peer_not_after = b.peer_not_after;
                memset(b.peer_subject, 0, sizeof(b.peer_subject));
                memset(b.peer_issuer, 0, sizeof(b.peer_issuer));
                memset(b.peer_sha256, 0, sizeof(b.peer_sha256));
                if (!info_equal(&a, &b))
                    row_fail(r, "lean form differs beyond the peer");
            }
            tlsr_session_free(s2);
        }
        tlsr_session_free(s);
    }
    CHECK(n >= 30);
}

/* Key bytes from the row's key file into a fresh key set. */
static struct tlsr_ticket_keys *row_keys(const struct row *r,
                                         struct tlsr_error *err, int *rc)
{
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(err);
    uint8_t *kb = NULL;
    size_t klen = 0;

    *rc = -9999;
    if (keys == NULL || read_file(col(r, "key_file"), &kb, &klen) != 0) {
        tlsr_ticket_keys_free(keys);
        return NULL;
    }
    *rc = tlsr_ticket_keys_add(keys, kb, klen, key_format(r), err);
    free(kb);
    return keys;
}

/* Decrypt ticket with the row's keys; compare with the client session. */
static void check_decrypt(const struct row *r, const uint8_t *t, size_t tlen)
{
    struct tlsr_error err;
    struct tlsr_ticket_info ti;
    struct tlsr_session_info si;
    struct ssl_session_st *srv;
    int rc;
    char mk[2 * 128 + 1];
    struct tlsr_ticket_keys *keys = row_keys(r, &err, &rc);

    if (keys == NULL || rc != 0) {
        row_fail(r, "keys_add: %d %s", rc, err.msg);
        tlsr_ticket_keys_free(keys);
        return;
    }
    rc = tlsr_ticket_parse(t, tlen, &ti, &err);
    if (rc != 0 || ti.ciphertext_len != tlen - 64 ||
        memcmp(ti.key_name, t, 16) != 0 || memcmp(ti.iv, t + 16, 16) != 0 ||
        memcmp(ti.mac, t + tlen - 32, 32) != 0)
        row_fail(r, "ticket_parse: rc %d %s", rc, err.msg);
    {
        /* every key file layout starts with the 16-byte key name */
        uint8_t *kb = NULL;
        size_t klen = 0;

        if (read_file(col(r, "key_file"), &kb, &klen) != 0 || klen < 16 ||
            memcmp(ti.key_name, kb, 16) != 0)
            row_fail(r, "ticket key name is not the key file's");
        free(kb);
    }
    srv = tlsr_ticket_decrypt(keys, t, tlen, &err);
    if (srv == NULL) {
        row_fail(r, "decrypt: %d %s", err.code, err.msg);
    } else {
        /* the server's copy holds the client's master secret / PSK */
        rc = master_key_hex(srv, mk, &err);
        if (rc != 0 || strcmp(mk, col(r, "master_key")) != 0)
            row_fail(r, "server master key differs from the client's");
        memset(&si, 0, sizeof(si));
        rc = tlsr_session_inspect(srv, 0, &si, &err);
        if (rc != 0 || si.protocol_version != num(r, "protocol") ||
            si.cipher_id != (uint32_t)num(r, "cipher_id"))
            row_fail(r, "server session: rc %d proto 0x%x cipher 0x%x", rc,
                     si.protocol_version, (unsigned)si.cipher_id);
        tlsr_session_free(srv);
    }
    tlsr_ticket_keys_free(keys);
}

static void tickets_decrypt_to_the_servers_session(void)
{
    int i, n = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        uint8_t *data = NULL, *t = NULL;
        size_t len = 0, tlen = 0;

        if (!expects_ok(r) || is_none(col(r, "key_file")))
            continue;
        n++;
        if (strcmp(col(r, "format"), "TICKET") == 0) {
            if (read_file(col(r, "file"), &data, &len) != 0)
                row_fail(r, "unreadable");
            else
                check_decrypt(r, data, len);
        } else {
            /* the ticket inside the client's session */
            struct ssl_session_st *s = parse_row(r, &data, &len, &err);

            if (s == NULL ||
                tlsr_session_get_ticket(s, NULL, &tlen, &err) != 0 ||
                (t = malloc(tlen + 1)) == NULL ||
                tlsr_session_get_ticket(s, t, &tlen, &err) != 0)
                row_fail(r, "no ticket: %s", err.msg);
            else
                check_decrypt(r, t, tlen);
            tlsr_session_free(s);
        }
        free(t);
        free(data);
    }
    CHECK(n >= 18);
}

static void bad_tickets_and_keys_fail_with_their_code(void)
{
    int i, n = 0;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        struct tlsr_ticket_keys *keys;
        struct ssl_session_st *srv;
        uint8_t *data = NULL;
        size_t len = 0;
        int rc;

        if (!expects_error(r))
            continue;
        if (strcmp(col(r, "format"), "KEYS") == 0) {
            n++;
            memset(&err, 0, sizeof(err));
            keys = row_keys(r, &err, &rc);
            if (keys == NULL)
                row_fail(r, "keys_new failed");
            else
                check_error(r, rc, &err, "keys_add");
            tlsr_ticket_keys_free(keys);
            continue;
        }
        if (strcmp(col(r, "format"), "TICKET") != 0)
            continue;
        n++;
        keys = row_keys(r, &err, &rc);
        if (keys == NULL || rc != 0 ||
            read_file(col(r, "file"), &data, &len) != 0) {
            row_fail(r, "setup: rc %d %s", rc, err.msg);
        } else {
            struct tlsr_ticket_info ti;
            int prc;

            memset(&err, 0, sizeof(err));
            srv = tlsr_ticket_decrypt(keys, data, len, &err);
            if (srv != NULL) {
                row_fail(r, "decrypted, expected %s", col(r, "expect"));
                tlsr_session_free(srv);
            } else {
                check_error(r, err.code, &err, "decrypt");
            }
            /* only a malformed ticket fails to split */
            memset(&err, 0, sizeof(err));
            prc = tlsr_ticket_parse(data, len, &ti, &err);
            if (strcmp(col(r, "expect"), "TLSR_ETICKET") == 0)
                check_error(r, prc, &err, "ticket_parse");
            else if (prc != 0)
                row_fail(r, "ticket_parse: %d %s", prc, err.msg);
        }
        tlsr_ticket_keys_free(keys);
        free(data);
    }
    CHECK(n >= 20);
}

/* Regression inputs (expect ANY): whatever the verdict, it is clean. */
static void regression_inputs_are_handled_cleanly(void)
{
    int i;

    CHECK(load_manifest() == 0);
    for (i = 0; i < M.nrows; i++) {
        const struct row *r = &M.rows[i];
        struct tlsr_error err;
        struct tlsr_session_info info;
        struct ssl_session_st *s;
        uint8_t *data = NULL, *out = NULL;
        size_t len = 0, olen = 0;
        int fmt;

        if (!is_session_row(r) || strcmp(col(r, "expect"), "ANY") != 0)
            continue;
        s = parse_row(r, &data, &len, &err);
        if (s == NULL) {
            if (err.code >= 0 || err.msg[0] == '\0')
                row_fail(r, "parse failed without a code or message");
            free(data);
            continue;
        }
        memset(&err, 0, sizeof(err));
        if (tlsr_session_inspect(s, 0, &info, &err) != 0 &&
            (err.code >= 0 || err.msg[0] == '\0'))
            row_fail(r, "inspect failed without a code or message");
        for (fmt = TLSR_FORMAT_DER; fmt <= TLSR_FORMAT_PEM; fmt++) {
            struct ssl_session_st *s2;

            if (serialize(s, fmt, 0, &out, &olen, &err) != 0) {
                row_fail(r, "serialize: %s", err.msg);
                continue;
            }
            s2 = tlsr_session_parse(out, olen, &err);
            if (s2 == NULL)
                row_fail(r, "own output does not parse: %s", err.msg);
            tlsr_session_free(s2);
            free(out);
        }
        tlsr_session_free(s);
        free(data);
    }
}

TESTS(T(manifest_is_readable), T(bad_sessions_fail_with_their_code),
      T(good_sessions_inspect_as_the_servers_said),
      T(pem_and_der_twins_inspect_alike), T(serialize_gives_the_input_back),
      T(lean_serialize_drops_only_the_peer),
      T(tickets_decrypt_to_the_servers_session),
      T(bad_tickets_and_keys_fail_with_their_code),
      T(regression_inputs_are_handled_cleanly))
