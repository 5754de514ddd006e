/* Error reports: codes, messages and OpenSSL's error queue. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"

void tlsri_error_clear(struct tlsr_error *err)
{
    if (err != NULL) {
        err->code = TLSR_OK;
        err->msg[0] = '\0';
    }
}

int tlsri_error_set(struct tlsr_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

int tlsri_error_ssl(struct tlsr_error *err, int code, const char *what)
{
    unsigned long e, first = 0;
    const char *reason;

    /* The first error raised is the deepest, hence the most specific. */
    while ((e = ERR_get_error()) != 0) {
        if (first == 0)
            first = e;
    }
    reason = first != 0 ? ERR_reason_error_string(first) : NULL;
    if (reason != NULL)
        return tlsri_error_set(err, code, "%s: %s", what, reason);
    return tlsri_error_set(err, code, "%s", what);
}

TLSR_EXPORT const char *tlsr_error_name(int code)
{
    static const char *const names[] = {
        "TLSR_OK", "TLSR_EINVAL", "TLSR_ENOMEM", "TLSR_ETOOBIG",
        "TLSR_EEMPTY", "TLSR_ETRUNCATED", "TLSR_ETRAILING", "TLSR_EPEMLABEL",
        "TLSR_EBASE64", "TLSR_ENOTSESSION", "TLSR_EUNSUPPORTED",
        "TLSR_EBUFSIZE", "TLSR_ETICKET", "TLSR_EKEYNAME", "TLSR_EMAC",
        "TLSR_EDECRYPT", "TLSR_EKEY", "TLSR_ENOTFOUND", "TLSR_EIO",
        "TLSR_EPERM", "TLSR_ESEAL", "TLSR_ECORRUPT", "TLSR_ENOTRESUMABLE",
        "TLSR_ESSL", "TLSR_ETRUST", "TLSR_ECONNECT",
    };

    /* Compare without negating: -INT_MIN overflows. */
    if (code > 0 || code <= -(int)(sizeof(names) / sizeof(names[0])))
        return "TLSR_E?";
    return names[-code];
}
