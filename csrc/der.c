/* A minimal DER walker (see der.h). */
#include "der.h"

int tlsri_der_header(const uint8_t *p, size_t avail, struct tlsri_der_tlv *tlv)
{
    size_t n, i, len;

    tlv->tag = 0;
    tlv->hdr_len = 0;
    tlv->val = NULL;
    tlv->len = 0;
    if (avail < 2)
        return TLSRI_DER_SHORT;
    if ((p[0] & 0x1F) == 0x1F) /* high tag numbers: never in a session */
        return TLSRI_DER_BAD;
    tlv->tag = p[0];
    if (p[1] < 0x80) {
        len = p[1];
        n = 2;
    } else {
        size_t nlen = p[1] & 0x7F;

        /* 0x80 is BER's indefinite length; > 4 length bytes is absurd
         * for anything below TLSR_MAX_INPUT. */
        if (nlen == 0 || nlen > 4)
            return TLSRI_DER_BAD;
        if (avail < 2 + nlen)
            return TLSRI_DER_SHORT;
        len = 0;
        for (i = 0; i < nlen; i++)
            len = (len << 8) | p[2 + i];
        n = 2 + nlen;
    }
    tlv->hdr_len = n;
    tlv->len = len;
    if (len > avail - n)
        return TLSRI_DER_SHORT;
    tlv->val = p + n;
    return TLSRI_DER_OK;
}

void tlsri_der_iter_init(struct tlsri_der_iter *it, const uint8_t *val,
                         size_t len)
{
    it->p = val;
    it->end = val + len;
}

int tlsri_der_next(struct tlsri_der_iter *it, struct tlsri_der_tlv *tlv)
{
    if (it->p == it->end)
        return 0;
    if (tlsri_der_header(it->p, (size_t)(it->end - it->p), tlv)
        != TLSRI_DER_OK)
        return -1;
    it->p = tlv->val + tlv->len;
    return 1;
}

int tlsri_der_unwrap(const struct tlsri_der_tlv *outer, unsigned tag,
                     struct tlsri_der_tlv *inner)
{
    if (tlsri_der_header(outer->val, outer->len, inner) != TLSRI_DER_OK
        || inner->tag != tag || inner->hdr_len + inner->len != outer->len)
        return -1;
    return 0;
}

int tlsri_der_int64(const struct tlsri_der_tlv *tlv, int64_t *out)
{
    uint64_t v;
    size_t i;

    if (tlv->tag != TLSRI_DER_INTEGER || tlv->len == 0 || tlv->len > 8)
        return -1;
    /* Sign-extend from the first content byte. */
    v = (tlv->val[0] & 0x80) ? UINT64_MAX : 0;
    for (i = 0; i < tlv->len; i++)
        v = (v << 8) | tlv->val[i];
    *out = (int64_t)v;
    return 0;
}

size_t tlsri_der_len_size(size_t len)
{
    size_t n = 1;

    if (len < 0x80)
        return 1;
    while (len > 0) {
        n++;
        len >>= 8;
    }
    return n;
}

size_t tlsri_der_put_header(uint8_t *out, unsigned tag, size_t len)
{
    size_t n = tlsri_der_len_size(len), i;

    out[0] = (uint8_t)tag;
    if (n == 1) {
        out[1] = (uint8_t)len;
        return 2;
    }
    out[1] = (uint8_t)(0x80 | (n - 1));
    for (i = n - 1; i >= 1; i--) {
        out[1 + i] = (uint8_t)(len & 0xFF);
        len >>= 8;
    }
    return 1 + n;
}
