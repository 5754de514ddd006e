/*
 * A minimal DER walker: enough to check a SEQUENCE's outer length and read
 * the top-level fields of an SSL_SESSION encoding that OpenSSL has no getter
 * for.  Never allocates, never reads past the bytes it is given.
 */
#ifndef TLSR_DER_H
#define TLSR_DER_H

#include <stddef.h>
#include <stdint.h>

enum {
    TLSRI_DER_SEQUENCE = 0x30,
    TLSRI_DER_INTEGER = 0x02,
    TLSRI_DER_OCTET_STRING = 0x04
};

/* Tag byte of an explicit, constructed, context-specific [n]. */
#define TLSRI_DER_CTX(n) (0xA0u | (unsigned)(n))

/* Results of tlsri_der_header. */
enum {
    TLSRI_DER_OK = 0,
    TLSRI_DER_SHORT = 1,    /* header incomplete or content runs past end */
    TLSRI_DER_BAD = 2       /* not DER: long tag, indefinite or huge length */
};

struct tlsri_der_tlv {
    unsigned tag;           /* the single identifier byte */
    size_t hdr_len;         /* bytes of tag + length */
    const uint8_t *val;     /* content */
    size_t len;             /* content length */
};

/*
 * Read the header of the element at p (avail bytes).  On TLSRI_DER_OK the
 * content lies within avail.  On TLSRI_DER_SHORT with a complete header,
 * tlv->hdr_len and tlv->len are still set (so callers can report how much
 * was expected).
 */
int tlsri_der_header(const uint8_t *p, size_t avail, struct tlsri_der_tlv *tlv);

/* Iterates the elements inside a constructed element's content. */
struct tlsri_der_iter {
    const uint8_t *p;
    const uint8_t *end;
};

void tlsri_der_iter_init(struct tlsri_der_iter *it, const uint8_t *val,
                         size_t len);
/* 1: tlv filled, 0: end, -1: malformed. */
int tlsri_der_next(struct tlsri_der_iter *it, struct tlsri_der_tlv *tlv);

/* The single element inside an explicit tag's content, with tag "tag". */
int tlsri_der_unwrap(const struct tlsri_der_tlv *outer, unsigned tag,
                     struct tlsri_der_tlv *inner);

/* INTEGER content as a signed 64-bit value; -1 if it does not fit. */
int tlsri_der_int64(const struct tlsri_der_tlv *tlv, int64_t *out);

/* Number of bytes a DER length field for content of len bytes takes. */
size_t tlsri_der_len_size(size_t len);
/* Write a header (tag + length) at out; returns the bytes written. */
size_t tlsri_der_put_header(uint8_t *out, unsigned tag, size_t len);

/* ---- PEM armour for sessions (pem.c) ---------------------------------- */

struct tlsr_error;

/* Bytes PEM_write_bio_SSL_SESSION writes for der_len bytes of DER. */
size_t tlsri_pem_size(size_t der_len);
/* Write exactly tlsri_pem_size(der_len) bytes at out. */
void tlsri_pem_encode(const uint8_t *der, size_t der_len, uint8_t *out);

/*
 * Find a PEM block: any text may precede a line starting "-----BEGIN ".
 * Returns 1 and the base64 body if the block is a well-formed "SSL SESSION
 * PARAMETERS" block followed by nothing but whitespace; 0 if there is no
 * BEGIN line at all (err untouched); a TLSR_E* code otherwise.
 */
int tlsri_pem_locate(const uint8_t *data, size_t len, const uint8_t **body,
                     size_t *body_len, struct tlsr_error *err);
/* Upper bound of the bytes tlsri_pem_base64 writes for body_len. */
size_t tlsri_pem_decoded_max(size_t body_len);
/* Strict base64 (whitespace between characters allowed); 0 or a code. */
int tlsri_pem_base64(const uint8_t *body, size_t body_len, uint8_t *out,
                     size_t *out_len, struct tlsr_error *err);

#endif
