/*
 * Server session tickets: parse, key sets, and decryption of tickets that
 * real OpenSSL servers issued in in-memory handshakes (OpenSSL's own key
 * layout, and callbacks doing what nginx and Node do with 48-byte keys).
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

/* ---- helpers -------------------------------------------------------- */

/* A 48-byte key as nginx or Node holds it, for the server callbacks. */
struct key48 {
    unsigned char name[16], hmac[16], aes[16];
};

static void split48(const uint8_t *raw, int format, struct key48 *k)
{
    memcpy(k->name, raw, 16);
    if (format == TLSR_KEYS_NGINX48) {          /* name|aes|hmac */
        memcpy(k->aes, raw + 16, 16);
        memcpy(k->hmac, raw + 32, 16);
    } else {                                    /* Node: name|hmac|aes */
        memcpy(k->hmac, raw + 16, 16);
        memcpy(k->aes, raw + 32, 16);
    }
}

/* What ngx_ssl_session_ticket_key_callback and Node's
 * TicketCompatibilityCallback do with a 48-byte key: AES-128-CBC and
 * HMAC-SHA256 keyed with 16 bytes. */
static int key48_cb(SSL *s, unsigned char name[16], unsigned char iv[16],
                    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    struct key48 *k = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                  k->hmac, 16);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (enc) {
        memcpy(name, k->name, 16);
        if (RAND_bytes(iv, 16) != 1
            || EVP_EncryptInit_ex(ectx, EVP_aes_128_cbc(), NULL, k->aes, iv)
                   != 1
            || EVP_MAC_CTX_set_params(hctx, params) != 1)
            return -1;
        return 1;
    }
    if (memcmp(name, k->name, 16) != 0)
        return 0;
    if (EVP_MAC_CTX_set_params(hctx, params) != 1
        || EVP_DecryptInit_ex(ectx, EVP_aes_128_cbc(), NULL, k->aes, iv)
               != 1)
        return -1;
    return 1;
}

/* A fresh random key of the format. */
static int gen_key(int format, uint8_t *buf, size_t *len)
{
    struct tlsr_error err;

    *len = 80;
    return tlsr_ticket_keys_generate(format, buf, len, &err);
}

/* A key set holding one key. */
static struct tlsr_ticket_keys *one_key_set(const uint8_t *raw, size_t len,
                                            int format)
{
    struct tlsr_error err;
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(&err);

    if (keys != NULL
        && tlsr_ticket_keys_add(keys, raw, len, format, &err) != TLSR_OK) {
        fprintf(stderr, "  add: %s\n", err.msg);
        tlsr_ticket_keys_free(keys);
        keys = NULL;
    }
    return keys;
}

/*
 * One full handshake at version (client's max) against server; the ticket
 * the client received (malloc'd) and the server's session.  0 on success.
 */
static int ticket_from_handshake(SSL_CTX *server, int version,
                                 uint8_t **ticket, size_t *len,
                                 SSL_SESSION **server_sess)
{
    SSL_CTX *client = tp_client_ctx(version);
    SSL_SESSION *cs = NULL;
    const unsigned char *t = NULL;
    size_t tlen = 0;
    int reused = -1, rc = -1;

    *ticket = NULL;
    *server_sess = NULL;
    if (client == NULL)
        return -1;
    cs = tp_connect2(server, client, NULL, &reused, server_sess);
    if (cs != NULL && *server_sess != NULL && reused == 0
        && SSL_SESSION_get_protocol_version(cs) == version) {
        SSL_SESSION_get0_ticket(cs, &t, &tlen);
        if (tlen > 0 && (*ticket = malloc(tlen)) != NULL) {
            memcpy(*ticket, t, tlen);
            *len = tlen;
            rc = 0;
        }
    }
    if (rc != 0) {
        SSL_SESSION_free(*server_sess);
        *server_sess = NULL;
    }
    SSL_SESSION_free(cs);
    SSL_CTX_free(client);
    return rc;
}

/* The decrypted session is the server's: same secret, cipher, protocol. */
static int same_session(const SSL_SESSION *got, const SSL_SESSION *want)
{
    unsigned char a[64], b[64];
    size_t alen = SSL_SESSION_get_master_key(got, a, sizeof(a));
    size_t blen = SSL_SESSION_get_master_key(want, b, sizeof(b));
    int ok = 1;

    if (alen == 0 || alen != blen || memcmp(a, b, alen) != 0) {
        fprintf(stderr, "  master key differs (%zu vs %zu bytes)\n", alen,
                blen);
        ok = 0;
    }
    if (SSL_CIPHER_get_id(SSL_SESSION_get0_cipher(got))
        != SSL_CIPHER_get_id(SSL_SESSION_get0_cipher(want))) {
        fprintf(stderr, "  cipher differs\n");
        ok = 0;
    }
    if (SSL_SESSION_get_protocol_version(got)
        != SSL_SESSION_get_protocol_version(want)) {
        fprintf(stderr, "  protocol differs\n");
        ok = 0;
    }
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return ok;
}

/*
 * Take a ticket from a fresh handshake at version, decrypt it with keys and
 * compare with the server's session.  TLSR_OK if all matches, the
 * decryption's TLSR_E* code if it failed, 1 (and a message) otherwise.
 */
static int round_trip(SSL_CTX *server, int version,
                      const struct tlsr_ticket_keys *keys)
{
    struct tlsr_error err = { 0, "" };
    SSL_SESSION *ss = NULL, *got;
    uint8_t *ticket = NULL;
    size_t len = 0;
    int rc = 1;

    if (ticket_from_handshake(server, version, &ticket, &len, &ss) != 0) {
        fprintf(stderr, "  no ticket from a %#x handshake\n", version);
        return 1;
    }
    got = tlsr_ticket_decrypt(keys, ticket, len, &err);
    if (ERR_peek_error() != 0)
        fprintf(stderr, "  OpenSSL errors left after decrypt\n");
    else if (got == NULL)
        rc = err.code;
    else if (same_session(got, ss))
        rc = TLSR_OK;
    SSL_SESSION_free(got);
    SSL_SESSION_free(ss);
    free(ticket);
    return rc;
}

/* A server context issuing tickets under a 48-byte key the nginx/Node way. */
static SSL_CTX *key48_server(int key_type, struct key48 *k)
{
    SSL_CTX *s = tp_server_ctx(key_type, TLS1_3_VERSION);

    if (s != NULL) {
        SSL_CTX_set_app_data(s, k);
        if (SSL_CTX_set_tlsext_ticket_key_evp_cb(s, key48_cb) != 1) {
            SSL_CTX_free(s);
            s = NULL;
        }
    }
    return s;
}

/* A server with a fresh OPENSSL80 key; its raw bytes in raw[80]. */
static SSL_CTX *openssl80_server(int key_type, uint8_t raw[80])
{
    SSL_CTX *s = tp_server_ctx(key_type, TLS1_3_VERSION);
    size_t len;

    if (s != NULL && (gen_key(TLSR_KEYS_OPENSSL80, raw, &len) != TLSR_OK
                      || SSL_CTX_set_tlsext_ticket_keys(s, raw, 80) != 1)) {
        SSL_CTX_free(s);
        s = NULL;
    }
    return s;
}

/*
 * Seal plaintext into a ticket the OpenSSL way with an OPENSSL80 key,
 * padding or not (for bad-padding tests).  Returns the ticket length.
 */
static size_t seal80(const uint8_t raw[80], const uint8_t *pt, size_t ptlen,
                     int pad, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned int mlen = 0;
    int n1 = 0, n2 = 0;
    size_t ct;

    memcpy(out, raw, 16);
    RAND_bytes(out + 16, 16);
    EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, raw + 48, out + 16);
    EVP_CIPHER_CTX_set_padding(ctx, pad);
    EVP_EncryptUpdate(ctx, out + 32, &n1, pt, (int)ptlen);
    EVP_EncryptFinal_ex(ctx, out + 32 + n1, &n2);
    EVP_CIPHER_CTX_free(ctx);
    ct = (size_t)n1 + (size_t)n2;
    HMAC(EVP_sha256(), raw + 16, 32, out, 32 + ct, out + 32 + ct, &mlen);
    return 32 + ct + mlen;
}

/* A real OPENSSL80 ticket for the negative tests: key, ticket. */
struct fixture {
    SSL_CTX *server;
    uint8_t raw[80];
    uint8_t *ticket;
    size_t len;
    struct tlsr_ticket_keys *keys;
};

static int fixture_open(struct fixture *f)
{
    SSL_SESSION *ss = NULL;

    memset(f, 0, sizeof(*f));
    f->server = openssl80_server(TP_EC, f->raw);
    if (f->server == NULL
        || ticket_from_handshake(f->server, TLS1_3_VERSION, &f->ticket,
                                 &f->len, &ss) != 0)
        return -1;
    SSL_SESSION_free(ss);
    f->keys = one_key_set(f->raw, 80, TLSR_KEYS_OPENSSL80);
    return f->keys != NULL ? 0 : -1;
}

static void fixture_close(struct fixture *f)
{
    tlsr_ticket_keys_free(f->keys);
    free(f->ticket);
    SSL_CTX_free(f->server);
}

/* Decrypt must fail with code, return NULL and leave no OpenSSL errors. */
static int fails_with(const struct tlsr_ticket_keys *keys,
                      const uint8_t *ticket, size_t len, int code)
{
    struct tlsr_error err = { 0, "" };
    SSL_SESSION *s = tlsr_ticket_decrypt(keys, ticket, len, &err);

    if (s != NULL || err.code != code || err.msg[0] == '\0'
        || ERR_peek_error() != 0) {
        fprintf(stderr, "  expected %s, got %s (%s)%s%s\n",
                tlsr_error_name(code), tlsr_error_name(err.code), err.msg,
                s != NULL ? ", a session" : "",
                ERR_peek_error() != 0 ? ", OpenSSL errors left" : "");
        SSL_SESSION_free(s);
        ERR_clear_error();
        return 0;
    }
    return 1;
}

/* ---- OPENSSL80: OpenSSL's own ticket keys ---------------------------- */

static void openssl80_tickets_decrypt_to_server_session(void)
{
    static const int types[] = { TP_RSA, TP_EC };
    size_t i;

    for (i = 0; i < 2; i++) {
        uint8_t raw[80];
        SSL_CTX *s = openssl80_server(types[i], raw);
        struct tlsr_ticket_keys *keys = one_key_set(raw, 80,
                                                    TLSR_KEYS_OPENSSL80);
        int r12 = 1, r13 = 1;

        if (s != NULL && keys != NULL) {
            r12 = round_trip(s, TLS1_2_VERSION, keys);
            r13 = round_trip(s, TLS1_3_VERSION, keys);
        }
        tlsr_ticket_keys_free(keys);
        SSL_CTX_free(s);
        OPENSSL_cleanse(raw, sizeof(raw));
        CHECK_EQ_INT(r12, TLSR_OK);
        CHECK_EQ_INT(r13, TLSR_OK);
    }
}

/* ---- 48-byte keys: nginx and Node layouts ----------------------------- */

static void key48_tickets_decrypt(int format)
{
    static const int types[] = { TP_RSA, TP_EC };
    size_t i;

    for (i = 0; i < 2; i++) {
        uint8_t raw[80];
        size_t len;
        struct key48 k;
        SSL_CTX *s;
        struct tlsr_ticket_keys *keys;
        int r12 = 1, r13 = 1, wrong = 1;

        CHECK_EQ_INT(gen_key(format, raw, &len), TLSR_OK);
        CHECK_EQ_INT(len, 48);
        split48(raw, format, &k);
        s = key48_server(types[i], &k);
        keys = one_key_set(raw, 48, format);
        if (s != NULL && keys != NULL) {
            struct tlsr_ticket_keys *other;
            int ofmt = format == TLSR_KEYS_NGINX48 ? TLSR_KEYS_NODE48
                                                   : TLSR_KEYS_NGINX48;

            r12 = round_trip(s, TLS1_2_VERSION, keys);
            r13 = round_trip(s, TLS1_3_VERSION, keys);
            /* The same bytes read in the other 48-byte layout swap the
             * HMAC and AES keys: the HMAC must not verify. */
            other = one_key_set(raw, 48, ofmt);
            if (other != NULL)
                wrong = round_trip(s, TLS1_3_VERSION, other);
            tlsr_ticket_keys_free(other);
        }
        tlsr_ticket_keys_free(keys);
        SSL_CTX_free(s);
        CHECK_EQ_INT(r12, TLSR_OK);
        CHECK_EQ_INT(r13, TLSR_OK);
        CHECK_EQ_INT(wrong, TLSR_EMAC);
    }
}

static void nginx48_tickets_decrypt_to_server_session(void)
{
    key48_tickets_decrypt(TLSR_KEYS_NGINX48);
}

static void node48_tickets_decrypt_to_server_session(void)
{
    key48_tickets_decrypt(TLSR_KEYS_NODE48);
}

/* ---- rotation --------------------------------------------------------- */

static void rotation_finds_an_older_key_by_name(void)
{
    struct fixture f;
    struct tlsr_error err;
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(&err);
    uint8_t other[80];
    size_t len;
    SSL_SESSION *s = NULL;
    int ok = fixture_open(&f) == 0 && keys != NULL;

    /* Newest first, as servers list them; the ticket's key comes last. */
    if (ok) {
        ok = gen_key(TLSR_KEYS_NGINX48, other, &len) == TLSR_OK
             && tlsr_ticket_keys_add(keys, other, 48, TLSR_KEYS_NGINX48,
                                     &err) == TLSR_OK
             && gen_key(TLSR_KEYS_OPENSSL80, other, &len) == TLSR_OK
             && tlsr_ticket_keys_add(keys, other, 80, TLSR_KEYS_OPENSSL80,
                                     &err) == TLSR_OK
             && tlsr_ticket_keys_add(keys, f.raw, 80, TLSR_KEYS_OPENSSL80,
                                     &err) == TLSR_OK;
        if (ok)
            s = tlsr_ticket_decrypt(keys, f.ticket, f.len, &err);
    }
    tlsr_ticket_keys_free(keys);
    fixture_close(&f);
    CHECK(ok);
    CHECK(s != NULL);
    SSL_SESSION_free(s);
}

static void keys_sharing_a_name_try_each_until_mac_verifies(void)
{
    struct fixture f;
    struct tlsr_error err;
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(&err);
    uint8_t impostor[80];
    size_t len;
    SSL_SESSION *s = NULL;
    int ok = fixture_open(&f) == 0 && keys != NULL
             && gen_key(TLSR_KEYS_OPENSSL80, impostor, &len) == TLSR_OK;

    if (ok) {
        memcpy(impostor, f.raw, 16);    /* same name, other secrets */
        ok = tlsr_ticket_keys_add(keys, impostor, 80, TLSR_KEYS_OPENSSL80,
                                  &err) == TLSR_OK
             && tlsr_ticket_keys_add(keys, f.raw, 80, TLSR_KEYS_OPENSSL80,
                                     &err) == TLSR_OK;
        if (ok)
            s = tlsr_ticket_decrypt(keys, f.ticket, f.len, &err);
    }
    tlsr_ticket_keys_free(keys);
    fixture_close(&f);
    CHECK(ok);
    CHECK(s != NULL);
    SSL_SESSION_free(s);
}

/* ---- negative: wrong keys, tampering, truncation ---------------------- */

static void unknown_key_name_gives_ekeyname(void)
{
    struct fixture f;
    uint8_t other[80];
    size_t len;
    struct tlsr_ticket_keys *keys = NULL;
    int ok = fixture_open(&f) == 0
             && gen_key(TLSR_KEYS_OPENSSL80, other, &len) == TLSR_OK
             && (keys = one_key_set(other, 80, TLSR_KEYS_OPENSSL80)) != NULL
             && fails_with(keys, f.ticket, f.len, TLSR_EKEYNAME);
    struct tlsr_error err;
    struct tlsr_ticket_keys *empty = tlsr_ticket_keys_new(&err);

    ok = ok && empty != NULL && fails_with(empty, f.ticket, f.len,
                                           TLSR_EKEYNAME);
    tlsr_ticket_keys_free(empty);
    tlsr_ticket_keys_free(keys);
    fixture_close(&f);
    CHECK(ok);
}

static void same_name_other_secret_gives_emac(void)
{
    struct fixture f;
    uint8_t other[80];
    size_t len;
    struct tlsr_ticket_keys *keys = NULL;
    int ok = fixture_open(&f) == 0
             && gen_key(TLSR_KEYS_OPENSSL80, other, &len) == TLSR_OK;

    if (ok) {
        memcpy(other, f.raw, 16);
        ok = (keys = one_key_set(other, 80, TLSR_KEYS_OPENSSL80)) != NULL
             && fails_with(keys, f.ticket, f.len, TLSR_EMAC);
    }
    tlsr_ticket_keys_free(keys);
    fixture_close(&f);
    CHECK(ok);
}

/* Same HMAC key, other AES key: the MAC verifies, decryption must not
 * produce a session (guards "never return garbage"). */
static void right_mac_key_wrong_aes_key_gives_edecrypt(void)
{
    struct fixture f;
    uint8_t other[80];
    size_t len;
    struct tlsr_ticket_keys *keys = NULL;
    int ok = fixture_open(&f) == 0
             && gen_key(TLSR_KEYS_OPENSSL80, other, &len) == TLSR_OK;

    if (ok) {
        memcpy(other, f.raw, 48);       /* name and HMAC key */
        ok = (keys = one_key_set(other, 80, TLSR_KEYS_OPENSSL80)) != NULL
             && fails_with(keys, f.ticket, f.len, TLSR_EDECRYPT);
    }
    tlsr_ticket_keys_free(keys);
    fixture_close(&f);
    CHECK(ok);
}

static void one_flipped_bit_anywhere_is_rejected(void)
{
    struct fixture f;
    uint8_t *t;
    size_t i;
    int ok = fixture_open(&f) == 0;

    t = ok ? malloc(f.len) : NULL;
    ok = ok && t != NULL;
    /* Every byte of name (EKEYNAME), IV, ciphertext and MAC (EMAC). */
    for (i = 0; ok && i < f.len; i++) {
        memcpy(t, f.ticket, f.len);
        t[i] ^= (uint8_t)(1u << (i % 8));
        ok = fails_with(f.keys, t, f.len,
                        i < 16 ? TLSR_EKEYNAME : TLSR_EMAC);
        if (!ok)
            fprintf(stderr, "  at byte %zu of %zu\n", i, f.len);
    }
    free(t);
    fixture_close(&f);
    CHECK(ok);
}

static void truncated_ticket_gives_eticket_or_emac(void)
{
    struct fixture f;
    int ok = fixture_open(&f) == 0;
    size_t n;

    for (n = 0; ok && n < f.len; n++) {
        /* Whole blocks less still parse: then the MAC catches it. */
        int want = n >= 80 && (n - 64) % 16 == 0 ? TLSR_EMAC : TLSR_ETICKET;

        ok = fails_with(f.keys, f.ticket, n, want);
        if (!ok)
            fprintf(stderr, "  at length %zu\n", n);
    }
    fixture_close(&f);
    CHECK(ok);
}

static void garbage_plaintext_gives_edecrypt(void)
{
    uint8_t raw[80], pt[96], t[256];
    size_t len, tlen;
    struct tlsr_ticket_keys *keys;
    int ok;

    CHECK_EQ_INT(gen_key(TLSR_KEYS_OPENSSL80, raw, &len), TLSR_OK);
    keys = one_key_set(raw, 80, TLSR_KEYS_OPENSSL80);
    CHECK(keys != NULL);
    /* Random bytes, valid padding, valid MAC: not a session. */
    RAND_bytes(pt, sizeof(pt));
    tlen = seal80(raw, pt, sizeof(pt), 1, t);
    ok = fails_with(keys, t, tlen, TLSR_EDECRYPT);
    /* A DER SEQUENCE that is no session. */
    if (ok) {
        static const uint8_t seq[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

        tlen = seal80(raw, seq, sizeof(seq), 1, t);
        ok = fails_with(keys, t, tlen, TLSR_EDECRYPT);
    }
    /* Unpadded random blocks: the padding check fails. */
    if (ok) {
        pt[sizeof(pt) - 1] = 0;         /* 0 is never valid padding */
        tlen = seal80(raw, pt, sizeof(pt), 0, t);
        ok = fails_with(keys, t, tlen, TLSR_EDECRYPT);
    }
    /* Empty plaintext (one block of padding). */
    if (ok) {
        tlen = seal80(raw, pt, 0, 1, t);
        ok = tlen == 80 && fails_with(keys, t, tlen, TLSR_EDECRYPT);
    }
    tlsr_ticket_keys_free(keys);
    CHECK(ok);
}

/* ---- parse ------------------------------------------------------------ */

static void parse_splits_name_iv_ciphertext_mac(void)
{
    uint8_t t[16 + 16 + 48 + 32];
    struct tlsr_ticket_info info;
    struct tlsr_error err;
    size_t i;

    for (i = 0; i < sizeof(t); i++)
        t[i] = (uint8_t)i;
    CHECK_CODE(tlsr_ticket_parse(t, sizeof(t), &info, &err), TLSR_OK, &err);
    CHECK(memcmp(info.key_name, t, 16) == 0);
    CHECK(memcmp(info.iv, t + 16, 16) == 0);
    CHECK_EQ_INT(info.ciphertext_len, 48);
    CHECK(memcmp(info.mac, t + 80, 32) == 0);
    /* The smallest ticket: one block. */
    CHECK_CODE(tlsr_ticket_parse(t + 32, 80, &info, &err), TLSR_OK, &err);
    CHECK_EQ_INT(info.ciphertext_len, 16);
}

static void parse_rejects_bad_lengths_and_null(void)
{
    static uint8_t big[TLSR_MAX_INPUT + 64];
    struct tlsr_ticket_info info;
    struct tlsr_error err;

    CHECK_CODE(tlsr_ticket_parse(big, 0, &info, &err), TLSR_ETICKET, &err);
    CHECK_CODE(tlsr_ticket_parse(big, 64, &info, &err), TLSR_ETICKET, &err);
    CHECK_CODE(tlsr_ticket_parse(big, 79, &info, &err), TLSR_ETICKET, &err);
    CHECK_CODE(tlsr_ticket_parse(big, 81, &info, &err), TLSR_ETICKET, &err);
    CHECK_CODE(tlsr_ticket_parse(big, 95, &info, &err), TLSR_ETICKET, &err);
    CHECK(strstr(err.msg, "multiple") != NULL);
    CHECK_CODE(tlsr_ticket_parse(big, TLSR_MAX_INPUT, &info, &err), TLSR_OK,
               &err);
    CHECK_CODE(tlsr_ticket_parse(big, TLSR_MAX_INPUT + 16, &info, &err),
               TLSR_ETOOBIG, &err);
    CHECK_CODE(tlsr_ticket_parse(NULL, 96, &info, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ticket_parse(big, 96, NULL, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_ticket_parse(big, 96, &info, NULL), TLSR_OK, &err);
    CHECK(tlsr_ticket_decrypt(NULL, big, 96, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
}

/* ---- keys ------------------------------------------------------------- */

static void key_sizes_must_match_the_format(void)
{
    static const struct { int format; size_t good; } fmts[] = {
        { TLSR_KEYS_OPENSSL80, 80 }, { TLSR_KEYS_NGINX48, 48 },
        { TLSR_KEYS_NODE48, 48 },
    };
    static const size_t bad[] = { 0, 1, 16, 32, 47, 49, 64, 79, 81, 96 };
    uint8_t raw[128] = { 0 };
    struct tlsr_error err;
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(&err);
    size_t i, j;

    CHECK(keys != NULL);
    for (i = 0; i < 3; i++) {
        for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            if (tlsr_ticket_keys_add(keys, raw, bad[j], fmts[i].format, &err)
                != TLSR_EKEY) {
                fprintf(stderr, "  format %d accepted %zu bytes\n",
                        fmts[i].format, bad[j]);
                harness_failures++;
                tlsr_ticket_keys_free(keys);
                return;
            }
        }
        if (tlsr_ticket_keys_add(keys, raw, fmts[i].good, fmts[i].format,
                                 &err) != TLSR_OK) {
            harness_failures++;
            tlsr_ticket_keys_free(keys);
            return;
        }
    }
    i = (size_t)tlsr_ticket_keys_add(keys, raw, 48, 0, &err);
    j = (size_t)tlsr_ticket_keys_add(keys, raw, 80, 4, &err);
    tlsr_ticket_keys_free(keys);
    CHECK_EQ_INT((int)i, TLSR_EKEY);
    CHECK_EQ_INT((int)j, TLSR_EKEY);
    CHECK(strstr(err.msg, "format") != NULL);
}

static void key_set_holds_64_keys_then_refuses(void)
{
    uint8_t raw[80] = { 0 };
    struct tlsr_error err;
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(&err);
    int i, rc = TLSR_OK;

    CHECK(keys != NULL);
    for (i = 0; i < 64 && rc == TLSR_OK; i++) {
        raw[0] = (uint8_t)i;
        rc = tlsr_ticket_keys_add(keys, raw, 80, TLSR_KEYS_OPENSSL80, &err);
    }
    if (rc == TLSR_OK)
        rc = tlsr_ticket_keys_add(keys, raw, 80, TLSR_KEYS_OPENSSL80, &err);
    tlsr_ticket_keys_free(keys);
    CHECK_EQ_INT(i, 64);
    CHECK_EQ_INT(rc, TLSR_EINVAL);
}

static void key_functions_reject_null(void)
{
    uint8_t raw[80] = { 0 };
    struct tlsr_error err;
    struct tlsr_ticket_keys *keys = tlsr_ticket_keys_new(NULL);

    CHECK(keys != NULL);
    tlsr_ticket_keys_free(NULL);
    CHECK_EQ_INT(tlsr_ticket_keys_add(NULL, raw, 80, TLSR_KEYS_OPENSSL80,
                                      &err), TLSR_EINVAL);
    CHECK_EQ_INT(tlsr_ticket_keys_add(keys, NULL, 80, TLSR_KEYS_OPENSSL80,
                                      &err), TLSR_EINVAL);
    CHECK_EQ_INT(tlsr_ticket_keys_add(keys, raw, 80, TLSR_KEYS_OPENSSL80,
                                      NULL), TLSR_OK);
    CHECK(tlsr_ticket_decrypt(keys, NULL, 96, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_EQ_INT(tlsr_ticket_keys_generate(TLSR_KEYS_NODE48, raw, NULL,
                                           &err), TLSR_EINVAL);
    tlsr_ticket_keys_free(keys);
}

static void generated_keys_have_format_size_and_differ(void)
{
    static const struct { int format; size_t size; } fmts[] = {
        { TLSR_KEYS_OPENSSL80, 80 }, { TLSR_KEYS_NGINX48, 48 },
        { TLSR_KEYS_NODE48, 48 },
    };
    uint8_t a[80], b[80];
    struct tlsr_error err;
    size_t i, len;

    for (i = 0; i < 3; i++) {
        /* Ask, then fill. */
        len = 0;
        CHECK_CODE(tlsr_ticket_keys_generate(fmts[i].format, NULL, &len,
                                             &err), TLSR_OK, &err);
        CHECK_EQ_INT(len, fmts[i].size);
        len = fmts[i].size - 1;
        CHECK_CODE(tlsr_ticket_keys_generate(fmts[i].format, a, &len, &err),
                   TLSR_EBUFSIZE, &err);
        CHECK_EQ_INT(len, fmts[i].size);
        len = sizeof(a);
        CHECK_CODE(tlsr_ticket_keys_generate(fmts[i].format, a, &len, &err),
                   TLSR_OK, &err);
        CHECK_EQ_INT(len, fmts[i].size);
        len = sizeof(b);
        CHECK_CODE(tlsr_ticket_keys_generate(fmts[i].format, b, &len, &err),
                   TLSR_OK, &err);
        CHECK(memcmp(a, b, fmts[i].size) != 0);
    }
    len = sizeof(a);
    CHECK_CODE(tlsr_ticket_keys_generate(0, a, &len, &err), TLSR_EKEY, &err);
    CHECK_CODE(tlsr_ticket_keys_generate(99, NULL, &len, &err), TLSR_EKEY,
               &err);
}

TESTS(T(openssl80_tickets_decrypt_to_server_session),
      T(nginx48_tickets_decrypt_to_server_session),
      T(node48_tickets_decrypt_to_server_session),
      T(rotation_finds_an_older_key_by_name),
      T(keys_sharing_a_name_try_each_until_mac_verifies),
      T(unknown_key_name_gives_ekeyname),
      T(same_name_other_secret_gives_emac),
      T(right_mac_key_wrong_aes_key_gives_edecrypt),
      T(one_flipped_bit_anywhere_is_rejected),
      T(truncated_ticket_gives_eticket_or_emac),
      T(garbage_plaintext_gives_edecrypt),
      T(parse_splits_name_iv_ciphertext_mac),
      T(parse_rejects_bad_lengths_and_null),
      T(key_sizes_must_match_the_format),
      T(key_set_holds_64_keys_then_refuses),
      T(key_functions_reject_null),
      T(generated_keys_have_format_size_and_differ))
