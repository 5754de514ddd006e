/* Private view of a ticket key set, shared by ticket_keys.c and ticket.c. */
#ifndef TLSR_TICKET_KEYS_H
#define TLSR_TICKET_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "tlsresume.h"

enum {
    TLSRI_TICKET_NAME_LEN = 16,
    TLSRI_TICKET_IV_LEN = 16,
    TLSRI_TICKET_MAC_LEN = 32,      /* HMAC-SHA256 */
    TLSRI_TICKET_KEYS_MAX = 64      /* keys per set: rotation, not a database */
};

/* One server ticket key, whatever file layout it came from. */
struct tlsri_ticket_key {
    uint8_t name[TLSRI_TICKET_NAME_LEN];
    uint8_t hmac_key[32];
    size_t hmac_len;                /* 16 (nginx 48, Node) or 32 (OpenSSL) */
    uint8_t aes_key[32];
    size_t aes_len;                 /* 16: AES-128-CBC, 32: AES-256-CBC */
};

/* The idx-th key of the set (order of adding), NULL past the end. */
const struct tlsri_ticket_key *
tlsri_ticket_keys_get0(const struct tlsr_ticket_keys *keys, size_t idx);

#endif
