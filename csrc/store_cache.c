/*
 * In-process caches of a store: decoded sessions (restoring a session with
 * its peer certificate costs ~80 us, a dup ~1 us) and key-directory
 * listings.  Direct-mapped and bounded; a colliding insert replaces.
 * Sessions are keyed by the entry file's identity (name, inode, size,
 * mtime): entries are never rewritten in place, so an identical identity
 * means identical bytes.  Callers get a dup, never the cached object,
 * because OpenSSL marks a session it resumed with not_resumable in place.
 */
#include <string.h>

#include "store.h"

static size_t slot_of(const char *s, size_t nslots)
{
    uint64_t h = 1469598103934665603ull;    /* FNV-1a */

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h % nslots);
}

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

SSL_SESSION *tlsri_cache_get(struct tlsr_store *st, const char *rel,
                             ino_t ino, off_t size, int64_t mtime,
                             int64_t *expires, uint8_t key_digest[32])
{
    struct tlsri_sess_slot *s = &st->sess_cache[slot_of(rel, TLSRI_SESS_SLOTS)];
    SSL_SESSION *out = NULL;

    pthread_mutex_lock(&st->lock);
    /* A lean-restored session answers only lean restores. */
    if (s->sess != NULL && strcmp(s->rel, rel) == 0
        && (ino == 0 || (s->ino == ino && s->size == size
                         && s->mtime_ns == mtime))
        && (!s->lean || (st->flags & TLSR_STORE_RESTORE_LEAN))) {
        out = SSL_SESSION_dup(s->sess);
        *expires = s->expires;
        memcpy(key_digest, s->key_digest, 32);
    }
    pthread_mutex_unlock(&st->lock);
    return out;
}

void tlsri_cache_put(struct tlsr_store *st, const char *rel, ino_t ino,
                     off_t size, int64_t mtime, SSL_SESSION *sess,
                     int64_t expires, const uint8_t key_digest[32], int kind)
{
    struct tlsri_sess_slot *s = &st->sess_cache[slot_of(rel, TLSRI_SESS_SLOTS)];
    SSL_SESSION *old;

    /* A copy: the caller's object is handed out and may be changed. */
    if (strlen(rel) >= sizeof(s->rel) || (sess = SSL_SESSION_dup(sess)) == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    old = s->sess;
    strcpy(s->rel, rel);
    s->ino = ino;
    s->size = size;
    s->mtime_ns = mtime;
    s->sess = sess;
    s->expires = expires;
    memcpy(s->key_digest, key_digest, 32);
    s->kind = kind;
    s->lean = (st->flags & TLSR_STORE_RESTORE_LEAN) != 0;
    pthread_mutex_unlock(&st->lock);
    SSL_SESSION_free(old);
}

void tlsri_cache_drop(struct tlsr_store *st, const char *rel)
{
    struct tlsri_sess_slot *s = &st->sess_cache[slot_of(rel, TLSRI_SESS_SLOTS)];
    SSL_SESSION *old = NULL;

    pthread_mutex_lock(&st->lock);
    if (s->sess != NULL && strcmp(s->rel, rel) == 0) {
        old = s->sess;
        s->sess = NULL;
        s->rel[0] = '\0';
    }
    pthread_mutex_unlock(&st->lock);
    SSL_SESSION_free(old);
}

/*
 * A listing is reused while the directory's mtime is unchanged.  The kernel
 * stamps mtimes from a coarse clock (one tick, <= 10 ms), so a change
 * within the same tick may keep the mtime: a listing is only cached once
 * the directory has been quiet for 100 ms, well past a tick (as git does
 * with its "racily clean" index entries).
 */
static int quiet(const struct stat *sb)
{
    return (int64_t)tlsri_now_ns() - mtime_ns(sb) > 100000000;
}

int tlsri_dircache_get(struct tlsr_store *st, const char *dir,
                       const struct stat *sb, struct tlsri_name *names,
                       int *n)
{
    struct tlsri_dir_slot *s = &st->dir_cache[slot_of(dir, TLSRI_DIR_SLOTS)];
    int hit = 0;

    pthread_mutex_lock(&st->lock);
    if (strcmp(s->dir, dir) == 0 && s->dev == sb->st_dev
        && s->ino == sb->st_ino && s->mtime_ns == mtime_ns(sb)) {
        memcpy(names, s->names, (size_t)s->n * sizeof(*names));
        *n = s->n;
        hit = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return hit;
}

void tlsri_dircache_put(struct tlsr_store *st, const char *dir,
                        const struct stat *sb, const struct tlsri_name *names,
                        size_t n)
{
    struct tlsri_dir_slot *s = &st->dir_cache[slot_of(dir, TLSRI_DIR_SLOTS)];

    if (n > TLSRI_DIR_NAMES || !quiet(sb))
        return;
    pthread_mutex_lock(&st->lock);
    strcpy(s->dir, dir);
    s->dev = sb->st_dev;
    s->ino = sb->st_ino;
    s->mtime_ns = mtime_ns(sb);
    s->n = (int)n;
    memcpy(s->names, names, n * sizeof(*names));
    pthread_mutex_unlock(&st->lock);
}

void tlsri_dircache_drop(struct tlsr_store *st, const char *dir)
{
    struct tlsri_dir_slot *s = &st->dir_cache[slot_of(dir, TLSRI_DIR_SLOTS)];

    pthread_mutex_lock(&st->lock);
    if (strcmp(s->dir, dir) == 0)
        s->dir[0] = '\0';
    pthread_mutex_unlock(&st->lock);
}

void tlsri_cache_free(struct tlsr_store *st)
{
    size_t i;

    if (st->sess_cache != NULL)
        for (i = 0; i < TLSRI_SESS_SLOTS; i++)
            SSL_SESSION_free(st->sess_cache[i].sess);
    OPENSSL_free(st->sess_cache);
    OPENSSL_free(st->dir_cache);
}
