/*
 * Ticket key rings: the schedule (roles as a function of the key files and
 * the clock, see ring.h), init, open, rotate and the read-only queries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ring.h"

int64_t tlsri_ring_now(int64_t now)
{
    return now > 0 ? now : (int64_t)time(NULL);
}

/* Start of the period that holds t. */
static int64_t period_start(const struct tlsri_ring_conf *c, int64_t t)
{
    int64_t k = (t - c->origin) / c->period;

    if (t < c->origin)
        k = -((c->origin - t + c->period - 1) / c->period);
    return c->origin + k * c->period;
}

int tlsri_ring_encrypting(const struct tlsri_ring_conf *conf,
                          const struct tlsri_ring_snap *snap, int64_t now)
{
    size_t i = snap->n;

    while (i > 0 && snap->e[i - 1].start > now)
        i--;
    if (i == 0)
        return -1;
    /* A key past its life minus keep would seal tickets that outlive it. */
    if (now >= snap->e[i - 1].start + TLSR_RING_MAX_LIFE - conf->keep)
        return -1;
    return (int)(i - 1);
}

int tlsri_ring_role(const struct tlsri_ring_conf *conf,
                    const struct tlsri_ring_snap *snap, size_t i, int64_t now,
                    int64_t *end, int64_t *expires)
{
    const struct tlsri_ring_entry *e = &snap->e[i];
    int64_t cap = e->start + TLSR_RING_MAX_LIFE;
    int64_t x = 0;

    *end = i + 1 < snap->n ? snap->e[i + 1].start : 0;
    if (*end != 0)
        x = *end + conf->keep < cap ? *end + conf->keep : cap;
    *expires = x;
    if (now >= cap || (x != 0 && now >= x && *end <= now))
        return TLSR_RING_EXPIRED;
    if (e->start > now)
        return TLSR_RING_NEXT;
    if (tlsri_ring_encrypting(conf, snap, now) == (int)i)
        return TLSR_RING_ENCRYPT;
    return TLSR_RING_DECRYPT;
}

/* Is there a key for the period of t (started in [period start, t])? */
static int has_current(const struct tlsri_ring_conf *conf,
                       const struct tlsri_ring_snap *snap, int64_t t)
{
    int64_t ps = period_start(conf, t);
    size_t i;

    for (i = 0; i < snap->n; i++)
        if (snap->e[i].start >= ps && snap->e[i].start <= t)
            return 1;
    return 0;
}

static int has_start(const struct tlsri_ring_snap *snap, int64_t start)
{
    size_t i;

    for (i = 0; i < snap->n; i++)
        if (snap->e[i].start == start)
            return 1;
    return 0;
}

int tlsri_ring_due(const struct tlsri_ring_conf *conf,
                   const struct tlsri_ring_snap *snap, int64_t now)
{
    int64_t end, exp;
    size_t i;

    if (!has_current(conf, snap, now)
        || !has_start(snap, period_start(conf, now) + conf->period))
        return 1;
    for (i = 0; i < snap->n; i++)
        if (tlsri_ring_role(conf, snap, i, now, &end, &exp)
            == TLSR_RING_EXPIRED)
            return 1;
    return 0;
}

TLSR_EXPORT void tlsr_ring_options_init(struct tlsr_ring_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof(*opts));
    opts->period = 3600;
    opts->keep = 12 * 3600;
    opts->format = TLSR_KEYS_OPENSSL80;
}

static int check_options(const struct tlsr_ring_options *o,
                         struct tlsri_ring_conf *conf, struct tlsr_error *err)
{
    int64_t period = o->period ? o->period : 3600;
    int64_t keep = o->keep ? o->keep : 12 * 3600;

    if (period < 1 || keep < 1)
        return tlsri_error_set(err, TLSR_EINVAL, "period and keep must be "
                               "positive");
    if (period > TLSR_RING_MAX_LIFE || keep > TLSR_RING_MAX_LIFE
        || period + keep > TLSR_RING_MAX_LIFE)
        return tlsri_error_set(err, TLSR_EINVAL, "period + keep must not "
                               "exceed 7 days (RFC 8446 ticket lifetime)");
    if (keep / period > TLSRI_RING_PER_KEEP_MAX)
        return tlsri_error_set(err, TLSR_EINVAL, "keep is more than %d "
                               "periods: lengthen the period",
                               TLSRI_RING_PER_KEEP_MAX);
    switch (o->format ? o->format : TLSR_KEYS_OPENSSL80) {
    case TLSR_KEYS_OPENSSL80:
        conf->aes256 = 1;
        break;
    case TLSR_KEYS_NGINX48:
    case TLSR_KEYS_NODE48:
        conf->aes256 = 0;
        break;
    default:
        return tlsri_error_set(err, TLSR_EINVAL, "unknown key format %d",
                               o->format);
    }
    conf->period = period;
    conf->keep = keep;
    return TLSR_OK;
}

/* Make the keys due at now in the ring directory dfd: 1 if any. */
static int rotate_files(int dfd, const struct tlsri_ring_conf *conf,
                        const struct tlsri_ring_snap *snap, int64_t now,
                        int force, struct tlsr_error *err)
{
    int64_t next = period_start(conf, now) + conf->period, end, exp;
    int changed = 0, rc;
    size_t i;

    if (force && snap != NULL && has_start(snap, now)) {
        /* A key started this second already (a concurrent --force, or the
         * period's key): ours starts next second, still one per second. */
        rc = has_start(snap, now + 1) ? 0
             : tlsri_ring_add_key(dfd, conf, now + 1, err);
        if (rc < 0)
            return rc;
        changed |= rc;
    } else if (force || snap == NULL || !has_current(conf, snap, now)) {
        rc = tlsri_ring_add_key(dfd, conf,
                                force ? now : period_start(conf, now), err);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    if (snap == NULL || !has_start(snap, next)) {
        rc = tlsri_ring_add_key(dfd, conf, next, err);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    for (i = 0; snap != NULL && i < snap->n; i++) {
        if (tlsri_ring_role(conf, snap, i, now, &end, &exp)
            != TLSR_RING_EXPIRED)
            continue;
        if (tlsri_ring_unlink_key(dfd, snap->e[i].start) != 0)
            return tlsri_error_set(err, TLSR_EIO, "cannot remove an expired "
                                   "key: %s", strerror(errno));
        changed = 1;
    }
    return changed;
}

TLSR_EXPORT int tlsr_ring_init(const char *path,
                               const struct tlsr_ring_options *opts,
                               struct tlsr_error *err)
{
    struct tlsr_ring_options defaults;
    struct tlsri_ring_conf conf;
    int64_t now = tlsri_ring_now(0);
    int dfd, rc;

    tlsri_error_clear(err);
    tlsr_ring_options_init(&defaults);
    if (path == NULL || path[0] == '\0')
        return tlsri_error_set(err, TLSR_EINVAL, "ring path is empty");
    rc = check_options(opts != NULL ? opts : &defaults, &conf, err);
    if (rc != TLSR_OK)
        return rc;
    conf.origin = now;
    dfd = tlsri_dir_open_safe(path, "ring", 1, err);
    if (dfd < 0)
        return err != NULL ? err->code : TLSR_EIO;
    if (faccessat(dfd, "ring.conf", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        close(dfd);
        return tlsri_error_set(err, TLSR_EINVAL, "a ring exists at %.150s "
                               "already", path);
    }
    /* Keys first: a ring.conf is only ever seen with its keys. */
    rc = rotate_files(dfd, &conf, NULL, now, 0, err);
    if (rc >= 0)
        rc = tlsri_ring_conf_write(dfd, &conf, err);
    close(dfd);
    return rc < 0 ? rc : TLSR_OK;
}

TLSR_EXPORT struct tlsr_ring *tlsr_ring_open(const char *path,
                                             struct tlsr_error *err)
{
    struct tlsr_ring *ring;
    int rc;

    tlsri_error_clear(err);
    if (path == NULL || path[0] == '\0') {
        tlsri_error_set(err, TLSR_EINVAL, "ring path is empty");
        return NULL;
    }
    ring = OPENSSL_zalloc(sizeof(*ring));
    if (ring == NULL || (ring->path = OPENSSL_strdup(path)) == NULL) {
        OPENSSL_free(ring);
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    rc = tlsri_ring_load(path, &ring->conf, &ring->snap, err);
    if (rc != TLSR_OK) {
        OPENSSL_free(ring->path);
        OPENSSL_free(ring);
        return NULL;
    }
    pthread_mutex_init(&ring->lock, NULL);
    pthread_rwlock_init(&ring->rw, NULL);
    ring->refs = 1;
    ring->next_check = tlsri_ring_now(0) + 1;
    return ring;
}

void tlsri_ring_retain(struct tlsr_ring *ring)
{
    pthread_mutex_lock(&ring->lock);
    ring->refs++;
    pthread_mutex_unlock(&ring->lock);
}

TLSR_EXPORT void tlsr_ring_free(struct tlsr_ring *ring)
{
    int last;

    if (ring == NULL)
        return;
    pthread_mutex_lock(&ring->lock);
    last = --ring->refs == 0;
    pthread_mutex_unlock(&ring->lock);
    if (!last)
        return;
    tlsri_ring_snap_free(ring->snap);
    pthread_rwlock_destroy(&ring->rw);
    pthread_mutex_destroy(&ring->lock);
    OPENSSL_free(ring->path);
    OPENSSL_free(ring);
}

TLSR_EXPORT int tlsr_ring_get_options(struct tlsr_ring *ring,
                                      struct tlsr_ring_options *opts,
                                      struct tlsr_error *err)
{
    if (ring == NULL || opts == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring and options expected");
    memset(opts, 0, sizeof(*opts));
    opts->period = ring->conf.period;
    opts->keep = ring->conf.keep;
    opts->format = ring->conf.aes256 ? TLSR_KEYS_OPENSSL80
                                     : TLSR_KEYS_NGINX48;
    tlsri_error_clear(err);
    return TLSR_OK;
}

int tlsri_ring_refresh(struct tlsr_ring *ring, struct tlsr_error *err)
{
    struct tlsri_ring_conf conf;
    struct tlsri_ring_snap *snap, *old;
    int rc = tlsri_ring_load(ring->path, &conf, &snap, err);

    if (rc != TLSR_OK)
        return rc;
    if (conf.aes256 != ring->conf.aes256 || conf.origin != ring->conf.origin
        || conf.period != ring->conf.period || conf.keep != ring->conf.keep) {
        tlsri_ring_snap_free(snap);
        return tlsri_error_set(err, TLSR_ECORRUPT, "ring %.150s: ring.conf "
                               "changed under a running server", ring->path);
    }
    pthread_rwlock_wrlock(&ring->rw);
    old = ring->snap;
    ring->snap = snap;
    pthread_rwlock_unlock(&ring->rw);
    tlsri_ring_snap_free(old);
    __atomic_fetch_add(&ring->st.reloads, 1, __ATOMIC_RELAXED);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_ring_reload(struct tlsr_ring *ring,
                                 struct tlsr_error *err)
{
    tlsri_error_clear(err);
    if (ring == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring is NULL");
    return tlsri_ring_refresh(ring, err);
}

TLSR_EXPORT int tlsr_ring_rotate(struct tlsr_ring *ring, int64_t now,
                                 int force, struct tlsr_error *err)
{
    int dfd, rc;

    tlsri_error_clear(err);
    if (ring == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring is NULL");
    now = tlsri_ring_now(now);
    /* Decide from the files as they are now, not from our last load. */
    rc = tlsri_ring_refresh(ring, err);
    if (rc != TLSR_OK)
        return rc;
    dfd = tlsri_dir_open_safe(ring->path, "ring", 0, err);
    if (dfd < 0)
        return err != NULL ? err->code : TLSR_EIO;
    pthread_rwlock_rdlock(&ring->rw);
    rc = rotate_files(dfd, &ring->conf, ring->snap, now, force, err);
    pthread_rwlock_unlock(&ring->rw);
    if (rc >= 0)
        tlsri_ring_clean_tmp(dfd);
    close(dfd);
    if (rc > 0) {
        int r2 = tlsri_ring_refresh(ring, err);

        if (r2 != TLSR_OK)
            return r2;
    }
    return rc;
}

TLSR_EXPORT int tlsr_ring_key_get(struct tlsr_ring *ring, size_t idx,
                                  int64_t now, struct tlsr_ring_key *key,
                                  struct tlsr_error *err)
{
    int rc = 0;

    tlsri_error_clear(err);
    if (ring == NULL || key == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "ring and key expected");
    now = tlsri_ring_now(now);
    memset(key, 0, sizeof(*key));
    pthread_rwlock_rdlock(&ring->rw);
    if (idx < ring->snap->n) {
        memcpy(key->name, ring->snap->e[idx].k.name, 16);
        key->start = ring->snap->e[idx].start;
        key->role = tlsri_ring_role(&ring->conf, ring->snap, idx, now,
                                    &key->end, &key->expires);
        rc = 1;
    }
    pthread_rwlock_unlock(&ring->rw);
    return rc;
}

TLSR_EXPORT struct tlsr_ticket_keys *tlsr_ring_ticket_keys(
    struct tlsr_ring *ring, int64_t now, struct tlsr_error *err)
{
    uint8_t raw[80];
    struct tlsr_ticket_keys *keys;
    const struct tlsri_ticket_key *k;
    int64_t end, exp;
    int enc, rc = TLSR_OK;
    size_t i;

    if (ring == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "ring is NULL");
        return NULL;
    }
    now = tlsri_ring_now(now);
    if ((keys = tlsr_ticket_keys_new(err)) == NULL)
        return NULL;
    pthread_rwlock_rdlock(&ring->rw);
    enc = tlsri_ring_encrypting(&ring->conf, ring->snap, now);
    /* Encrypting key first, then the others newest first. */
    for (i = 0; rc == TLSR_OK && i <= ring->snap->n; i++) {
        size_t j = i == 0 ? (size_t)enc : ring->snap->n - i;

        if ((i == 0 && enc < 0) || (i > 0 && (int)j == enc)
            || (i > 0 && tlsri_ring_role(&ring->conf, ring->snap, j, now,
                                         &end, &exp) == TLSR_RING_EXPIRED))
            continue;
        k = &ring->snap->e[j].k;
        memcpy(raw, k->name, 16);       /* OPENSSL80 / NGINX48 layouts */
        if (ring->conf.aes256) {
            memcpy(raw + 16, k->hmac_key, 32);
            memcpy(raw + 48, k->aes_key, 32);
        } else {
            memcpy(raw + 16, k->aes_key, 16);
            memcpy(raw + 32, k->hmac_key, 16);
        }
        rc = tlsr_ticket_keys_add(keys, raw, ring->conf.aes256 ? 80 : 48,
                                  ring->conf.aes256 ? TLSR_KEYS_OPENSSL80
                                                    : TLSR_KEYS_NGINX48,
                                  err);
    }
    pthread_rwlock_unlock(&ring->rw);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc != TLSR_OK) {
        tlsr_ticket_keys_free(keys);
        return NULL;
    }
    return keys;
}
