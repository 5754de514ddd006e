/* The entry codec (csrc/entry_codec.c): store entries as bytes, for stores
 * kept outside a directory (Redis). */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static SSL_CTX *srv12, *srv13, *cli12, *cli13;
static const uint8_t KEY_A[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t KEY_B[32] = "fedcba9876543210fedcba9876543210";

static SSL_SESSION *fresh(int v)
{
    int reused = -1;

    if (srv13 == NULL) {
        srv12 = tp_server_ctx(TP_EC, TLS1_2_VERSION);
        srv13 = tp_server_ctx(TP_EC, TLS1_3_VERSION);
        cli12 = tp_client_ctx(TLS1_2_VERSION);
        cli13 = tp_client_ctx(TLS1_3_VERSION);
    }
    return v == 13 ? tp_connect(srv13, cli13, NULL, &reused)
                   : tp_connect(srv12, cli12, NULL, &reused);
}

static int resumes(int v, SSL_SESSION *sess)
{
    int reused = -1;
    SSL_SESSION *s = v == 13 ? tp_connect(srv13, cli13, sess, &reused)
                             : tp_connect(srv12, cli12, sess, &reused);

    SSL_SESSION_free(s);
    return reused == 1;
}

static struct tlsr_codec *codec(const uint8_t *key, uint32_t flags,
                                int64_t max_lifetime)
{
    struct tlsr_store_options o;

    tlsr_store_options_init(&o);
    o.seal_key = key;
    o.seal_key_len = key ? 32 : 0;
    o.flags = flags;
    o.max_lifetime = max_lifetime;
    return tlsr_codec_new(&o, NULL);
}

/* Encode sess under ("example.com", 443, scope) into buf. */
static int enc(struct tlsr_codec *c, SSL_SESSION *s, const char *scope,
               uint8_t *buf, size_t *len, int *kind)
{
    struct tlsr_error err;
    int64_t expires = 0;

    *len = TLSR_ENTRY_MAX;
    return tlsr_entry_encode(c, "example.com", 443, scope, s, buf, len,
                             &expires, kind, &err);
}

static uint8_t buf[TLSR_ENTRY_MAX];

static void round_trip(const uint8_t *key, uint32_t flags)
{
    struct tlsr_codec *c = codec(key, flags, 0);
    struct tlsr_error err;
    int v, kind = 0;
    size_t len;

    CHECK(c != NULL);
    for (v = 12; v <= 13; v++) {
        SSL_SESSION *s = fresh(v), *back;

        CHECK(s != NULL);
        CHECK_CODE(enc(c, s, "h2", buf, &len, &kind), TLSR_OK, &err);
        CHECK_EQ_INT(kind, v == 13 ? TLSR_ENTRY_T13 : TLSR_ENTRY_T12);
        CHECK((memmem(buf, len, "-----BEGIN SSL SESSION PARAMETERS-----",
                      38) != NULL) == (key == NULL));
        back = tlsr_entry_decode(c, buf, len, "EXAMPLE.com", 443, "h2", NULL,
                                 NULL, &err);
        CHECK(back != NULL);
        CHECK(tlsr_session_get_trust(back, &(struct tlsr_trust){0}, NULL)
              == TLSR_OK);
        /* A lean restore decodes no certificate but keeps its bytes (a
         * lean entry has none). */
        CHECK((SSL_SESSION_get0_peer(back) == NULL) == (flags != 0));
        if (!(flags & TLSR_STORE_LEAN)) {
            size_t n = 0;

            CHECK_CODE(tlsr_session_get_peer_der(back, NULL, &n, &err),
                       TLSR_OK, &err);
            CHECK(n > 100);
        }
        CHECK(resumes(v, back));
        SSL_SESSION_free(back);
        SSL_SESSION_free(s);
    }
    tlsr_codec_free(c);
}

static void round_trip_unsealed(void) { round_trip(NULL, 0); }
static void round_trip_sealed(void) { round_trip(KEY_A, 0); }
static void round_trip_lean(void) { round_trip(NULL, TLSR_STORE_LEAN); }
static void round_trip_sealed_lean(void) { round_trip(KEY_A, TLSR_STORE_LEAN); }
static void round_trip_restore_lean(void)
{
    round_trip(NULL, TLSR_STORE_RESTORE_LEAN);
    round_trip(KEY_A, TLSR_STORE_RESTORE_LEAN);
}

static void size_query_then_fill(void)
{
    struct tlsr_codec *c = codec(NULL, 0, 0);
    SSL_SESSION *s = fresh(13);
    struct tlsr_error err;
    size_t need = 0, small = 10;
    int64_t exp = 0;
    int kind = 0;

    CHECK(c != NULL && s != NULL);
    CHECK_CODE(tlsr_entry_encode(c, "h", 1, NULL, s, NULL, &need, &exp, &kind,
                                 &err), TLSR_OK, &err);
    CHECK(need > 100 && exp > 0 && kind == TLSR_ENTRY_T13);
    CHECK_CODE(tlsr_entry_encode(c, "h", 1, NULL, s, buf, &small, NULL, NULL,
                                 &err), TLSR_EBUFSIZE, &err);
    CHECK_EQ_INT(small, need);
    CHECK_CODE(tlsr_entry_encode(c, "h", 1, NULL, s, buf, &small, NULL, NULL,
                                 &err), TLSR_OK, &err);
    CHECK_EQ_INT(small, need);
    SSL_SESSION_free(s);
    tlsr_codec_free(c);
}

static void sealed_under_another_key_is_eseal(void)
{
    struct tlsr_codec *a = codec(KEY_A, 0, 0), *b = codec(KEY_B, 0, 0),
                      *plain = codec(NULL, 0, 0);
    SSL_SESSION *s = fresh(13);
    struct tlsr_error err;
    size_t len;
    int kind;

    CHECK(a && b && plain && s);
    CHECK_CODE(enc(a, s, "", buf, &len, &kind), TLSR_OK, &err);
    CHECK(tlsr_entry_decode(b, buf, len, "example.com", 443, "", NULL, NULL,
                            &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    CHECK(tlsr_entry_decode(plain, buf, len, "example.com", 443, "", NULL,
                            NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    /* and an unsealed entry in a sealed codec */
    CHECK_CODE(enc(plain, s, "", buf, &len, &kind), TLSR_OK, &err);
    CHECK(tlsr_entry_decode(a, buf, len, "example.com", 443, "", NULL, NULL,
                            &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    SSL_SESSION_free(s);
    tlsr_codec_free(a);
    tlsr_codec_free(b);
    tlsr_codec_free(plain);
}

static void tampered_entry_is_a_miss(void)
{
    const uint8_t *keys[2] = { NULL, KEY_A };
    SSL_SESSION *s = fresh(13);
    struct tlsr_error err;
    size_t len, i;
    int k, kind;

    CHECK(s != NULL);
    for (k = 0; k < 2; k++) {
        struct tlsr_codec *c = codec(keys[k], 0, 0);

        CHECK(c != NULL);
        CHECK_CODE(enc(c, s, "", buf, &len, &kind), TLSR_OK, &err);
        /* one flipped bit anywhere (header, PEM, ciphertext, tag) */
        for (i = 0; i < len; i += 7) {
            SSL_SESSION *back;

            buf[i] ^= 0x01;
            back = tlsr_entry_decode(c, buf, len, "example.com", 443, "",
                                     NULL, NULL, &err);
            buf[i] ^= 0x01;
            CHECK(back == NULL);
        }
        CHECK(tlsr_entry_decode(c, buf, len - 1, "example.com", 443, "",
                                NULL, NULL, &err) == NULL);
        CHECK(tlsr_entry_decode(c, (const uint8_t *)"GARBAGE", 7,
                                "example.com", 443, "", NULL, NULL, &err)
              == NULL);
        CHECK_EQ_INT(err.code, TLSR_ECORRUPT);
        CHECK(tlsr_entry_decode(c, buf, 0, "example.com", 443, "", NULL, NULL,
                                &err) == NULL);
        tlsr_codec_free(c);
    }
    SSL_SESSION_free(s);
}

static void another_keys_entry_is_enotfound(void)
{
    struct tlsr_codec *c = codec(KEY_A, 0, 0);
    SSL_SESSION *s = fresh(12);
    struct tlsr_error err;
    size_t len;
    int kind;

    CHECK(c != NULL && s != NULL);
    CHECK_CODE(enc(c, s, "h2", buf, &len, &kind), TLSR_OK, &err);
    CHECK(tlsr_entry_decode(c, buf, len, "example.com", 443, "", NULL, NULL,
                            &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(tlsr_entry_decode(c, buf, len, "example.com", 8443, "h2", NULL,
                            NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(tlsr_entry_decode(c, buf, len, "example.org", 443, "h2", NULL,
                            NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    SSL_SESSION_free(s);
    tlsr_codec_free(c);
}

static void expired_entry_is_enotfound(void)
{
    struct tlsr_codec *c = codec(NULL, 0, 1);   /* max_lifetime 1 s */
    SSL_SESSION *s = fresh(13);
    struct tlsr_error err;
    size_t len;
    int kind;

    CHECK(c != NULL && s != NULL);
    CHECK_CODE(enc(c, s, "", buf, &len, &kind), TLSR_OK, &err);
    sleep(2);
    CHECK(tlsr_entry_decode(c, buf, len, "example.com", 443, "", NULL, NULL,
                            &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    /* and an expired session is refused on encode, like a put */
    CHECK_CODE(enc(c, s, "", buf, &len, &kind), TLSR_ENOTRESUMABLE, &err);
    SSL_SESSION_free(s);
    tlsr_codec_free(c);
}

static void trust_refusal_is_etrust(void)
{
    struct tlsr_codec *c = codec(NULL, 0, 0);
    SSL_SESSION *s = fresh(13);
    struct tlsr_trust policy;
    struct tlsr_error err;
    size_t len;
    int kind;

    CHECK(c != NULL && s != NULL);
    CHECK_CODE(enc(c, s, "", buf, &len, &kind), TLSR_OK, &err);
    /* A session no one verified, offered to a verifying policy. */
    memset(&policy, 0, sizeof(policy));
    policy.verify = 1;
    CHECK(tlsr_entry_decode(c, buf, len, "example.com", 443, "", &policy,
                            cli13, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ETRUST);
    policy.verify = 0;
    SSL_SESSION_free(tlsr_entry_decode(c, buf, len, "example.com", 443, "",
                                       &policy, cli13, &err));
    CHECK_EQ_INT(err.code, TLSR_OK);
    SSL_SESSION_free(s);
    tlsr_codec_free(c);
}

static void key_is_the_store_hash_as_hex(void)
{
    char a[65], b[65];
    size_t la = 0, lb = sizeof(b);
    struct tlsr_error err;

    CHECK_CODE(tlsr_entry_key("example.com", 443, "", NULL, &la, &err),
               TLSR_OK, &err);
    CHECK_EQ_INT(la, 65);
    CHECK_CODE(tlsr_entry_key("example.com", 443, "", a, &la, &err), TLSR_OK,
               &err);
    CHECK_EQ_INT(la, 64);
    CHECK_EQ_INT(strspn(a, "0123456789abcdef"), 64);
    CHECK_CODE(tlsr_entry_key("EXAMPLE.COM", 443, NULL, b, &lb, &err),
               TLSR_OK, &err);
    CHECK(strcmp(a, b) == 0);
    lb = sizeof(b);
    CHECK_CODE(tlsr_entry_key("example.com", 443, "h2", b, &lb, &err),
               TLSR_OK, &err);
    CHECK(strcmp(a, b) != 0);
    lb = 10;
    CHECK_CODE(tlsr_entry_key("example.com", 443, "", b, &lb, &err),
               TLSR_EBUFSIZE, &err);
    CHECK_CODE(tlsr_entry_key("", 443, "", a, &la, &err), TLSR_EINVAL, &err);
    la = sizeof(a);
    CHECK_CODE(tlsr_entry_key("x", 0, "", a, &la, &err), TLSR_EINVAL, &err);
}

static void bad_arguments(void)
{
    struct tlsr_store_options o;
    struct tlsr_error err;
    size_t len = 0;

    tlsr_store_options_init(&o);
    o.seal_key = KEY_A;
    o.seal_key_len = 16;
    CHECK(tlsr_codec_new(&o, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EKEY);
    o.seal_key = NULL;
    o.seal_key_len = 0;
    o.flags = 4;
    CHECK(tlsr_codec_new(&o, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_CODE(tlsr_entry_encode(NULL, "h", 1, "", NULL, NULL, &len, NULL,
                                 NULL, &err), TLSR_EINVAL, &err);
    CHECK(tlsr_entry_decode(NULL, buf, 1, "h", 1, "", NULL, NULL, &err)
          == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    tlsr_codec_free(NULL);
}

/* A session stamped with CPython's "Python" session-id context resumed
 * nowhere else (nginx: handshake failed): entries carry none, the live
 * session keeps its own. */
static void regression_entries_carry_no_session_id_context(void)
{
    struct tlsr_codec *c = codec(NULL, 0, 0);
    SSL_SESSION *s = fresh(13), *back;
    struct tlsr_error err;
    unsigned int n = 0;
    size_t len;
    int kind;

    CHECK(c != NULL && s != NULL);
    CHECK(SSL_SESSION_set1_id_context(s, (const unsigned char *)"Python",
                                      7) == 1);
    CHECK_CODE(enc(c, s, "", buf, &len, &kind), TLSR_OK, &err);
    SSL_SESSION_get0_id_context(s, &n);
    CHECK_EQ_INT(n, 7);
    back = tlsr_entry_decode(c, buf, len, "example.com", 443, "", NULL, NULL,
                             &err);
    CHECK(back != NULL);
    SSL_SESSION_get0_id_context(back, &n);
    CHECK_EQ_INT(n, 0);
    CHECK(tlsr_session_get_trust(back, &(struct tlsr_trust){0}, NULL)
          == TLSR_OK);
    SSL_SESSION_free(back);
    SSL_SESSION_free(s);
    tlsr_codec_free(c);
}

static void cleanup(void)
{
    SSL_CTX_free(srv12);
    SSL_CTX_free(srv13);
    SSL_CTX_free(cli12);
    SSL_CTX_free(cli13);
}

TESTS(T(round_trip_unsealed), T(round_trip_sealed), T(round_trip_lean),
      T(round_trip_sealed_lean),
      T(round_trip_restore_lean), T(size_query_then_fill),
      T(sealed_under_another_key_is_eseal), T(tampered_entry_is_a_miss),
      T(another_keys_entry_is_enotfound), T(expired_entry_is_enotfound),
      T(trust_refusal_is_etrust), T(key_is_the_store_hash_as_hex),
      T(bad_arguments), T(regression_entries_carry_no_session_id_context),
      T(cleanup))
