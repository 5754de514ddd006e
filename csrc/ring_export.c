/*
 * Ticket key rings exported for servers that read key files at (re)load:
 *   nginx80 / nginx48  DIR/0.key (encrypts), 1.key, ...: the
 *                      ssl_session_ticket_key lines in that order (nginx
 *                      encrypts with the first)
 *   haproxy            DIR/haproxy.keys: base64 lines name|aes|hmac; HAProxy
 *                      keeps the last 3 (TLS_TICKETS_NO) and encrypts with the
 *                      penultimate: previous, encrypting, next
 *   node48             DIR/node.key: the encrypting key, name|hmac16|aes16
 *                      (tls.createServer({ticketKeys}) holds one key)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ring.h"

enum { HAPROXY_KEYS = 3 };

/* Key k in one of the export layouts; returns its size. */
static size_t layout(const struct tlsri_ticket_key *k, int format,
                     uint8_t *out)
{
    size_t a = k->aes_len, h = k->hmac_len;

    memcpy(out, k->name, 16);
    switch (format) {
    case TLSR_EXPORT_NGINX80:       /* name|hmac|aes */
    case TLSR_EXPORT_NODE48:
        memcpy(out + 16, k->hmac_key, h);
        memcpy(out + 16 + h, k->aes_key, a);
        break;
    default:                        /* nginx48, haproxy: name|aes|hmac */
        memcpy(out + 16, k->aes_key, a);
        memcpy(out + 16 + a, k->hmac_key, h);
        break;
    }
    return 16 + a + h;
}

/* Usable keys in server order: encrypting, next (soonest first), then
 * retired keys newest first.  Returns the count. */
static size_t order(const struct tlsr_ring *ring, int64_t now, size_t *idx)
{
    const struct tlsri_ring_snap *s = ring->snap;
    int enc = tlsri_ring_encrypting(&ring->conf, s, now);
    int64_t end, exp;
    size_t n = 0, i;

    if (enc >= 0)
        idx[n++] = (size_t)enc;
    for (i = 0; i < s->n; i++)
        if (tlsri_ring_role(&ring->conf, s, i, now, &end, &exp)
            == TLSR_RING_NEXT)
            idx[n++] = i;
    for (i = s->n; i > 0; i--)
        if ((int)(i - 1) != enc
            && tlsri_ring_role(&ring->conf, s, i - 1, now, &end, &exp)
               == TLSR_RING_DECRYPT)
            idx[n++] = i - 1;
    return n;
}

static int write_file(const char *dir, const char *name, const uint8_t *data,
                      size_t len, struct tlsr_error *err)
{
    char path[4200];

    if (snprintf(path, sizeof(path), "%s/%s", dir, name)
        >= (int)sizeof(path))
        return tlsri_error_set(err, TLSR_EINVAL, "export path is too long");
    return tlsr_file_write_private(path, data, len, err);
}

/* Remove N.key files from a longer earlier export (n and above). */
static void remove_stale(int dfd, size_t n)
{
    char name[32];
    size_t i;

    for (i = n; i < TLSRI_RING_KEYS_MAX; i++) {
        snprintf(name, sizeof(name), "%zu.key", i);
        if (unlinkat(dfd, name, 0) != 0 && errno == ENOENT)
            break;
    }
}

static int export_haproxy(const struct tlsr_ring *ring, const size_t *idx,
                          size_t n, const char *dir, struct tlsr_error *err)
{
    /* previous, encrypting, next: a missing one is a random key that
     * never encrypted anything (HAProxy wants 3 lines). */
    struct tlsri_ticket_key fill;
    const struct tlsri_ticket_key *k[HAPROXY_KEYS] = { NULL, NULL, NULL };
    uint8_t raw[80], text[HAPROXY_KEYS * 130];
    size_t len = 0, i, sz;
    int rc;

    for (i = 1; i < n; i++) {
        if (ring->snap->e[idx[i]].start > ring->snap->e[idx[0]].start
            && k[2] == NULL)
            k[2] = &ring->snap->e[idx[i]].k;
        else if (ring->snap->e[idx[i]].start < ring->snap->e[idx[0]].start
                 && k[0] == NULL)
            k[0] = &ring->snap->e[idx[i]].k;
    }
    k[1] = &ring->snap->e[idx[0]].k;
    memset(&fill, 0, sizeof(fill));
    if (RAND_bytes(fill.name, 16) != 1 || RAND_bytes(fill.aes_key, 32) != 1
        || RAND_bytes(fill.hmac_key, 32) != 1)
        return tlsri_error_ssl(err, TLSR_ESSL, "no random filler key");
    fill.aes_len = fill.hmac_len = ring->conf.aes256 ? 32 : 16;
    for (i = 0; i < HAPROXY_KEYS; i++) {
        sz = layout(k[i] != NULL ? k[i] : &fill, TLSR_EXPORT_HAPROXY, raw);
        len += (size_t)EVP_EncodeBlock(text + len, raw, (int)sz);
        text[len++] = '\n';
    }
    rc = write_file(dir, "haproxy.keys", text, len, err);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(&fill, sizeof(fill));
    return rc < 0 ? rc : HAPROXY_KEYS;
}

TLSR_EXPORT int tlsr_ring_export(struct tlsr_ring *ring, int format,
                                 const char *dir, int64_t now,
                                 struct tlsr_error *err)
{
    size_t idx[TLSRI_RING_KEYS_MAX], n, i;
    uint8_t raw[80];
    char name[32];
    int dfd, rc = TLSR_OK, want256;

    tlsri_error_clear(err);
    if (ring == NULL || dir == NULL || dir[0] == '\0')
        return tlsri_error_set(err, TLSR_EINVAL, "ring and directory "
                               "expected");
    switch (format) {
    case TLSR_EXPORT_NGINX80:
        want256 = 1;
        break;
    case TLSR_EXPORT_NGINX48:
    case TLSR_EXPORT_NODE48:
        want256 = 0;
        break;
    case TLSR_EXPORT_HAPROXY:
        want256 = ring->conf.aes256;
        break;
    default:
        return tlsri_error_set(err, TLSR_EINVAL, "unknown export format %d",
                               format);
    }
    if (want256 != ring->conf.aes256)
        return tlsri_error_set(err, TLSR_EINVAL, "this ring holds %s keys: "
                               "export it as %s (the key size is chosen at "
                               "init)", ring->conf.aes256 ? "AES-256" :
                               "AES-128", ring->conf.aes256 ? "nginx80 or "
                               "haproxy" : "nginx48, node48 or haproxy");
    now = tlsri_ring_now(now);
    dfd = tlsri_dir_open_safe(dir, "export", 1, err);
    if (dfd < 0)
        return err != NULL ? err->code : TLSR_EIO;
    pthread_rwlock_rdlock(&ring->rw);
    n = order(ring, now, idx);
    if (n == 0 || tlsri_ring_encrypting(&ring->conf, ring->snap, now) < 0)
        rc = tlsri_error_set(err, TLSR_ENOTFOUND, "ring %.150s has no "
                             "encrypting key now (run: tlsresume keys rotate)",
                             ring->path);
    else if (format == TLSR_EXPORT_HAPROXY)
        rc = export_haproxy(ring, idx, n, dir, err);
    else if (format == TLSR_EXPORT_NODE48)
        rc = write_file(dir, "node.key", raw,
                        layout(&ring->snap->e[idx[0]].k, format, raw), err);
    else {
        for (i = 0; rc == TLSR_OK && i < n; i++) {
            snprintf(name, sizeof(name), "%zu.key", i);
            rc = write_file(dir, name, raw,
                            layout(&ring->snap->e[idx[i]].k, format, raw),
                            err);
        }
        if (rc == TLSR_OK)
            remove_stale(dfd, n);
    }
    pthread_rwlock_unlock(&ring->rw);
    OPENSSL_cleanse(raw, sizeof(raw));
    close(dfd);
    if (rc < 0)
        return rc;
    return format == TLSR_EXPORT_HAPROXY ? rc
         : format == TLSR_EXPORT_NODE48 ? 1 : (int)n;
}
