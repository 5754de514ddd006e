/* Store keys, entry names and key-directory listings (see store.h). */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store.h"

int64_t tlsri_now(void)
{
    return (int64_t)time(NULL);
}

uint64_t tlsri_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int tlsri_key_digest(const char *host, int port, const char *context,
                     uint8_t digest[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char portbuf[16];
    unsigned int len = 32;
    int rc = 0;

    snprintf(portbuf, sizeof(portbuf), "%d", port);
    /* NUL separators: host and port hold no NUL, so this is unambiguous. */
    if (md == NULL
        || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(md, "tlsresume store key v1", 23) != 1
        || EVP_DigestUpdate(md, host, strlen(host) + 1) != 1
        || EVP_DigestUpdate(md, portbuf, strlen(portbuf) + 1) != 1
        || EVP_DigestUpdate(md, context, strlen(context)) != 1
        || EVP_DigestFinal_ex(md, digest, &len) != 1) {
        memset(digest, 0, 32);
        rc = -1;
    }
    EVP_MD_CTX_free(md);
    return rc;
}

int tlsri_key_init(struct tlsri_key *key, const char *host, int port,
                   const char *context, struct tlsr_error *err)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, hl;
    char *d;

    if (host == NULL || host[0] == '\0')
        return tlsri_error_set(err, TLSR_EINVAL, "host is empty");
    hl = strlen(host);
    if (hl >= sizeof(key->host))
        return tlsri_error_set(err, TLSR_EINVAL, "host longer than 255 bytes");
    if (port < 1 || port > 65535)
        return tlsri_error_set(err, TLSR_EINVAL, "port %d out of 1..65535",
                               port);
    if (context == NULL)
        context = "";
    if (strlen(context) >= sizeof(key->context))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "context longer than 255 bytes");
    /* Host names are case-insensitive: one server, one key. */
    for (i = 0; i <= hl; i++) {
        char c = host[i];
        key->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    key->port = port;
    strcpy(key->context, context);
    if (tlsri_key_digest(key->host, port, key->context, key->digest) != 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot hash the store key");
    d = key->dir;
    for (i = 0; i < 16; i++) {
        *d++ = hex[key->digest[i] >> 4];
        *d++ = hex[key->digest[i] & 15];
        if (i == 0)
            *d++ = '/';
    }
    *d = '\0';
    return TLSR_OK;
}

int tlsri_key_init_server(struct tlsri_key *key, const uint8_t *id,
                          size_t id_len, const char *scope,
                          struct tlsr_error *err)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    char *d;

    if (id == NULL || id_len == 0 || id_len > 32)
        return tlsri_error_set(err, TLSR_EINVAL, "session id length %zu "
                               "out of 1..32", id_len);
    if (scope == NULL)
        scope = "";
    if (strlen(scope) + 7 >= sizeof(key->context))
        return tlsri_error_set(err, TLSR_EINVAL,
                               "scope longer than 248 bytes");
    for (i = 0; i < id_len; i++) {
        key->host[2 * i] = hex[id[i] >> 4];
        key->host[2 * i + 1] = hex[id[i] & 15];
    }
    key->host[2 * id_len] = '\0';
    key->port = 0;
    snprintf(key->context, sizeof(key->context), "server:%s", scope);
    if (tlsri_key_digest(key->host, 0, key->context, key->digest) != 0)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot hash the store key");
    d = key->dir;
    for (i = 0; i < 16; i++) {
        *d++ = hex[key->digest[i] >> 4];
        *d++ = hex[key->digest[i] & 15];
        if (i == 0)
            *d++ = '/';
    }
    *d = '\0';
    return TLSR_OK;
}

static int hex16(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    int i;

    for (i = 0; i < 16; i++) {
        char c = s[i];
        int d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return 0;
        x = (x << 4) | (uint64_t)d;
    }
    *v = x;
    return 1;
}

int tlsri_name_parse(const char *name, struct tlsri_name *out)
{
    uint64_t put, exp, rnd;
    const char *ext;
    size_t len = strlen(name);

    /* 16-16-16 hex, then ".t12"/".t13", then ".pem"/".sealed" */
    if (len < 56 || len >= TLSRI_NAME_MAX || name[16] != '-'
        || name[33] != '-' || name[50] != '.' || name[51] != 't'
        || name[52] != '1' || (name[53] != '2' && name[53] != '3')
        || name[54] != '.')
        return 0;
    if (!hex16(name, &put) || !hex16(name + 17, &exp)
        || !hex16(name + 34, &rnd))
        return 0;
    ext = name + 55;
    if (strcmp(ext, "pem") == 0)
        out->sealed = 0;
    else if (strcmp(ext, "sealed") == 0)
        out->sealed = 1;
    else
        return 0;
    out->put_ns = put;
    out->expires = (int64_t)exp;
    out->kind = name[53] == '3' ? TLSRI_KIND_T13 : TLSRI_KIND_T12;
    memcpy(out->name, name, len + 1);
    return 1;
}

void tlsri_name_make(struct tlsri_name *out, uint64_t put_ns,
                     int64_t expires, int kind, int sealed)
{
    uint8_t r[8];
    uint64_t rnd = 0;
    int i;

    /* Without randomness, pid and time still keep names apart (never
     * uninitialized bytes). */
    if (RAND_bytes(r, sizeof(r)) != 1) {
        memset(r, 0, sizeof(r));
        ERR_clear_error();
    }
    for (i = 0; i < 8; i++)
        rnd = (rnd << 8) | r[i];
    rnd ^= put_ns ^ ((uint64_t)getpid() << 32);
    out->put_ns = put_ns;
    out->expires = expires < 0 ? 0 : expires;
    out->kind = kind;
    out->sealed = sealed;
    snprintf(out->name, sizeof(out->name),
             "%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64 ".t%d.%s", put_ns,
             (uint64_t)out->expires, rnd, kind, sealed ? "sealed" : "pem");
}

static int newest_first(const void *a, const void *b)
{
    const struct tlsri_name *x = a, *y = b;

    if (x->put_ns != y->put_ns)
        return x->put_ns > y->put_ns ? -1 : 1;
    return strcmp(y->name, x->name);
}

int tlsri_list_dir(int kfd, struct tlsri_name **out, size_t *n)
{
    struct tlsri_name *v = NULL, *nv;
    size_t len = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd = dup(kfd);

    *out = NULL;
    *n = 0;
    if (fd < 0)
        return TLSR_EIO;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return TLSR_EIO;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL) {
                free(v);
                closedir(d);
                return TLSR_ENOMEM;
            }
            v = nv;
        }
        if (tlsri_name_parse(de->d_name, &v[len]))
            len++;
    }
    closedir(d);
    if (len > 1)
        qsort(v, len, sizeof(*v), newest_first);
    *out = v;
    *n = len;
    return TLSR_OK;
}
