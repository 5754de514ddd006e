/*
 * libFuzzer harness: any bytes -> tlsr_session_parse.  A rejected input must
 * come with a code and a message; an accepted one must inspect, serialize in
 * both formats (full and lean), and re-parse to the same bytes.  A lean
 * parse (no certificate decode) of it must succeed and encode lean to the
 * same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsresume.h"

/* An invariant the core must keep: report it, then crash for libFuzzer. */
#define REQUIRE(cond)                                                      \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "REQUIRE failed %s:%d: %s\n", __FILE__,        \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* Serialize into a fresh buffer; NULL on failure. */
static uint8_t *ser(const struct ssl_session_st *s, int fmt, unsigned flags,
                    size_t *len)
{
    struct tlsr_error err;
    uint8_t *buf;
    size_t need = 0, small = 1;
    uint8_t one[1];

    if (tlsr_session_serialize(s, fmt, flags, NULL, &need, &err) != 0)
        return NULL;
    REQUIRE(need > 0 && need <= 4 * TLSR_MAX_INPUT);
    /* a too-small buffer reports the size it needs */
    REQUIRE(tlsr_session_serialize(s, fmt, flags, one, &small, &err) ==
            TLSR_EBUFSIZE && small == need);
    buf = malloc(need);
    REQUIRE(buf != NULL);
    *len = need;
    REQUIRE(tlsr_session_serialize(s, fmt, flags, buf, len, &err) == 0);
    REQUIRE(*len == need);
    return buf;
}

/* parse(out) must succeed and serialize to exactly out again. */
static void reparse_same(const uint8_t *out, size_t len, int fmt,
                         unsigned flags, int want_peer)
{
    struct tlsr_error err;
    struct tlsr_session_info info;
    struct ssl_session_st *s2;
    uint8_t *again;
    size_t alen = 0;

    if (len > TLSR_MAX_INPUT)
        return;     /* our own output may exceed the input limit */
    s2 = tlsr_session_parse(out, len, &err);
    REQUIRE(s2 != NULL);
    if (tlsr_session_inspect(s2, 0, &info, &err) == 0 && !want_peer)
        REQUIRE(info.has_peer == 0);
    again = ser(s2, fmt, flags, &alen);
    REQUIRE(again != NULL && alen == len && memcmp(again, out, len) == 0);
    free(again);
    tlsr_session_free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tlsr_error err;
    struct tlsr_session_info info;
    struct ssl_session_st *s;
    uint8_t buf[512];
    size_t len;
    int fmt;

    memset(&err, 0, sizeof(err));
    s = tlsr_session_parse(data, size, &err);
    if (s == NULL) {
        REQUIRE(err.code < 0 && err.msg[0] != '\0');
        REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        REQUIRE(strcmp(tlsr_error_name(err.code), "TLSR_E?") != 0);
        return 0;
    }
    /*
     * Inspect may refuse what d2i accepted (e.g. a peer certificate whose
     * notAfter is not a time: tests/vectors/regress/), but only with a code
     * and a message.
     */
    memset(&err, 0, sizeof(err));
    if (tlsr_session_inspect(s, 0, &info, &err) == 0) {
        REQUIRE(info.session_id_len <= 32 && info.sid_ctx_len <= 32);
        REQUIRE(memchr(info.alpn, '\0', sizeof(info.alpn)) != NULL);
        REQUIRE(memchr(info.sni, '\0', sizeof(info.sni)) != NULL);
        REQUIRE(memchr(info.cipher_name, '\0', sizeof(info.cipher_name)));
        REQUIRE(memchr(info.peer_subject, '\0', sizeof(info.peer_subject)));
        REQUIRE(info.remaining >= 0);
    } else {
        REQUIRE(err.code < 0 && err.msg[0] != '\0');
    }
    len = sizeof(buf);
    (void)tlsr_session_get_ticket(s, buf, &len, &err);
    len = sizeof(buf);
    (void)tlsr_session_get_master_key_secret(s, buf, &len, &err);

    for (fmt = TLSR_FORMAT_DER; fmt <= TLSR_FORMAT_PEM; fmt++) {
        unsigned flags;

        for (flags = 0; flags <= TLSR_SERIALIZE_LEAN; flags++) {
            size_t olen = 0;
            uint8_t *out = ser(s, fmt, flags, &olen);

            REQUIRE(out != NULL);
            reparse_same(out, olen, fmt, flags, flags == 0);
            free(out);
        }
    }
    {
        struct ssl_session_st *l = tlsr_session_parse_lean(data, size, &err);
        size_t a = 0, b = 0;
        uint8_t *x, *y;

        REQUIRE(l != NULL);
        x = ser(s, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN, &a);
        y = ser(l, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN, &b);
        REQUIRE(x != NULL && y != NULL && a == b && memcmp(x, y, a) == 0);
        free(x);
        free(y);
        y = ser(l, TLSR_FORMAT_DER, 0, &b);   /* the certificate put back */
        REQUIRE(y != NULL);
        free(y);
        tlsr_session_free(l);
    }
    tlsr_session_free(s);
    return 0;
}
