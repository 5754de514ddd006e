/*
 * Session tickets as OpenSSL (and nginx, Node on top of it) issues them:
 *   key_name(16) | IV(16) | AES-CBC ciphertext | HMAC-SHA256(32)
 * with the HMAC over everything before it; the plaintext is the DER
 * (i2d_SSL_SESSION) of the server-side session.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "internal.h"
#include "ticket_keys.h"

enum {
    AES_BLOCK = 16,
    TICKET_OVERHEAD = TLSRI_TICKET_NAME_LEN + TLSRI_TICKET_IV_LEN
                      + TLSRI_TICKET_MAC_LEN
};

TLSR_EXPORT int tlsr_ticket_parse(const uint8_t *ticket, size_t len,
                                  struct tlsr_ticket_info *info,
                                  struct tlsr_error *err)
{
    size_t ct_len;

    if (ticket == NULL || info == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "%s is NULL",
                               ticket == NULL ? "ticket" : "info");
    if (len > TLSR_MAX_INPUT)
        return tlsri_error_set(err, TLSR_ETOOBIG,
                               "ticket is %zu bytes, more than %d", len,
                               TLSR_MAX_INPUT);
    if (len < TICKET_OVERHEAD + AES_BLOCK)
        return tlsri_error_set(err, TLSR_ETICKET,
                               "ticket is %zu bytes, too short for key name,"
                               " IV, one cipher block and HMAC (%d)", len,
                               TICKET_OVERHEAD + AES_BLOCK);
    ct_len = len - TICKET_OVERHEAD;
    if (ct_len % AES_BLOCK != 0)
        return tlsri_error_set(err, TLSR_ETICKET,
                               "ticket ciphertext is %zu bytes, not a"
                               " multiple of the AES block (16)", ct_len);
    memcpy(info->key_name, ticket, TLSRI_TICKET_NAME_LEN);
    memcpy(info->iv, ticket + TLSRI_TICKET_NAME_LEN, TLSRI_TICKET_IV_LEN);
    info->ciphertext_len = (uint32_t)ct_len;
    memcpy(info->mac, ticket + len - TLSRI_TICKET_MAC_LEN,
           TLSRI_TICKET_MAC_LEN);
    tlsri_error_clear(err);
    return TLSR_OK;
}

/* 1: the HMAC verifies under k, 0: it does not, < 0: OpenSSL failure. */
static int mac_verifies(const struct tlsri_ticket_key *k,
                        const uint8_t *ticket, size_t len,
                        struct tlsr_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    size_t signed_len = len - TLSRI_TICKET_MAC_LEN;
    int ok;

    if (HMAC(EVP_sha256(), k->hmac_key, (int)k->hmac_len, ticket, signed_len,
             md, &md_len) == NULL || md_len != TLSRI_TICKET_MAC_LEN) {
        OPENSSL_cleanse(md, sizeof(md));
        return tlsri_error_ssl(err, TLSR_ESSL, "HMAC-SHA256 failed");
    }
    ok = CRYPTO_memcmp(md, ticket + signed_len, TLSRI_TICKET_MAC_LEN) == 0;
    OPENSSL_cleanse(md, sizeof(md));
    return ok;
}

/*
 * The key whose name and HMAC match.  Several keys may share a name (the
 * same file added twice, or a careless rotation): the first that verifies
 * wins.  NULL (err: TLSR_EKEYNAME, TLSR_EMAC or TLSR_ESSL) otherwise.
 */
static const struct tlsri_ticket_key *
find_key(const struct tlsr_ticket_keys *keys, const uint8_t *ticket,
         size_t len, struct tlsr_error *err)
{
    const struct tlsri_ticket_key *k;
    size_t i;
    int named = 0, v;

    for (i = 0; (k = tlsri_ticket_keys_get0(keys, i)) != NULL; i++) {
        if (memcmp(k->name, ticket, TLSRI_TICKET_NAME_LEN) != 0)
            continue;
        named = 1;
        v = mac_verifies(k, ticket, len, err);
        if (v < 0)
            return NULL;
        if (v == 1)
            return k;
    }
    if (named)
        tlsri_error_set(err, TLSR_EMAC,
                        "ticket HMAC does not verify (tampered, or"
                        " another key with the same name)");
    else
        tlsri_error_set(err, TLSR_EKEYNAME,
                        "no ticket key has the ticket's key name");
    return NULL;
}

/* AES-CBC decrypt the verified ciphertext into out (room: ct_len + 16). */
static int decrypt_body(const struct tlsri_ticket_key *k,
                        const uint8_t *ticket, size_t ct_len, uint8_t *out,
                        size_t *out_len, struct tlsr_error *err)
{
    const EVP_CIPHER *cipher = k->aes_len == 32 ? EVP_aes_256_cbc()
                                                : EVP_aes_128_cbc();
    const uint8_t *iv = ticket + TLSRI_TICKET_NAME_LEN;
    const uint8_t *ct = iv + TLSRI_TICKET_IV_LEN;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0, rc = TLSR_OK;

    if (ctx == NULL)
        return tlsri_error_ssl(err, TLSR_ENOMEM, "cannot allocate a cipher");
    if (EVP_DecryptInit_ex(ctx, cipher, NULL, k->aes_key, iv) != 1
        || EVP_DecryptUpdate(ctx, out, &n1, ct, (int)ct_len) != 1)
        rc = tlsri_error_ssl(err, TLSR_ESSL, "AES-CBC decryption failed");
    else if (EVP_DecryptFinal_ex(ctx, out + n1, &n2) != 1)
        rc = tlsri_error_ssl(err, TLSR_EDECRYPT,
                             "ticket decrypts to garbage (bad padding)");
    else
        *out_len = (size_t)n1 + (size_t)n2;
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

TLSR_EXPORT struct ssl_session_st *tlsr_ticket_decrypt(
    const struct tlsr_ticket_keys *keys, const uint8_t *ticket, size_t len,
    struct tlsr_error *err)
{
    struct tlsr_ticket_info info;
    struct tlsr_error sub = { 0, "" };
    const struct tlsri_ticket_key *k;
    struct ssl_session_st *sess = NULL;
    uint8_t *plain;
    size_t cap, plain_len = 0;

    if (keys == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "key set is NULL");
        return NULL;
    }
    if (tlsr_ticket_parse(ticket, len, &info, err) != TLSR_OK)
        return NULL;
    /* Authenticate before touching the ciphertext. */
    k = find_key(keys, ticket, len, err);
    if (k == NULL)
        return NULL;
    cap = (size_t)info.ciphertext_len + AES_BLOCK;
    plain = OPENSSL_malloc(cap);
    if (plain == NULL) {
        tlsri_error_ssl(err, TLSR_ENOMEM, "cannot allocate the plaintext");
        return NULL;
    }
    if (decrypt_body(k, ticket, info.ciphertext_len, plain, &plain_len, err)
        == TLSR_OK) {
        sess = tlsr_session_parse(plain, plain_len, &sub);
        if (sess == NULL && sub.code == TLSR_ENOMEM)
            tlsri_error_set(err, TLSR_ENOMEM, "%s", sub.msg);
        else if (sess == NULL)
            tlsri_error_set(err, TLSR_EDECRYPT,
                            "ticket decrypts to something that is not a"
                            " session: %s", sub.msg);
        else
            tlsri_error_clear(err);
    }
    OPENSSL_clear_free(plain, cap);
    /* Belt and braces: no path leaves errors for the caller's next call. */
    ERR_clear_error();
    return sess;
}
