/* AES-256-GCM sealing of store entries (see seal.h). */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "seal.h"

static const char KEYID_LABEL[] = "tlsresume store seal key id v1";

int tlsri_seal_key_id(const uint8_t key[TLSRI_SEAL_KEY_LEN],
                      uint8_t id[TLSRI_SEAL_KEYID_LEN])
{
    uint8_t buf[sizeof(KEYID_LABEL) + TLSRI_SEAL_KEY_LEN];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok;

    memcpy(buf, KEYID_LABEL, sizeof(KEYID_LABEL));
    memcpy(buf + sizeof(KEYID_LABEL), key, TLSRI_SEAL_KEY_LEN);
    ok = EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (!ok || mdlen < TLSRI_SEAL_KEYID_LEN)
        return -1;
    memcpy(id, md, TLSRI_SEAL_KEYID_LEN);
    return 0;
}

static int gcm(int enc, const uint8_t *key, const uint8_t *nonce,
               const uint8_t *aad, size_t aad_len, const uint8_t *in,
               size_t in_len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, n;

    if (ctx == NULL || in_len > INT_MAX || aad_len > INT_MAX)
        goto end;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
                               TLSRI_SEAL_NONCE_LEN, NULL) != 1
        || EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
        goto end;
    if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto end;
    if (in_len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1)
        goto end;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                                    TLSRI_SEAL_TAG_LEN, tag) != 1)
        goto end;
    if (EVP_CipherFinal_ex(ctx, out + in_len, &n) != 1)
        goto end;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                                   TLSRI_SEAL_TAG_LEN, tag) != 1)
        goto end;
    ok = 1;
end:
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

int tlsri_seal(const uint8_t key[TLSRI_SEAL_KEY_LEN],
               const uint8_t nonce[TLSRI_SEAL_NONCE_LEN],
               const uint8_t *aad, size_t aad_len,
               const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    return gcm(1, key, nonce, aad, aad_len, pt, pt_len, out, out + pt_len);
}

int tlsri_unseal(const uint8_t key[TLSRI_SEAL_KEY_LEN],
                 const uint8_t nonce[TLSRI_SEAL_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len,
                 const uint8_t *ct, size_t ct_len, uint8_t *out)
{
    size_t n;

    if (ct_len < TLSRI_SEAL_TAG_LEN)
        return -1;
    n = ct_len - TLSRI_SEAL_TAG_LEN;
    if (gcm(0, key, nonce, aad, aad_len, ct, n, out,
            (uint8_t *)(ct + n)) != 0) {
        OPENSSL_cleanse(out, n);
        return -1;
    }
    return 0;
}
