/*
 * tlsr_session_inspect: every field against OpenSSL's own getters, the
 * fields only the DER carries against `openssl sess_id -text -noout`.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

struct fixture {
    SSL_CTX *server, *client;
    SSL_SESSION *sess, *server_sess;
};

static int fixture_make(struct fixture *f, int key_type, int version)
{
    int reused = -1;

    f->server = tp_server_ctx(key_type, version);
    f->client = tp_client_ctx(version);
    f->sess = f->server_sess = NULL;
    if (f->server != NULL && f->client != NULL)
        f->sess = tp_connect2(f->server, f->client, NULL, &reused,
                              &f->server_sess);
    return f->sess != NULL && f->server_sess != NULL && reused == 0;
}

static void fixture_free(struct fixture *f)
{
    SSL_SESSION_free(f->sess);
    SSL_SESSION_free(f->server_sess);
    SSL_CTX_free(f->server);
    SSL_CTX_free(f->client);
}

static const struct combo {
    int key_type, version;
} combos[] = {
    { TP_RSA, TLS1_2_VERSION },
    { TP_EC, TLS1_2_VERSION },
    { TP_RSA, TLS1_3_VERSION },
    { TP_EC, TLS1_3_VERSION },
};
#define NCOMBOS (sizeof(combos) / sizeof(combos[0]))

/* ---- `openssl sess_id -text -noout` -------------------------------------- */

/* The CLI's text report of a session, NUL-terminated; NULL on failure. */
static char *sess_id_text(SSL_SESSION *sess)
{
    char dir[] = "/tmp/tlsr-test-inspect-XXXXXX", path[64], cmd[160];
    static char out[16384];
    uint8_t *der = NULL;
    int n = i2d_SSL_SESSION(sess, &der), ok = 0;
    size_t got = 0, r;
    FILE *f, *p;

    if (n <= 0 || mkdtemp(dir) == NULL) {
        OPENSSL_free(der);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/s.der", dir);
    f = fopen(path, "wb");
    if (f != NULL) {
        ok = fwrite(der, 1, (size_t)n, f) == (size_t)n;
        ok = fclose(f) == 0 && ok;
    }
    OPENSSL_free(der);
    snprintf(cmd, sizeof(cmd),
             "openssl sess_id -inform DER -in '%s' -text -noout", path);
    p = ok ? popen(cmd, "r") : NULL;
    if (p != NULL) {
        while (got < sizeof(out) - 1
               && (r = fread(out + got, 1, sizeof(out) - 1 - got, p)) > 0)
            got += r;
        ok = pclose(p) == 0;
    } else {
        ok = 0;
    }
    out[got] = '\0';
    unlink(path);
    rmdir(dir);
    return ok ? out : NULL;
}

/* The value after "key" on its line, copied into out. */
static int field(const char *text, const char *key, char *out, size_t cap)
{
    const char *p = strstr(text, key), *eol;
    size_t n;

    if (p == NULL)
        return 0;
    p += strlen(key);
    eol = strchr(p, '\n');
    n = eol != NULL ? (size_t)(eol - p) : strlen(p);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

static void hex_upper(const uint8_t *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02X", b[i]);
    out[2 * n] = '\0';
}

/* ---- tests ------------------------------------------------------------------ */

static void inspect_matches_openssl_getters(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_session_info info;
        struct tlsr_error err;
        const SSL_CIPHER *c;
        const unsigned char *p, *tick;
        unsigned int n;
        size_t tlen;

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        CHECK_CODE(tlsr_session_inspect(f.sess, 0, &info, &err), 0, &err);
        c = SSL_SESSION_get0_cipher(f.sess);
        CHECK_EQ_INT(info.protocol_version, combos[i].version);
        CHECK(strcmp(info.protocol_name, combos[i].version == TLS1_3_VERSION
                                             ? "TLSv1.3" : "TLSv1.2") == 0);
        CHECK_EQ_INT(info.cipher_id, SSL_CIPHER_get_protocol_id(c));
        CHECK(strcmp(info.cipher_name, SSL_CIPHER_get_name(c)) == 0);
        CHECK(strcmp(info.cipher_rfc_name, SSL_CIPHER_standard_name(c)) == 0);
        p = SSL_SESSION_get_id(f.sess, &n);
        CHECK_EQ_INT(info.session_id_len, n);
        CHECK(memcmp(info.session_id, p, n) == 0);
        p = SSL_SESSION_get0_id_context(f.sess, &n);
        CHECK_EQ_INT(info.sid_ctx_len, n);
        CHECK_EQ_INT(info.time, SSL_SESSION_get_time(f.sess));
        CHECK_EQ_INT(info.timeout, SSL_SESSION_get_timeout(f.sess));
        /* Usable until the shorter of timeout and a ticket's hint. */
        CHECK_EQ_INT(info.expires,
                     info.time + (info.has_ticket
                                  && info.ticket_lifetime_hint > 0
                                  && info.ticket_lifetime_hint < info.timeout
                                  ? (int64_t)info.ticket_lifetime_hint
                                  : info.timeout));
        CHECK(info.remaining > 0 && info.remaining <= info.timeout);
        CHECK_EQ_INT(info.resumable, SSL_SESSION_is_resumable(f.sess));
        CHECK_EQ_INT(info.resumable, 1);
        CHECK_EQ_INT(info.has_ticket, SSL_SESSION_has_ticket(f.sess));
        SSL_SESSION_get0_ticket(f.sess, &tick, &tlen);
        CHECK_EQ_INT(info.ticket_len, tlen);
        CHECK_EQ_INT(info.ticket_lifetime_hint,
                     SSL_SESSION_get_ticket_lifetime_hint(f.sess));
        CHECK_EQ_INT(info.max_early_data,
                     SSL_SESSION_get_max_early_data(f.sess));
        CHECK_EQ_INT(info.master_key_len,
                     SSL_SESSION_get_master_key(f.sess, NULL, 0));
        /* TLS 1.3 tickets carry an age mask; TLS 1.2 sessions don't. */
        CHECK_EQ_INT(info.has_ticket_age_add,
                     combos[i].version == TLS1_3_VERSION);
        CHECK_EQ_INT(info.extended_master_secret,
                     combos[i].version == TLS1_2_VERSION);
        CHECK(info.alpn[0] == '\0');
        /* No SNI callback on the server: it does not ack the name. */
        CHECK(SSL_SESSION_get0_hostname(f.sess) == NULL);
        CHECK(info.sni[0] == '\0');
        CHECK(ERR_peek_error() == 0);
        fixture_free(&f);
    }
}

static void inspect_reports_peer_certificate(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_session_info info;
        struct tlsr_error err;
        X509 *peer;
        ASN1_TIME *epoch;
        uint8_t *der = NULL, md[32];
        int day = 0, sec = 0, n;
        unsigned int mdlen;
        int64_t now = (int64_t)time(NULL);

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        CHECK_CODE(tlsr_session_inspect(f.sess, 0, &info, &err), 0, &err);
        peer = SSL_SESSION_get0_peer(f.sess);
        CHECK(peer != NULL);
        CHECK_EQ_INT(info.has_peer, 1);
        CHECK(strcmp(info.peer_subject, "CN=localhost") == 0);
        CHECK(strcmp(info.peer_issuer, "CN=localhost") == 0);
        /* notAfter: tls_pair certificates live 30 days. */
        epoch = ASN1_TIME_set(NULL, 0);
        CHECK(epoch != NULL);
        CHECK(ASN1_TIME_diff(&day, &sec, epoch, X509_get0_notAfter(peer)));
        ASN1_TIME_free(epoch);
        CHECK_EQ_INT(info.peer_not_after, (int64_t)day * 86400 + sec);
        CHECK(info.peer_not_after > now + 29 * 86400);
        CHECK(info.peer_not_after <= now + 30 * 86400 + 60);
        /* SHA-256 of the certificate's DER, computed independently. */
        n = i2d_X509(peer, &der);
        CHECK(n > 0);
        CHECK(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL));
        OPENSSL_free(der);
        CHECK(memcmp(info.peer_sha256, md, 32) == 0);
        /* The test client does not verify: a self-signed leaf is 18. */
        CHECK_EQ_INT(info.verify_result,
                     X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
        fixture_free(&f);
    }
}

static void inspect_agrees_with_openssl_sess_id_text(void)
{
    size_t i;

    for (i = 0; i < NCOMBOS; i++) {
        struct fixture f;
        struct tlsr_session_info info;
        struct tlsr_error err;
        char *text, v[256], hex[65];

        CHECK(fixture_make(&f, combos[i].key_type, combos[i].version));
        CHECK_CODE(tlsr_session_inspect(f.sess, 0, &info, &err), 0, &err);
        text = sess_id_text(f.sess);
        CHECK(text != NULL);
        CHECK(field(text, "Protocol  : ", v, sizeof(v)));
        CHECK(strcmp(v, info.protocol_name) == 0);
        CHECK(field(text, "Cipher    : ", v, sizeof(v)));
        CHECK(strcmp(v, info.cipher_name) == 0);
        CHECK(field(text, "Session-ID: ", v, sizeof(v)));
        hex_upper(info.session_id, info.session_id_len, hex);
        CHECK(strcmp(v, hex) == 0);
        CHECK(field(text, "Start Time: ", v, sizeof(v)));
        CHECK_EQ_INT(strtoll(v, NULL, 10), info.time);
        CHECK(field(text, "Timeout   : ", v, sizeof(v)));
        CHECK_EQ_INT(strtoll(v, NULL, 10), info.timeout);
        CHECK(field(text, "Verify return code: ", v, sizeof(v)));
        CHECK_EQ_INT(strtoll(v, NULL, 10), info.verify_result);
        CHECK(field(text, "Extended master secret: ", v, sizeof(v)));
        CHECK(strcmp(v, info.extended_master_secret ? "yes" : "no") == 0);
        CHECK(field(text, "TLS session ticket lifetime hint: ", v,
                    sizeof(v)));
        CHECK_EQ_INT(strtoll(v, NULL, 10), info.ticket_lifetime_hint);
        if (info.protocol_version == TLS1_3_VERSION) {
            CHECK(field(text, "Max Early Data: ", v, sizeof(v)));
            CHECK_EQ_INT(strtoll(v, NULL, 10), info.max_early_data);
        }
        /* The secret's length matches the hex the CLI prints. */
        CHECK(field(text, info.protocol_version == TLS1_3_VERSION
                              ? "Resumption PSK: " : "Master-Key: ",
                    v, sizeof(v)));
        CHECK_EQ_INT(strlen(v), 2 * info.master_key_len);
        fixture_free(&f);
    }
}

static void remaining_is_counted_from_now_and_never_negative(void)
{
    struct fixture f;
    struct tlsr_session_info info;
    struct tlsr_error err;

    CHECK(fixture_make(&f, TP_EC, TLS1_3_VERSION));
    CHECK(SSL_SESSION_set_time(f.sess, 1000000) != 0);
    CHECK(SSL_SESSION_set_timeout(f.sess, 300) != 0);
    CHECK_CODE(tlsr_session_inspect(f.sess, 1000000 + 100, &info, &err), 0,
               &err);
    CHECK_EQ_INT(info.time, 1000000);
    CHECK_EQ_INT(info.timeout, 300);
    CHECK_EQ_INT(info.expires, 1000300);
    CHECK_EQ_INT(info.remaining, 200);
    CHECK_CODE(tlsr_session_inspect(f.sess, 1000300, &info, &err), 0, &err);
    CHECK_EQ_INT(info.remaining, 0);
    CHECK_CODE(tlsr_session_inspect(f.sess, 2000000, &info, &err), 0, &err);
    CHECK_EQ_INT(info.remaining, 0);
    /* now == 0: the current time, long past 1970's session. */
    CHECK_CODE(tlsr_session_inspect(f.sess, 0, &info, &err), 0, &err);
    CHECK_EQ_INT(info.remaining, 0);
    fixture_free(&f);
}

/* A ticket whose lifetime hint (600 s) is shorter than OpenSSL's timeout
 * (7200 s) stops being usable after the hint: inspect reports what the
 * store uses, not "7199 s left" (issue 9). */
static void test_regression_expires_uses_ticket_lifetime_hint(void)
{
    struct fixture f;
    struct tlsr_session_info info;
    struct tlsr_error err;
    int v, reused = -1;

    for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        f.server = tp_server_ctx(TP_EC, v);
        f.client = tp_client_ctx(v);
        f.sess = f.server_sess = NULL;
        CHECK(f.server != NULL && f.client != NULL);
        /* The server's session timeout is the hint it sends. */
        SSL_CTX_set_timeout(f.server, 600);
        f.sess = tp_connect2(f.server, f.client, NULL, &reused,
                             &f.server_sess);
        CHECK(f.sess != NULL && SSL_SESSION_has_ticket(f.sess));
        CHECK_EQ_INT(SSL_SESSION_get_ticket_lifetime_hint(f.sess), 600);
        CHECK(SSL_SESSION_set_time(f.sess, 1000000) != 0);
        CHECK(SSL_SESSION_set_timeout(f.sess, 7200) != 0);
        CHECK_CODE(tlsr_session_inspect(f.sess, 1000001, &info, &err), 0,
                   &err);
        CHECK_EQ_INT(info.timeout, 7200);       /* OpenSSL's, unchanged */
        CHECK_EQ_INT(info.ticket_lifetime_hint, 600);
        CHECK_EQ_INT(info.expires, 1000600);
        CHECK_EQ_INT(info.remaining, 599);
        /* A hint longer than the timeout does not extend it. */
        CHECK(SSL_SESSION_set_timeout(f.sess, 300) != 0);
        CHECK_CODE(tlsr_session_inspect(f.sess, 1000001, &info, &err), 0,
                   &err);
        CHECK_EQ_INT(info.expires, 1000300);
        fixture_free(&f);
    }
}

/* time and timeout come from the DER as any int64, now from the caller:
 * expires and remaining saturate instead of overflowing (UBSan). */
static void far_future_time_and_extreme_now_saturate(void)
{
    struct fixture f;
    struct tlsr_session_info info;
    struct tlsr_error err;

    CHECK(fixture_make(&f, TP_EC, TLS1_3_VERSION));
    CHECK(SSL_SESSION_set_time(f.sess, LONG_MAX - 5) != 0);
    CHECK(SSL_SESSION_set_timeout(f.sess, 7200) != 0);
    CHECK_CODE(tlsr_session_inspect(f.sess, 0, &info, &err), 0, &err);
    CHECK(info.expires == INT64_MAX);
    CHECK(info.remaining > 0);
    CHECK_CODE(tlsr_session_inspect(f.sess, INT64_MIN, &info, &err), 0,
               &err);
    CHECK(info.remaining == INT64_MAX);
    CHECK(SSL_SESSION_set_time(f.sess, 1000000) != 0);
    CHECK_CODE(tlsr_session_inspect(f.sess, INT64_MIN, &info, &err), 0,
               &err);
    CHECK(info.expires == 1007200);
    CHECK(info.remaining == INT64_MAX);
    fixture_free(&f);
}

static int ack_server_name(SSL *s, int *alert, void *arg)
{
    (void)s;
    (void)alert;
    (void)arg;
    return SSL_TLSEXT_ERR_OK;
}

/* A server that acks SNI stores the name in its session, and the client
 * copies it into its own. */
static void acked_sni_is_reported_on_both_sides(void)
{
    int versions[2] = { TLS1_2_VERSION, TLS1_3_VERSION }, v;

    for (v = 0; v < 2; v++) {
        struct tlsr_session_info info;
        struct tlsr_error err;
        SSL_CTX *s = tp_server_ctx(TP_EC, versions[v]);
        SSL_CTX *c = tp_client_ctx(versions[v]);
        SSL_SESSION *cs, *ss = NULL;
        int reused;

        CHECK(s != NULL && c != NULL);
        SSL_CTX_set_tlsext_servername_callback(s, ack_server_name);
        cs = tp_connect2(s, c, NULL, &reused, &ss);
        CHECK(cs != NULL && ss != NULL);
        CHECK_CODE(tlsr_session_inspect(ss, 0, &info, &err), 0, &err);
        CHECK(strcmp(info.sni, "localhost") == 0);
        CHECK_CODE(tlsr_session_inspect(cs, 0, &info, &err), 0, &err);
        CHECK(strcmp(info.sni, "localhost") == 0);
        CHECK(strcmp(info.sni, SSL_SESSION_get0_hostname(cs)) == 0);
        SSL_SESSION_free(cs);
        SSL_SESSION_free(ss);
        SSL_CTX_free(s);
        SSL_CTX_free(c);
    }
}

static int select_h2(SSL *s, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h2[] = { 2, 'h', '2' };
    unsigned char *o;

    (void)s;
    (void)arg;
    if (SSL_select_next_proto(&o, outlen, h2, sizeof(h2), in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

static void inspect_reports_selected_alpn(void)
{
    int versions[2] = { TLS1_2_VERSION, TLS1_3_VERSION }, v;

    for (v = 0; v < 2; v++) {
        static const unsigned char protos[] = { 8, 'h', 't', 't', 'p', '/',
                                                '1', '.', '1', 2, 'h', '2' };
        SSL_CTX *s = tp_server_ctx(TP_EC, versions[v]);
        SSL_CTX *c = tp_client_ctx(versions[v]);
        struct tlsr_session_info info;
        struct tlsr_error err;
        SSL_SESSION *sess;
        int reused;

        CHECK(s != NULL && c != NULL);
        SSL_CTX_set_alpn_select_cb(s, select_h2, NULL);
        CHECK(SSL_CTX_set_alpn_protos(c, protos, sizeof(protos)) == 0);
        sess = tp_connect(s, c, NULL, &reused);
        CHECK(sess != NULL);
        CHECK_CODE(tlsr_session_inspect(sess, 0, &info, &err), 0, &err);
        CHECK(strcmp(info.alpn, "h2") == 0);
        SSL_SESSION_free(sess);
        SSL_CTX_free(s);
        SSL_CTX_free(c);
    }
}

static void long_strings_are_truncated_and_terminated(void)
{
    struct fixture f;
    struct tlsr_session_info info;
    struct tlsr_error err;
    char host[400];
    uint8_t alpn[255];

    CHECK(fixture_make(&f, TP_EC, TLS1_2_VERSION));
    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    memset(alpn, 'b', sizeof(alpn));
    CHECK(SSL_SESSION_set1_hostname(f.sess, host) == 1);
    CHECK(SSL_SESSION_set1_alpn_selected(f.sess, alpn, sizeof(alpn)) == 1);
    memset(&info, 0x55, sizeof(info));
    CHECK_CODE(tlsr_session_inspect(f.sess, 0, &info, &err), 0, &err);
    CHECK_EQ_INT(strlen(info.sni), sizeof(info.sni) - 1);
    CHECK_EQ_INT(strlen(info.alpn), 255);
    fixture_free(&f);
}

static void inspect_reads_der_only_fields_after_round_trip(void)
{
    struct fixture f;
    struct tlsr_session_info a, b;
    struct tlsr_error err;
    uint8_t buf[8192];
    size_t len = sizeof(buf);
    SSL_SESSION *back;

    CHECK(fixture_make(&f, TP_RSA, TLS1_3_VERSION));
    CHECK_CODE(tlsr_session_serialize(f.sess, TLSR_FORMAT_PEM, 0, buf, &len,
                                      &err), 0, &err);
    back = tlsr_session_parse(buf, len, &err);
    CHECK(back != NULL);
    CHECK_CODE(tlsr_session_inspect(f.sess, 5, &a, &err), 0, &err);
    CHECK_CODE(tlsr_session_inspect(back, 5, &b, &err), 0, &err);
    /* Everything survives the trip, field by field. */
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK(b.has_ticket_age_add);
    tlsr_session_free(back);
    fixture_free(&f);
}

static void inspect_of_empty_session_and_misuse(void)
{
    SSL_SESSION *s = SSL_SESSION_new();
    struct tlsr_session_info info;
    struct tlsr_error err;

    CHECK(s != NULL);
    CHECK_CODE(tlsr_session_inspect(s, 0, &info, &err), 0, &err);
    CHECK_EQ_INT(info.resumable, 0);
    CHECK_EQ_INT(info.has_peer, 0);
    CHECK_EQ_INT(info.has_ticket, 0);
    CHECK_EQ_INT(info.master_key_len, 0);
    CHECK(info.cipher_name[0] == '\0');
    CHECK(ERR_peek_error() == 0);
    CHECK_CODE(tlsr_session_inspect(NULL, 0, &info, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_session_inspect(s, 0, NULL, &err), TLSR_EINVAL, &err);
    tlsr_session_free(s);
}

/* Regression (fuzz_parse): parse accepted a peer certificate whose notAfter
 * is no valid time, then inspect failed on it.  Now inspect reports 0. */
static void inspect_survives_peer_notafter_not_a_time(void)
{
    const char *root = getenv("TLSR_ROOT");
    char path[1024];
    uint8_t buf[8192];
    size_t n;
    FILE *f;
    SSL_SESSION *s;
    struct tlsr_session_info info;
    struct tlsr_error err;

    snprintf(path, sizeof(path), "%s/tests/vectors/regress/"
             "peer-notafter-not-a-time.der", root != NULL ? root : ".");
    f = fopen(path, "rb");
    CHECK(f != NULL);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    s = tlsr_session_parse(buf, n, &err);
    CHECK(s != NULL);
    CHECK_CODE(tlsr_session_inspect(s, 0, &info, &err), TLSR_OK, &err);
    CHECK_EQ_INT(info.has_peer, 1);
    CHECK_EQ_INT(info.peer_not_after, 0);
    CHECK(ERR_peek_error() == 0);
    tlsr_session_free(s);
}

TESTS(T(inspect_matches_openssl_getters),
      T(inspect_reports_peer_certificate),
      T(inspect_agrees_with_openssl_sess_id_text),
      T(remaining_is_counted_from_now_and_never_negative),
      T(test_regression_expires_uses_ticket_lifetime_hint),
      T(far_future_time_and_extreme_now_saturate),
      T(acked_sni_is_reported_on_both_sides),
      T(inspect_reports_selected_alpn),
      T(long_strings_are_truncated_and_terminated),
      T(inspect_reads_der_only_fields_after_round_trip),
      T(inspect_of_empty_session_and_misuse),
      T(inspect_survives_peer_notafter_not_a_time))
