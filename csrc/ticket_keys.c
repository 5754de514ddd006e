/*
 * Server ticket key sets: the three key file layouts in use, rotation, and
 * fresh random keys.  Layouts, as the servers read them:
 *   OPENSSL80  name16|hmac32|aes32  SSL_CTX_set_tlsext_ticket_keys (ssl/s3_lib.c),
 *                                   nginx 80-byte ssl_session_ticket_key
 *   NGINX48    name16|aes16|hmac16  nginx 48-byte ssl_session_ticket_key
 *   NODE48     name16|hmac16|aes16  Node tls ticketKeys
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "internal.h"
#include "ticket_keys.h"

struct tlsr_ticket_keys {
    size_t count;
    struct tlsri_ticket_key key[TLSRI_TICKET_KEYS_MAX];
};

/* Where each part sits in a key file of the given format. */
struct key_layout {
    const char *name;
    size_t size;
    size_t hmac_off, hmac_len;
    size_t aes_off, aes_len;
};

static const struct key_layout *layout_of(int format)
{
    static const struct key_layout openssl80 = {
        "OPENSSL80", 80, 16, 32, 48, 32 };
    static const struct key_layout nginx48 = {
        "NGINX48", 48, 32, 16, 16, 16 };
    static const struct key_layout node48 = {
        "NODE48", 48, 16, 16, 32, 16 };

    switch (format) {
    case TLSR_KEYS_OPENSSL80:
        return &openssl80;
    case TLSR_KEYS_NGINX48:
        return &nginx48;
    case TLSR_KEYS_NODE48:
        return &node48;
    default:
        return NULL;
    }
}

TLSR_EXPORT struct tlsr_ticket_keys *tlsr_ticket_keys_new(
    struct tlsr_error *err)
{
    struct tlsr_ticket_keys *keys = OPENSSL_zalloc(sizeof(*keys));

    if (keys == NULL) {
        tlsri_error_ssl(err, TLSR_ENOMEM, "cannot allocate a ticket key set");
        return NULL;
    }
    return keys;
}

TLSR_EXPORT void tlsr_ticket_keys_free(struct tlsr_ticket_keys *keys)
{
    /* Wipes every key, used or not. */
    OPENSSL_clear_free(keys, sizeof(*keys));
}

TLSR_EXPORT int tlsr_ticket_keys_add(struct tlsr_ticket_keys *keys,
                                     const uint8_t *data, size_t len,
                                     int format, struct tlsr_error *err)
{
    const struct key_layout *lay = layout_of(format);
    struct tlsri_ticket_key *k;

    if (keys == NULL || data == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "%s is NULL",
                               keys == NULL ? "key set" : "key data");
    if (lay == NULL)
        return tlsri_error_set(err, TLSR_EKEY,
                               "unknown ticket key format %d", format);
    if (len != lay->size)
        return tlsri_error_set(err, TLSR_EKEY,
                               "%s ticket keys are %zu bytes, got %zu",
                               lay->name, lay->size, len);
    if (keys->count >= TLSRI_TICKET_KEYS_MAX)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "ticket key set is full (%d keys)",
                               TLSRI_TICKET_KEYS_MAX);
    k = &keys->key[keys->count];
    memcpy(k->name, data, TLSRI_TICKET_NAME_LEN);
    memcpy(k->hmac_key, data + lay->hmac_off, lay->hmac_len);
    k->hmac_len = lay->hmac_len;
    memcpy(k->aes_key, data + lay->aes_off, lay->aes_len);
    k->aes_len = lay->aes_len;
    keys->count++;
    tlsri_error_clear(err);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ticket_keys_generate(int format, uint8_t *buf,
                                          size_t *len, struct tlsr_error *err)
{
    const struct key_layout *lay = layout_of(format);

    if (len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "len is NULL");
    if (lay == NULL)
        return tlsri_error_set(err, TLSR_EKEY,
                               "unknown ticket key format %d", format);
    if (buf == NULL) {
        *len = lay->size;
        return TLSR_OK;
    }
    if (*len < lay->size) {
        *len = lay->size;
        return tlsri_error_set(err, TLSR_EBUFSIZE,
                               "buffer too small: %zu bytes needed",
                               lay->size);
    }
    if (RAND_bytes(buf, (int)lay->size) != 1) {
        OPENSSL_cleanse(buf, lay->size);
        return tlsri_error_ssl(err, TLSR_ESSL,
                               "cannot generate a random ticket key");
    }
    *len = lay->size;
    tlsri_error_clear(err);
    return TLSR_OK;
}

const struct tlsri_ticket_key *
tlsri_ticket_keys_get0(const struct tlsr_ticket_keys *keys, size_t idx)
{
    if (keys == NULL || idx >= keys->count)
        return NULL;
    return &keys->key[idx];
}
