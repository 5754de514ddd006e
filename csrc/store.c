/*
 * The on-disk session store: open, put, get, take, remove (layout and
 * naming in store.h, file format in store_entry.c).  Many processes share
 * one directory: entries are written to a temporary file and renamed into
 * place (readers see whole files or nothing), and a TLS 1.3 ticket is
 * taken by renaming it to a name of our own: only one rename succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "store.h"

TLSR_EXPORT void tlsr_store_options_init(struct tlsr_store_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof(*opts));
    opts->max_tickets = 8;
    opts->max_entries = 100000;
    opts->max_lifetime = 7 * 86400;
}

/* A store object on directory fd (taken: closed on failure), with empty
 * caches; options are the caller's to set. */
static struct tlsr_store *store_alloc(int fd, struct tlsr_error *err)
{
    struct tlsr_store *st = OPENSSL_zalloc(sizeof(*st));

    if (st == NULL
        || (st->sess_cache = OPENSSL_zalloc(TLSRI_SESS_SLOTS
                                            * sizeof(*st->sess_cache))) == NULL
        || (st->dir_cache = OPENSSL_zalloc(TLSRI_DIR_SLOTS
                                           * sizeof(*st->dir_cache))) == NULL
        || pthread_mutex_init(&st->lock, NULL) != 0) {
        if (st != NULL)
            tlsri_cache_free(st);
        OPENSSL_free(st);
        close(fd);
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    st->dirfd = fd;
    return st;
}

TLSR_EXPORT struct tlsr_store *tlsr_store_open(
    const char *path, const struct tlsr_store_options *opts,
    struct tlsr_error *err)
{
    struct tlsr_store_options defaults;
    struct tlsr_store *st;
    int fd;

    tlsr_store_options_init(&defaults);
    if (opts == NULL)
        opts = &defaults;
    if (path == NULL || path[0] == '\0') {
        tlsri_error_set(err, TLSR_EINVAL, "store path is empty");
        return NULL;
    }
    if ((opts->seal_key != NULL || opts->seal_key_len != 0)
        && (opts->seal_key == NULL
            || opts->seal_key_len != TLSRI_SEAL_KEY_LEN)) {
        tlsri_error_set(err, TLSR_EKEY, "seal key must be %d bytes, not %zu",
                        TLSRI_SEAL_KEY_LEN, opts->seal_key_len);
        return NULL;
    }
    if ((opts->flags
         & ~(uint32_t)(TLSR_STORE_LEAN | TLSR_STORE_RESTORE_LEAN)) != 0
        || opts->max_lifetime < 0) {
        tlsri_error_set(err, TLSR_EINVAL, "bad store options");
        return NULL;
    }
    fd = tlsri_dir_open_safe(path, "store", 1, err);
    if (fd < 0)
        return NULL;
    if ((st = store_alloc(fd, err)) == NULL)
        return NULL;
    st->max_tickets = opts->max_tickets ? opts->max_tickets : 8;
    st->max_entries = opts->max_entries ? opts->max_entries : 100000;
    st->max_lifetime = opts->max_lifetime ? opts->max_lifetime : 7 * 86400;
    st->flags = opts->flags;
    if (opts->seal_key != NULL) {
        st->sealed = 1;
        memcpy(st->seal_key, opts->seal_key, TLSRI_SEAL_KEY_LEN);
        if (tlsri_seal_key_id(st->seal_key, st->key_id) != 0) {
            tlsr_store_free(st);
            tlsri_error_ssl(err, TLSR_ESSL, "cannot derive the key id");
            return NULL;
        }
    }
    tlsri_error_clear(err);
    return st;
}

struct tlsr_store *tlsri_store_dup(const struct tlsr_store *src,
                                   struct tlsr_error *err)
{
    struct tlsr_store *st;
    int fd;

    if (src == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    fd = fcntl(src->dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        tlsri_error_set(err, TLSR_EIO, "cannot duplicate the store's "
                        "descriptor: %s", strerror(errno));
        return NULL;
    }
    if ((st = store_alloc(fd, err)) == NULL)
        return NULL;
    st->max_tickets = src->max_tickets;
    st->max_entries = src->max_entries;
    st->max_lifetime = src->max_lifetime;
    st->flags = src->flags;
    st->sealed = src->sealed;
    memcpy(st->seal_key, src->seal_key, sizeof(st->seal_key));
    memcpy(st->key_id, src->key_id, sizeof(st->key_id));
    tlsri_error_clear(err);
    return st;
}

int tlsri_store_same(const struct tlsr_store *a, const struct tlsr_store *b)
{
    struct stat sa, sb;

    if (fstat(a->dirfd, &sa) != 0 || fstat(b->dirfd, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
           && a->sealed == b->sealed && a->flags == b->flags
           && a->max_lifetime == b->max_lifetime
           && CRYPTO_memcmp(a->key_id, b->key_id, sizeof(a->key_id)) == 0;
}

TLSR_EXPORT void tlsr_store_free(struct tlsr_store *st)
{
    if (st == NULL)
        return;
    tlsri_cache_free(st);
    pthread_mutex_destroy(&st->lock);
    close(st->dirfd);
    OPENSSL_cleanse(st->seal_key, sizeof(st->seal_key));
    OPENSSL_free(st);
}

/* Key directories are ours: one that is a symlink (planted) is never
 * followed, so get/put cannot read or write through it. */
#define KEY_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)

/* Open the key's directory, creating it (and its parent) if asked. */
static int open_key_dir(struct tlsr_store *st, const struct tlsri_key *key,
                        int create)
{
    char top[3] = { key->dir[0], key->dir[1], '\0' };
    int fd = openat(st->dirfd, key->dir, KEY_DIR_FLAGS);

    if (fd >= 0 || errno != ENOENT || !create)
        return fd;
    if (mkdirat(st->dirfd, top, 0700) == 0)
        fchmodat(st->dirfd, top, 0700, 0);
    if (mkdirat(st->dirfd, key->dir, 0700) == 0)
        fchmodat(st->dirfd, key->dir, 0700, 0);
    return openat(st->dirfd, key->dir, KEY_DIR_FLAGS);
}

/* ".tmp-<pid>-<random>" / ".claim-<pid>-<random>": prune can tell a dead
 * writer's leftovers by the pid. */
static void inflight_name(char *buf, size_t cap, const char *what)
{
    uint8_t r[8];
    unsigned long long x = 0;
    int i;

    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 0, sizeof(r));
    for (i = 0; i < 8; i++)
        x = (x << 8) | r[i];
    x ^= tlsri_now_ns();
    snprintf(buf, cap, ".%s-%ld-%016llx", what, (long)getpid(), x);
}

/* Write bytes as entry name in kfd: temporary file, then rename. */
static int write_entry(int kfd, const char *name, const uint8_t *buf,
                       size_t len, struct tlsr_error *err)
{
    char tmp[64];
    int fd, e;

    inflight_name(tmp, sizeof(tmp), "tmp");
    fd = openat(kfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                0600);
    if (fd < 0)
        return errno == ENOENT ? TLSR_ENOTFOUND
                               : tlsri_error_set(err, TLSR_EIO,
                                                 "cannot create entry: %s",
                                                 strerror(errno));
    /* 0600 whatever the umask: a umask like 0277 leaves 0400, which
     * later opens (and other processes) could not read or rewrite. */
    if (fchmod(fd, 0600) != 0 || tlsri_write_all(fd, buf, len) != 0) {
        e = errno;
        close(fd);
        unlinkat(kfd, tmp, 0);
        return tlsri_error_set(err, TLSR_EIO, "cannot write entry: %s",
                               strerror(e));
    }
    if (close(fd) != 0 || renameat(kfd, tmp, kfd, name) != 0) {
        e = errno;
        unlinkat(kfd, tmp, 0);
        return tlsri_error_set(err, TLSR_EIO, "cannot write entry: %s",
                               strerror(e));
    }
    return TLSR_OK;
}

/* Unlink an entry; 1 if this call removed it. */
static int drop_entry(struct tlsr_store *st, int kfd, const char *dir,
                      const char *name)
{
    char rel[TLSRI_REL_MAX];

    snprintf(rel, sizeof(rel), "%s/%s", dir, name);
    tlsri_cache_drop(st, rel);
    return unlinkat(kfd, name, 0) == 0;
}

/* After a put: one TLS 1.2 session per key, max_tickets TLS 1.3 tickets
 * (newest win).  Returns the number of entries removed. */
static int trim_key(struct tlsr_store *st, int kfd, const char *dir,
                    const char *mine)
{
    struct tlsri_name *v;
    size_t n, i;
    uint32_t t12 = 0, t13 = 0;
    int removed = 0;

    if (tlsri_list_dir(kfd, &v, &n) != TLSR_OK)
        return 0;
    for (i = 0; i < n; i++) {
        int keep = v[i].kind == TLSRI_KIND_T13 ? ++t13 <= st->max_tickets
                                               : ++t12 <= 1;

        if (strcmp(v[i].name, mine) == 0 || keep)
            continue;
        removed += drop_entry(st, kfd, dir, v[i].name);
    }
    free(v);
    return removed;
}

/* What a put checks before encoding: the session resumes (a session id
 * or a ticket), its times fit an entry header, it has not expired; its
 * expiry and kind.  Shared with the entry codec (entry_codec.c). */
int tlsri_entry_prepare(const struct tlsr_store *st, SSL_SESSION *sess,
                        int64_t *expires, int *kind, struct tlsr_error *err)
{
    unsigned int idlen = 0;

    /* Not SSL_SESSION_is_resumable(): a connection freed without
     * close_notify flags its session so in memory, yet the encoded session
     * resumes fine.  What resumes is a session id or a ticket. */
    SSL_SESSION_get_id(sess, &idlen);
    if (idlen == 0 && !SSL_SESSION_has_ticket(sess))
        return tlsri_error_set(err, TLSR_ENOTRESUMABLE,
                               "session has neither a session id nor a "
                               "ticket (TLS 1.3: read data first)");
    /* An entry header holds times up to INT64_MAX / 2 (store_entry.c):
     * a session from further in the future would be stored unreadable. */
    if (SSL_SESSION_get_time(sess) < 0
        || (int64_t)SSL_SESSION_get_time(sess) > INT64_MAX / 2)
        return tlsri_error_set(err, TLSR_ENOTRESUMABLE,
                               "session creation time is out of range");
    *expires = tlsri_session_expires(sess, st->max_lifetime);
    if (*expires > INT64_MAX / 2)
        *expires = INT64_MAX / 2;
    if (*expires <= tlsri_now())
        return tlsri_error_set(err, TLSR_ENOTRESUMABLE,
                               "session has expired");
    *kind = SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION
               ? TLSRI_KIND_T13 : TLSRI_KIND_T12;
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_store_put(struct tlsr_store *st, const char *host,
                               int port, const char *context,
                               SSL_SESSION *sess, struct tlsr_error *err)
{
    struct tlsri_key key;
    int rc;

    if (st == NULL || sess == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "store or session is NULL");
    if ((rc = tlsri_key_init(&key, host, port, context, err)) != TLSR_OK)
        return rc;
    return tlsri_store_put_key(st, &key, sess, 1, NULL, err);
}

int tlsri_store_put_key(struct tlsr_store *st, const struct tlsri_key *kp,
                        SSL_SESSION *sess, int evict, long long *count_out,
                        struct tlsr_error *err)
{
    struct tlsri_key key = *kp;
    struct tlsri_name name;
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t expires;
    int kind, kfd = -1, rc, tries, removed;
    long long count;

    if ((rc = tlsri_entry_prepare(st, sess, &expires, &kind, err)) != TLSR_OK)
        return rc;
    rc = tlsri_entry_encode(st, &key, sess, kind, expires, &buf, &len, err);
    if (rc != TLSR_OK)
        return rc;
    tlsri_name_make(&name, tlsri_now_ns(), expires, kind, st->sealed);
    /* prune may remove an empty key directory between our mkdir and
     * our create: then create it again. */
    rc = TLSR_ENOTFOUND;
    for (tries = 0; tries < 10 && rc == TLSR_ENOTFOUND; tries++) {
        if (kfd >= 0)
            close(kfd);
        kfd = open_key_dir(st, &key, 1);
        if (kfd < 0 && errno == ENOENT)
            continue;       /* removed again between mkdir and open */
        if (kfd < 0) {
            /* ELOOP/ENOTDIR: a symlink or a file where our directory
             * should be, which no one but us should have put there. */
            rc = tlsri_error_set(err, errno == ELOOP || errno == ENOTDIR
                                          ? TLSR_EPERM : TLSR_EIO,
                                 "cannot create key directory: %s",
                                 strerror(errno));
            break;
        }
        rc = write_entry(kfd, name.name, buf, len, err);
    }
    OPENSSL_clear_free(buf, len);
    if (rc == TLSR_ENOTFOUND)
        rc = tlsri_error_set(err, TLSR_EIO, "key directory keeps vanishing");
    if (rc != TLSR_OK) {
        if (kfd >= 0)
            close(kfd);
        return rc;
    }
    removed = trim_key(st, kfd, key.dir, name.name);
    close(kfd);
    tlsri_dircache_drop(st, key.dir);
    count = tlsri_counter_add(st, 1 - removed);
    if (count_out != NULL)
        *count_out = count;
    if (evict && count > (long long)st->max_entries)
        tlsri_maybe_evict(st, count);
    tlsri_error_clear(err);
    return TLSR_OK;
}

/* The decoded session of entry name (file fname in kfd: the name itself,
 * or our claim after a take), through the cache. */
static SSL_SESSION *load(struct tlsr_store *st, int kfd, const char *rel,
                         const char *fname, int64_t *expires,
                         uint8_t digest[32], struct tlsr_error *err)
{
    struct tlsri_entry_meta meta;
    SSL_SESSION *sess;
    struct stat sb;
    uint8_t *buf;
    size_t len;
    int64_t mt;
    int rc;

    rc = tlsri_read_file(kfd, fname, &buf, &len, &sb, err);
    if (rc != TLSR_OK)
        return NULL;
    mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    sess = tlsri_cache_get(st, rel, sb.st_ino, sb.st_size, mt, expires,
                           digest);
    if (sess == NULL) {
        rc = tlsri_entry_decode(st, buf, len, &meta, &sess, err);
        if (rc == TLSR_OK && tlsri_key_digest(meta.host, meta.port,
                                              meta.context, digest) != 0) {
            SSL_SESSION_free(sess);     /* whose it is is unknown: a miss */
            sess = NULL;
            tlsri_error_ssl(err, TLSR_ESSL, "cannot hash the entry's key");
        } else if (rc == TLSR_OK
                   && tlsr_session_set1_trust(sess, &meta.trust, err) != 0) {
            SSL_SESSION_free(sess);     /* a record lost is a miss */
            sess = NULL;
        } else if (rc == TLSR_OK) {
            int64_t e = tlsri_session_expires(sess, st->max_lifetime);

            *expires = e < meta.expires ? e : meta.expires;
            tlsri_cache_put(st, rel, sb.st_ino, sb.st_size, mt, sess,
                            *expires, digest, meta.kind);
        }
    }
    OPENSSL_clear_free(buf, len);
    return sess;
}

/* Keep the most telling failure seen: trust, sealing, corruption, I/O. */
static void note(struct tlsr_error *best, const struct tlsr_error *e)
{
    static const int rank[] = { TLSR_ETRUST, TLSR_ESEAL, TLSR_ECORRUPT,
                                TLSR_EIO };
    int i, a = 99, b = 99;

    for (i = 0; i < 4; i++) {
        if (rank[i] == e->code)
            a = i;
        if (rank[i] == best->code)
            b = i;
    }
    if (a < b)
        *best = *e;
}

/* The policy's verdict on a store session; one without a record (never
 * from a read, which attaches one) counts as unverified. */
static int allowed(const SSL_SESSION *sess, const struct tlsr_trust *policy,
                   const SSL_CTX *ctx, struct tlsr_error *e)
{
    struct tlsr_trust made;

    if (policy == NULL || !policy->verify)
        return 1;
    if (tlsr_session_get_trust(sess, &made, NULL) != TLSR_OK)
        memset(&made, 0, sizeof(made));
    e->code = 0;
    return tlsr_trust_check(&made, policy, ctx, e) == TLSR_OK;
}

static SSL_SESSION *fetch(struct tlsr_store *st, const char *host, int port,
                          const char *context, int take,
                          const struct tlsr_trust *policy, const SSL_CTX *ctx,
                          struct tlsr_error *err)
{
    struct tlsri_key key;

    if (st == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    if (tlsri_key_init(&key, host, port, context, err) != TLSR_OK)
        return NULL;
    return tlsri_store_fetch_key(st, &key, take, policy, ctx, err);
}

SSL_SESSION *tlsri_store_fetch_key(struct tlsr_store *st,
                                   const struct tlsri_key *kp, int take,
                                   const struct tlsr_trust *policy,
                                   const SSL_CTX *ctx, struct tlsr_error *err)
{
    struct tlsri_name cached[TLSRI_DIR_NAMES], *names = cached, *listed = NULL;
    struct tlsr_error best = { 0, "" }, e;
    struct tlsri_key key = *kp;
    struct stat sb;
    size_t n = 0, i;
    int ncached = 0, from_cache, kfd = -1, dropped = 0;
    int64_t now = tlsri_now();
    SSL_SESSION *out = NULL;
    int port = key.port;

    if (fstatat(st->dirfd, key.dir, &sb, AT_SYMLINK_NOFOLLOW) != 0
        || !S_ISDIR(sb.st_mode)) {
        tlsri_error_set(err, TLSR_ENOTFOUND, "no entry for %s:%d", key.host,
                        port);
        return NULL;
    }
    from_cache = tlsri_dircache_get(st, key.dir, &sb, cached, &ncached);
    if (from_cache) {
        /* The directory is unchanged: a cached session needs no syscall. */
        n = (size_t)ncached;
    } else {
        kfd = openat(st->dirfd, key.dir, KEY_DIR_FLAGS);
        if (kfd < 0 || tlsri_list_dir(kfd, &listed, &n) != TLSR_OK) {
            if (kfd >= 0)
                close(kfd);
            tlsri_error_set(err, TLSR_ENOTFOUND, "no entry for %s:%d",
                            key.host, port);
            return NULL;
        }
        names = listed;
        tlsri_dircache_put(st, key.dir, &sb, listed, n);
    }
    for (i = 0; i < n && out == NULL; i++) {
        char rel[TLSRI_REL_MAX];
        uint8_t digest[32];
        int64_t expires = 0;
        SSL_SESSION *sess = NULL;

        snprintf(rel, sizeof(rel), "%s/%s", key.dir, names[i].name);
        if (from_cache)
            sess = tlsri_cache_get(st, rel, 0, 0, 0, &expires, digest);
        if (kfd < 0 && (sess == NULL || names[i].expires <= now || take)) {
            kfd = openat(st->dirfd, key.dir, KEY_DIR_FLAGS);
            if (kfd < 0) {
                SSL_SESSION_free(sess);
                break;
            }
        }
        if (names[i].expires <= now) {
            SSL_SESSION_free(sess);
            dropped += drop_entry(st, kfd, key.dir, names[i].name);
            continue;
        }
        if (sess == NULL) {
            e.code = 0;
            sess = load(st, kfd, rel, names[i].name, &expires, digest, &e);
            if (sess == NULL) {
                note(&best, &e);
                continue;
            }
        }
        /* The header, not the file's place, says whose session it is. */
        if (CRYPTO_memcmp(digest, key.digest, 32) != 0) {
            SSL_SESSION_free(sess);
            continue;
        }
        if (expires <= now) {
            SSL_SESSION_free(sess);
            if (kfd >= 0)
                dropped += drop_entry(st, kfd, key.dir, names[i].name);
            continue;
        }
        /* Refused entries stay: another context may be allowed them. */
        if (!allowed(sess, policy, ctx, &e)) {
            note(&best, &e);
            SSL_SESSION_free(sess);
            continue;
        }
        if (take && SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION) {
            /* Single use: whoever unlinks the ticket owns it.  Entry names
             * are unique and never rewritten in place, so the unlinked
             * name held the bytes decoded above (a rename to a claim and a
             * second read cost ~25 us of a fresh process's take). */
            tlsri_cache_drop(st, rel);
            if (unlinkat(kfd, names[i].name, 0) != 0) {
                SSL_SESSION_free(sess);
                continue;
            }
            dropped++;
        }
        out = sess;
    }
    if (kfd >= 0)
        close(kfd);
    free(listed);
    if (dropped > 0) {
        tlsri_dircache_drop(st, key.dir);
        tlsri_counter_add(st, -dropped);
    }
    if (out != NULL) {
        tlsri_error_clear(err);
        return out;
    }
    if (best.code != 0)
        tlsri_error_set(err, best.code, "no usable entry for %s:%d: %s",
                        key.host, port, best.msg);
    else
        tlsri_error_set(err, TLSR_ENOTFOUND, "no usable entry for %s:%d",
                        key.host, port);
    return NULL;
}

TLSR_EXPORT int tlsr_store_set_restore_lean(struct tlsr_store *st, int lean)
{
    if (st == NULL)
        return TLSR_EINVAL;
    pthread_mutex_lock(&st->lock);
    if (lean)
        st->flags |= TLSR_STORE_RESTORE_LEAN;
    else
        st->flags &= ~(uint32_t)TLSR_STORE_RESTORE_LEAN;
    pthread_mutex_unlock(&st->lock);
    return TLSR_OK;
}

TLSR_EXPORT SSL_SESSION *tlsr_store_get(struct tlsr_store *st,
                                        const char *host, int port,
                                        const char *context,
                                        const struct tlsr_trust *policy,
                                        const SSL_CTX *ctx,
                                        struct tlsr_error *err)
{
    return fetch(st, host, port, context, 0, policy, ctx, err);
}

TLSR_EXPORT SSL_SESSION *tlsr_store_take(struct tlsr_store *st,
                                         const char *host, int port,
                                         const char *context,
                                         const struct tlsr_trust *policy,
                                         const SSL_CTX *ctx,
                                         struct tlsr_error *err)
{
    return fetch(st, host, port, context, 1, policy, ctx, err);
}

TLSR_EXPORT int tlsr_store_remove(struct tlsr_store *st, const char *host,
                                  int port, const char *context,
                                  struct tlsr_error *err)
{
    struct tlsri_key key;
    int rc;

    if (st == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
    if ((rc = tlsri_key_init(&key, host, port, context, err)) != TLSR_OK)
        return rc;
    return tlsri_store_remove_key(st, &key, err);
}

int tlsri_store_remove_key(struct tlsr_store *st, const struct tlsri_key *kp,
                           struct tlsr_error *err)
{
    const struct tlsri_key key = *kp;
    struct tlsri_name *v;
    size_t n, i;
    int kfd, removed = 0;

    kfd = open_key_dir(st, &key, 0);
    if (kfd < 0) {
        tlsri_error_clear(err);
        return 0;
    }
    if (tlsri_list_dir(kfd, &v, &n) != TLSR_OK) {
        close(kfd);
        return tlsri_error_set(err, TLSR_EIO, "cannot list key directory");
    }
    for (i = 0; i < n; i++)
        removed += drop_entry(st, kfd, key.dir, v[i].name);
    free(v);
    close(kfd);
    tlsri_dircache_drop(st, key.dir);
    if (removed > 0)
        tlsri_counter_add(st, -removed);
    tlsri_error_clear(err);
    return removed;
}
