/*
 * libFuzzer harness for the server-side ticket code.  Every input is split
 * as a ticket, decrypted with a fixed key set holding one key of each
 * format, and added as key bytes in each format.  Inputs whose first byte is
 * odd also become the PLAINTEXT of a correctly encrypted and MACed ticket
 * (fixed Node-layout key), so the fuzzer reaches the decoding of what a
 * ticket decrypts to, not just the MAC check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

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

/* Exactly sized (no NUL): name16 then the format's secret halves. */
static const uint8_t K80[80] = "fuzz-openssl80-n"
                               "hmac-key-of-32-bytes-for-fuzzing"
                               "aes-256-key-of-32-bytes-fuzzing!";
static const uint8_t KNGX[48] = "fuzz-nginx48-nam" "aes-128-key-ngx!"
                                "hmac-128-key-ngx";
static const uint8_t KNODE[48] = "fuzz-node48-name" "hmac-128-keynode"
                                 "aes-128-key-node";

static struct tlsr_ticket_keys *fixed_keys(void)
{
    struct tlsr_error err;
    struct tlsr_ticket_keys *k = tlsr_ticket_keys_new(&err);

    REQUIRE(k != NULL);
    REQUIRE(tlsr_ticket_keys_add(k, K80, 80, TLSR_KEYS_OPENSSL80, &err) == 0);
    REQUIRE(tlsr_ticket_keys_add(k, KNGX, 48, TLSR_KEYS_NGINX48, &err) == 0);
    REQUIRE(tlsr_ticket_keys_add(k, KNODE, 48, TLSR_KEYS_NODE48, &err) == 0);
    return k;
}

static void use_session(struct ssl_session_st *s)
{
    struct tlsr_error err;
    struct tlsr_session_info info;
    size_t len = 0;

    /* may refuse odd contents (see fuzz_parse.c), but only with a message */
    memset(&err, 0, sizeof(err));
    if (tlsr_session_inspect(s, 0, &info, &err) != 0)
        REQUIRE(err.code < 0 && err.msg[0] != '\0');
    REQUIRE(tlsr_session_serialize(s, TLSR_FORMAT_DER, 0, NULL, &len,
                                   &err) == 0 && len > 0);
    tlsr_session_free(s);
}

static void decrypt(const struct tlsr_ticket_keys *keys, const uint8_t *t,
                    size_t len)
{
    struct tlsr_error err;
    struct ssl_session_st *s;

    memset(&err, 0, sizeof(err));
    s = tlsr_ticket_decrypt(keys, t, len, &err);
    if (s == NULL) {
        REQUIRE(err.code < 0 && err.msg[0] != '\0');
        REQUIRE(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        return;
    }
    use_session(s);
}

/* name|iv|AES-128-CBC(plain)|HMAC-SHA256 under the Node-layout key. */
static void forge_and_decrypt(const struct tlsr_ticket_keys *keys,
                              const uint8_t *plain, size_t plen)
{
    uint8_t *t = malloc(32 + plen + 16 + 32);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    unsigned int maclen = 0;

    REQUIRE(t != NULL && c != NULL);
    memcpy(t, KNODE, 16);
    memset(t + 16, 0x5a, 16);                      /* IV */
    REQUIRE(EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, KNODE + 32,
                               t + 16) == 1);
    REQUIRE(EVP_EncryptUpdate(c, t + 32, &n1, plain, (int)plen) == 1);
    REQUIRE(EVP_EncryptFinal_ex(c, t + 32 + n1, &n2) == 1);
    EVP_CIPHER_CTX_free(c);
    REQUIRE(HMAC(EVP_sha256(), KNODE + 16, 16, t, (size_t)(32 + n1 + n2),
                 t + 32 + n1 + n2, &maclen) != NULL && maclen == 32);
    decrypt(keys, t, (size_t)(32 + n1 + n2 + 32));
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int formats[] = { TLSR_KEYS_OPENSSL80, TLSR_KEYS_NGINX48,
                                   TLSR_KEYS_NODE48, 0, 4 };
    struct tlsr_error err;
    struct tlsr_ticket_info ti;
    struct tlsr_ticket_keys *keys = fixed_keys();
    size_t i;

    memset(&err, 0, sizeof(err));
    if (tlsr_ticket_parse(data, size, &ti, &err) == 0)
        REQUIRE(ti.ciphertext_len + 64 == size);
    else
        REQUIRE(err.code < 0 && err.msg[0] != '\0');
    decrypt(keys, data, size);
    if (size > 0 && (data[0] & 1) && size <= TLSR_MAX_INPUT - 128)
        forge_and_decrypt(keys, data + 1, size - 1);

    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        int rc = tlsr_ticket_keys_add(keys, data, size, formats[i], &err);

        if (rc == 0)
            decrypt(keys, data, size);
        else
            REQUIRE(rc < 0 && err.msg[0] != '\0');
    }
    tlsr_ticket_keys_free(keys);
    return 0;
}
