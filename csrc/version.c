/* Versions: this library's, and which libssl it runs against. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "internal.h"

TLSR_EXPORT const char *tlsr_version(void)
{
    return "0.1.0";
}

TLSR_EXPORT unsigned long tlsr_openssl_version_num(void)
{
    return OpenSSL_version_num();
}

TLSR_EXPORT int tlsr_libssl_path(char *buf, size_t *len,
                                 struct tlsr_error *err)
{
    Dl_info info;
    size_t need;

    if (len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "len is NULL");
    /* Any libssl function tells which file the loader mapped. */
    if (dladdr((void *)&SSL_SESSION_free, &info) == 0
        || info.dli_fname == NULL)
        return tlsri_error_set(err, TLSR_ESSL, "cannot locate libssl");
    need = strlen(info.dli_fname) + 1;
    if (buf == NULL) {
        *len = need;
        return TLSR_OK;
    }
    if (*len < need) {
        *len = need;
        return tlsri_error_set(err, TLSR_EBUFSIZE,
                               "buffer too small: %zu bytes needed", need);
    }
    memcpy(buf, info.dli_fname, need);
    *len = need;
    return TLSR_OK;
}
