/* Sealing store entries: AES-256-GCM with a caller's 32-byte key. */
#ifndef TLSR_SEAL_H
#define TLSR_SEAL_H

#include <stddef.h>
#include <stdint.h>

enum {
    TLSRI_SEAL_KEY_LEN = 32,
    TLSRI_SEAL_NONCE_LEN = 12,
    TLSRI_SEAL_TAG_LEN = 16,
    TLSRI_SEAL_KEYID_LEN = 8
};

/* Public name of a key: the first bytes of SHA-256(label || key). */
int tlsri_seal_key_id(const uint8_t key[TLSRI_SEAL_KEY_LEN],
                      uint8_t id[TLSRI_SEAL_KEYID_LEN]);

/* out gets ptlen + TLSRI_SEAL_TAG_LEN bytes (ciphertext, then tag).
 * 0 on success, -1 on failure. */
int tlsri_seal(const uint8_t key[TLSRI_SEAL_KEY_LEN],
               const uint8_t nonce[TLSRI_SEAL_NONCE_LEN],
               const uint8_t *aad, size_t aad_len,
               const uint8_t *pt, size_t pt_len, uint8_t *out);

/* Verify and decrypt ct (ciphertext then tag); out gets ct_len - tag bytes.
 * 0 on success, -1 if the tag does not verify (wrong key, tampered). */
int tlsri_unseal(const uint8_t key[TLSRI_SEAL_KEY_LEN],
                 const uint8_t nonce[TLSRI_SEAL_NONCE_LEN],
                 const uint8_t *aad, size_t aad_len,
                 const uint8_t *ct, size_t ct_len, uint8_t *out);

#endif
