/*
 * Whole-store work: the shared entry counter, eviction, prune, count and
 * iteration.  These walk every key directory; get/take/put never do (put
 * only evicts once the counter says the store is over its bound, and then
 * evicts a little more than needed so the next scan is far away).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store.h"

static int is_hex(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

static DIR *open_dir_at(int dfd, const char *name)
{
    /* Store directories are never symlinks: a planted one is skipped. */
    int fd = openat(dfd, name,
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *d;

    if (fd < 0)
        return NULL;
    if ((d = fdopendir(fd)) == NULL)
        close(fd);
    return d;
}

int tlsri_walk(struct tlsr_store *st, tlsri_walk_fn fn, void *ctx,
               struct tlsr_error *err)
{
    DIR *top = open_dir_at(st->dirfd, ".");
    struct dirent *t;
    int rc = TLSR_OK;

    if (top == NULL)
        return tlsri_error_set(err, TLSR_EIO, "cannot list the store: %s",
                               strerror(errno));
    while (rc == TLSR_OK && (t = readdir(top)) != NULL) {
        DIR *mid;
        struct dirent *k;

        if (!is_hex(t->d_name, 2) || (mid = open_dir_at(dirfd(top),
                                                        t->d_name)) == NULL)
            continue;
        while (rc == TLSR_OK && (k = readdir(mid)) != NULL) {
            char rel[TLSRI_KEY_DIR_LEN + 1];
            int kfd;

            if (!is_hex(k->d_name, 30))
                continue;
            kfd = openat(dirfd(mid), k->d_name,
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (kfd < 0)
                continue;
            memcpy(rel, t->d_name, 2);   /* both names checked by is_hex */
            rel[2] = '/';
            memcpy(rel + 3, k->d_name, 31);
            rc = fn(ctx, kfd, rel);
            close(kfd);
            if (rc == 1) {      /* fn says the directory may be empty */
                unlinkat(dirfd(mid), k->d_name, AT_REMOVEDIR);
                rc = TLSR_OK;
            }
        }
        closedir(mid);
    }
    closedir(top);
    if (rc < 0 && err != NULL && err->code == 0)
        tlsri_error_set(err, rc, "store scan failed");
    return rc;
}

/* ---- the entry counter: DIR/.count, updated under flock ---- */

/* A fresh open file description per call: flock then works between
 * threads, forked workers and processes alike. */
static long long counter_update(struct tlsr_store *st, int set, long long v)
{
    char buf[32];
    long long cur = 0;
    ssize_t r;
    int fd = openat(st->dirfd, ".count",
                    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0)
        return -1;
    /* 0600 whatever the umask (0277 would leave it unwritable). */
    if (fchmod(fd, 0600) != 0 || flock(fd, LOCK_EX) != 0) {
        close(fd);
        return -1;
    }
    r = pread(fd, buf, sizeof(buf) - 1, 0);
    if (r > 0) {
        buf[r] = '\0';
        cur = strtoll(buf, NULL, 10);
    }
    /* Kept exact, so briefly below 0 when a take's decrement lands before
     * the increment of the put that made its entry (they run unordered in
     * two processes); only what callers see is clamped. */
    cur = set ? v : cur + v;
    snprintf(buf, sizeof(buf), "%020lld\n", cur);
    if (pwrite(fd, buf, 21, 0) != 21)
        cur = -1;
    else if (cur < 0)
        cur = 0;
    close(fd);
    return cur;
}

long long tlsri_counter_add(struct tlsr_store *st, long long delta)
{
    return counter_update(st, 0, delta);
}

/* ---- scans ---- */

int tlsri_stale_inflight(int kfd, const char *name, int64_t now)
{
    const char *p;
    struct stat sb;
    long pid;

    if (strncmp(name, ".tmp-", 5) == 0)
        p = name + 5;
    else if (strncmp(name, ".claim-", 7) == 0)
        p = name + 7;
    else
        return 0;
    pid = strtol(p, NULL, 10);
    /* A dead writer's file, or one older than any write takes. */
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 1;
    return fstatat(kfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0
           && now - (int64_t)sb.st_mtime > 60;
}

struct scan {
    struct tlsr_store *st;
    int64_t now;
    int prune;              /* remove expired, surplus and stale files */
    int collect;            /* gather put times of live entries */
    uint64_t cutoff;        /* evict entries put at or before (0: none) */
    long long live, removed, evicted;
    uint64_t *times;        /* put_ns of live entries, if collected */
    size_t ntimes, cap;
};

static int scan_dir(void *ctx, int kfd, const char *rel)
{
    struct scan *s = ctx;
    struct tlsri_name nm;
    uint32_t t12 = 0, t13 = 0;
    struct dirent *de;
    int fd = dup(kfd);
    DIR *d;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return TLSR_OK;
    }
    /* Newest first matters for the per-key bounds: list, then act. */
    if (s->prune) {
        struct tlsri_name *v;
        size_t n, i;

        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] == '.' && tlsri_stale_inflight(kfd, de->d_name,
                                                             s->now))
                unlinkat(kfd, de->d_name, 0);
        if (tlsri_list_dir(kfd, &v, &n) != TLSR_OK) {
            closedir(d);
            return TLSR_ENOMEM;
        }
        for (i = 0; i < n; i++) {
            int64_t put = (int64_t)(v[i].put_ns / 1000000000u);
            /* max_lifetime may be anything up to INT64_MAX: saturate. */
            int64_t cap = put > INT64_MAX - s->st->max_lifetime
                              ? INT64_MAX : put + s->st->max_lifetime;
            int keep = v[i].expires > s->now && cap > s->now
                       && (v[i].kind == TLSRI_KIND_T13
                               ? ++t13 <= s->st->max_tickets : ++t12 <= 1);

            if (keep && v[i].put_ns > s->cutoff) {
                s->live++;
                if (s->collect) {
                    if (s->ntimes == s->cap) {
                        size_t nc = s->cap ? s->cap * 2 : 4096;
                        uint64_t *nt = realloc(s->times, nc * sizeof(*nt));

                        if (nt == NULL) {
                            free(v);
                            closedir(d);
                            return TLSR_ENOMEM;
                        }
                        s->times = nt;
                        s->cap = nc;
                    }
                    s->times[s->ntimes++] = v[i].put_ns;
                }
                continue;
            }
            if (unlinkat(kfd, v[i].name, 0) == 0) {
                char r[TLSRI_REL_MAX];

                snprintf(r, sizeof(r), "%s/%s", rel, v[i].name);
                tlsri_cache_drop(s->st, r);
                if (keep)
                    s->evicted++;
                else
                    s->removed++;
            }
        }
        free(v);
        tlsri_dircache_drop(s->st, rel);
        closedir(d);
        return 1;   /* removed if now empty */
    }
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && tlsri_name_parse(de->d_name, &nm))
            s->live++;
    closedir(d);
    return TLSR_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Prune; then, if more than target entries are left, evict the oldest.
 * Returns the number of entries removed. */
static long long prune_to(struct tlsr_store *st, long long target,
                          struct tlsr_error *err)
{
    struct scan s;
    long long before, after;
    int rc;

    memset(&s, 0, sizeof(s));
    s.st = st;
    s.now = tlsri_now();
    s.prune = 1;
    s.collect = 1;
    before = tlsri_counter_add(st, 0);
    rc = tlsri_walk(st, scan_dir, &s, err);
    if (rc == TLSR_OK && s.live > target && s.ntimes == (size_t)s.live) {
        /* Second pass: everything put at or before the cutoff goes. */
        qsort(s.times, s.ntimes, sizeof(*s.times), cmp_u64);
        s.cutoff = s.times[s.ntimes - (size_t)target - 1];
        free(s.times);
        s.times = NULL;
        s.collect = 0;
        s.live = 0;
        rc = tlsri_walk(st, scan_dir, &s, err);
    }
    free(s.times);
    if (rc != TLSR_OK)
        return rc;
    /* Others' puts and takes during the scan moved the counter on. */
    after = tlsri_counter_add(st, 0);
    if (before >= 0 && after >= 0)
        counter_update(st, 1, s.live + (after - before));
    return s.removed + s.evicted;
}

void tlsri_maybe_evict(struct tlsr_store *st, long long count)
{
    long long slack = st->max_entries / 64;
    int fd = openat(st->dirfd, ".evict",
                    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    (void)count;
    if (fd < 0)
        return;
    fchmod(fd, 0600);   /* whatever the umask, as every store file */
    /* One evicting process at a time; the others carry on. */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        prune_to(st, (long long)st->max_entries - slack, NULL);
    close(fd);
}

TLSR_EXPORT int tlsr_store_prune(struct tlsr_store *st,
                                 struct tlsr_error *err)
{
    long long r;

    if (st == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
    tlsri_error_clear(err);
    r = prune_to(st, st->max_entries, err);
    if (r < 0)
        return (int)r;
    return r > 0x7fffffff ? 0x7fffffff : (int)r;
}

TLSR_EXPORT int tlsr_store_count(struct tlsr_store *st,
                                 struct tlsr_error *err)
{
    struct scan s;
    int rc;

    if (st == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
    memset(&s, 0, sizeof(s));
    s.st = st;
    tlsri_error_clear(err);
    rc = tlsri_walk(st, scan_dir, &s, err);
    if (rc != TLSR_OK)
        return rc;
    return s.live > 0x7fffffff ? 0x7fffffff : (int)s.live;
}

/* ---- iteration: a snapshot of entry paths, read one by one ---- */

struct tlsr_store_iter {
    struct tlsr_store *st;
    char **rel;
    size_t n, cap, pos;
};

static int collect(void *ctx, int kfd, const char *rel)
{
    struct tlsr_store_iter *it = ctx;
    struct tlsri_name *v;
    size_t n, i;

    if (tlsri_list_dir(kfd, &v, &n) != TLSR_OK)
        return TLSR_ENOMEM;
    for (i = 0; i < n; i++) {
        char *r;

        if (it->n == it->cap) {
            size_t nc = it->cap ? it->cap * 2 : 64;
            char **nr = realloc(it->rel, nc * sizeof(*nr));

            if (nr == NULL) {
                free(v);
                return TLSR_ENOMEM;
            }
            it->rel = nr;
            it->cap = nc;
        }
        r = malloc(strlen(rel) + strlen(v[i].name) + 2);
        if (r == NULL) {
            free(v);
            return TLSR_ENOMEM;
        }
        sprintf(r, "%s/%s", rel, v[i].name);
        it->rel[it->n++] = r;
    }
    free(v);
    return TLSR_OK;
}

TLSR_EXPORT void tlsr_store_iter_free(struct tlsr_store_iter *it)
{
    size_t i;

    if (it == NULL)
        return;
    for (i = 0; i < it->n; i++)
        free(it->rel[i]);
    free(it->rel);
    free(it);
}

TLSR_EXPORT struct tlsr_store_iter *tlsr_store_iter_new(
    struct tlsr_store *st, struct tlsr_error *err)
{
    struct tlsr_store_iter *it;
    int rc;

    if (st == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "store is NULL");
        return NULL;
    }
    if ((it = calloc(1, sizeof(*it))) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    it->st = st;
    tlsri_error_clear(err);
    rc = tlsri_walk(st, collect, it, err);
    if (rc != TLSR_OK) {
        if (rc == TLSR_ENOMEM)
            tlsri_error_set(err, rc, "out of memory");
        tlsr_store_iter_free(it);
        return NULL;
    }
    return it;
}

/*
 * Fills entry from the next entry file.  Entries removed since the
 * snapshot are skipped; an entry that cannot be read (sealed under another
 * key, corrupt) gives its error, with what its header says filled in, and
 * the next call moves on.
 */
TLSR_EXPORT int tlsr_store_iter_next(struct tlsr_store_iter *it,
                                     struct tlsr_store_entry *entry,
                                     struct tlsr_error *err)
{
    if (it == NULL || entry == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "iterator or entry is NULL");
    while (it->pos < it->n) {
        const char *rel = it->rel[it->pos++];
        struct tlsri_entry_meta meta;
        SSL_SESSION *sess = NULL;
        struct stat sb;
        uint8_t *buf;
        size_t len;
        int rc;

        rc = tlsri_read_file(it->st->dirfd, rel, &buf, &len, &sb, err);
        if (rc == TLSR_ENOTFOUND)
            continue;
        if (rc != TLSR_OK)
            return rc;
        memset(entry, 0, sizeof(*entry));
        rc = tlsri_entry_decode(it->st, buf, len, &meta, &sess, err);
        OPENSSL_clear_free(buf, len);
        memcpy(entry->host, meta.host, sizeof(entry->host));
        entry->port = meta.port;
        memcpy(entry->context, meta.context, sizeof(entry->context));
        entry->sealed = meta.sealed;
        if (rc != TLSR_OK)
            return rc;
        rc = tlsr_session_inspect(sess, 0, &entry->info, err);
        SSL_SESSION_free(sess);
        if (rc != TLSR_OK)
            return rc;
        tlsri_error_clear(err);
        return 1;
    }
    tlsri_error_clear(err);
    return 0;
}
