/*
 * Ticket key rings on disk: ring.conf and the key files (layout in ring.h).
 * Every file is created as a temporary (O_EXCL, 0600) and link()ed to its
 * name, which never replaces: a kill -9 leaves at most a ".tmp-" file,
 * which loading ignores.  Reads refuse files another user could have
 * written or that others can read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ring.h"

enum { CONF_MAX = 512 };

size_t tlsri_ring_key_bytes(const struct tlsri_ring_conf *conf)
{
    return conf->aes256 ? 80 : 48;
}

/* Write data as dfd/name unless it exists: 1 made, 0 existed, < 0 error. */
static int publish(int dfd, const char *name, const uint8_t *data,
                   size_t len, struct tlsr_error *err)
{
    char tmp[64];
    uint8_t r[8];
    int fd, rc, e;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return tlsri_error_ssl(err, TLSR_ESSL, "no random temporary name");
    snprintf(tmp, sizeof(tmp), ".tmp-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
             (long)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                              | O_CLOEXEC, 0600);
    if (fd < 0)
        return tlsri_error_set(err, TLSR_EIO, "cannot create a file in the "
                               "ring: %s", strerror(errno));
    if (fchmod(fd, 0600) != 0 || tlsri_write_all(fd, data, len) != 0
        || fsync(fd) != 0 || close(fd) != 0) {
        e = errno;
        unlinkat(dfd, tmp, 0);
        return tlsri_error_set(err, TLSR_EIO, "cannot write ring file %s: %s",
                               name, strerror(e));
    }
    rc = linkat(dfd, tmp, dfd, name, 0);
    e = errno;
    unlinkat(dfd, tmp, 0);
    if (rc == 0) {
        fsync(dfd);
        return 1;
    }
    if (e == EEXIST)
        return 0;
    return tlsri_error_set(err, TLSR_EIO, "cannot publish ring file %s: %s",
                           name, strerror(e));
}

int tlsri_ring_conf_write(int dfd, const struct tlsri_ring_conf *conf,
                          struct tlsr_error *err)
{
    char buf[CONF_MAX];
    int n = snprintf(buf, sizeof(buf), "tlsresume-ring 1\ncipher %s\n"
                     "origin %" PRId64 "\nperiod %" PRId64 "\nkeep %" PRId64
                     "\n", conf->aes256 ? "aes256" : "aes128", conf->origin,
                     conf->period, conf->keep);
    int rc = publish(dfd, "ring.conf", (const uint8_t *)buf, (size_t)n, err);

    if (rc == 0)
        return tlsri_error_set(err, TLSR_EINVAL, "a ring exists there "
                               "already (ring.conf)");
    return rc < 0 ? rc : TLSR_OK;
}

/* Read a small private file: regular, ours, no group/other access. */
static int read_private(int dfd, const char *name, const char *path,
                        uint8_t *buf, size_t cap, size_t *len,
                        struct tlsr_error *err)
{
    struct stat sb;
    ssize_t r;
    size_t have = 0;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK
                                   | O_CLOEXEC);

    if (fd < 0)
        return tlsri_error_set(err, errno == ENOENT ? TLSR_ENOTFOUND
                                                    : TLSR_ECORRUPT,
                               "ring %.120s: cannot open %s: %s", path, name,
                               strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tlsri_error_set(err, TLSR_ECORRUPT, "ring %.120s: %s is not "
                               "a regular file", path, name);
    }
    if (sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
        close(fd);
        return tlsri_error_set(err, TLSR_EPERM, "ring %.120s: %s must be "
                               "this user's and mode 0600 (uid %u, mode "
                               "%04o)", path, name, (unsigned)sb.st_uid,
                               (unsigned)(sb.st_mode & 07777));
    }
    while (have < cap) {
        r = read(fd, buf + have, cap - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    *len = have;
    return TLSR_OK;
}

static int parse_conf(const char *text, struct tlsri_ring_conf *conf)
{
    char cipher[16];
    long long origin, period, keep;
    int used = 0;

    if (sscanf(text, "tlsresume-ring 1\ncipher %15s\norigin %lld\n"
               "period %lld\nkeep %lld\n%n", cipher, &origin, &period, &keep,
               &used) != 4 || text[used] != '\0')
        return -1;
    if (strcmp(cipher, "aes256") == 0)
        conf->aes256 = 1;
    else if (strcmp(cipher, "aes128") == 0)
        conf->aes256 = 0;
    else
        return -1;
    if (origin < 0 || period < 1 || keep < 1
        || period + keep > TLSR_RING_MAX_LIFE
        || keep / period > TLSRI_RING_PER_KEEP_MAX)
        return -1;
    conf->origin = origin;
    conf->period = period;
    conf->keep = keep;
    return 0;
}

/* "<16 hex>.key" -> start; 0 if not a key file name. */
static int key_name_parse(const char *name, int64_t *start)
{
    unsigned long long v = 0;
    int i;

    if (strlen(name) != 20 || strcmp(name + 16, ".key") != 0)
        return 0;
    for (i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

        if (d < 0)
            return 0;
        v = (v << 4) | (unsigned)d;
    }
    if (v > INT64_MAX)
        return 0;
    *start = (int64_t)v;
    return 1;
}

static void key_file_name(char *buf, size_t cap, int64_t start)
{
    snprintf(buf, cap, "%016llx.key", (unsigned long long)start);
}

static int cmp_start(const void *a, const void *b)
{
    const struct tlsri_ring_entry *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

/* Split raw key bytes in the ring's layout. */
static void key_split(const struct tlsri_ring_conf *conf, const uint8_t *raw,
                      struct tlsri_ticket_key *k)
{
    memcpy(k->name, raw, 16);
    if (conf->aes256) {             /* name16|hmac32|aes32 */
        memcpy(k->hmac_key, raw + 16, 32);
        memcpy(k->aes_key, raw + 48, 32);
        k->hmac_len = k->aes_len = 32;
    } else {                        /* name16|aes16|hmac16 */
        memcpy(k->aes_key, raw + 16, 16);
        memcpy(k->hmac_key, raw + 32, 16);
        k->hmac_len = k->aes_len = 16;
    }
}

void tlsri_ring_snap_free(struct tlsri_ring_snap *snap)
{
    OPENSSL_clear_free(snap, sizeof(*snap));
}

int tlsri_ring_stat(const char *path, dev_t *dev, ino_t *ino,
                    int64_t *mtime_ns, int64_t *ctime_ns)
{
    struct stat sb;

    if (stat(path, &sb) != 0)
        return -1;
    *dev = sb.st_dev;
    *ino = sb.st_ino;
    *mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    *ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec;
    return 0;
}

static int load_keys(int dfd, const char *path,
                     const struct tlsri_ring_conf *conf,
                     struct tlsri_ring_snap *snap, struct tlsr_error *err)
{
    uint8_t raw[TLSRI_RING_KEY_MAX + 1];
    size_t want = tlsri_ring_key_bytes(conf), len;
    struct dirent *de;
    int64_t start;
    DIR *d;
    int fd = dup(dfd), rc = TLSR_OK;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return tlsri_error_set(err, TLSR_EIO, "ring %.150s: cannot list: %s",
                               path, strerror(errno));
    }
    while (rc == TLSR_OK && (de = readdir(d)) != NULL) {
        if (!key_name_parse(de->d_name, &start))
            continue;
        if (snap->n >= TLSRI_RING_KEYS_MAX) {
            rc = tlsri_error_set(err, TLSR_ECORRUPT, "ring %.150s: more than "
                                 "%d key files", path, TLSRI_RING_KEYS_MAX);
            break;
        }
        rc = read_private(dfd, de->d_name, path, raw, sizeof(raw), &len, err);
        if (rc == TLSR_ENOTFOUND) {     /* a rotation removed it meanwhile */
            rc = TLSR_OK;
            continue;
        }
        if (rc == TLSR_OK && len != want)
            rc = tlsri_error_set(err, TLSR_ECORRUPT, "ring %.150s: key file "
                                 "%s is %zu bytes, not %zu", path, de->d_name,
                                 len, want);
        if (rc == TLSR_OK) {
            snap->e[snap->n].start = start;
            key_split(conf, raw, &snap->e[snap->n].k);
            snap->n++;
        }
    }
    closedir(d);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc == TLSR_OK && snap->n == 0)
        rc = tlsri_error_set(err, TLSR_ECORRUPT, "ring %.150s has no keys "
                             "(run: tlsresume keys rotate %.100s)", path,
                             path);
    qsort(snap->e, snap->n, sizeof(snap->e[0]), cmp_start);
    return rc;
}

int tlsri_ring_load(const char *path, struct tlsri_ring_conf *conf,
                    struct tlsri_ring_snap **out, struct tlsr_error *err)
{
    char text[CONF_MAX];
    struct tlsri_ring_snap *snap;
    size_t len;
    int dfd, rc;

    *out = NULL;
    /* What we stat is what we then read: a change in between is seen by
     * the next check (its mtime differs from the one recorded). */
    snap = OPENSSL_zalloc(sizeof(*snap));
    if (snap == NULL)
        return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    if (tlsri_ring_stat(path, &snap->dev, &snap->ino, &snap->mtime_ns,
                        &snap->ctime_ns) != 0) {
        rc = errno == ENOENT
             ? tlsri_error_set(err, TLSR_ENOTFOUND, "ticket key ring %.150s "
                               "does not exist (create it with: tlsresume "
                               "keys init PATH)", path)
             : tlsri_error_set(err, TLSR_EIO, "ring %.150s: %s", path,
                               strerror(errno));
        OPENSSL_free(snap);
        return rc;
    }
    dfd = tlsri_dir_open_safe(path, "ring", 0, err);
    if (dfd < 0) {
        OPENSSL_free(snap);
        return err != NULL ? err->code : TLSR_EIO;
    }
    rc = read_private(dfd, "ring.conf", path, (uint8_t *)text,
                      sizeof(text) - 1, &len, err);
    if (rc == TLSR_ENOTFOUND)
        rc = tlsri_error_set(err, TLSR_ENOTFOUND, "%.150s is not a ticket key "
                             "ring (no ring.conf; create one with: tlsresume "
                             "keys init PATH)", path);
    if (rc == TLSR_OK) {
        text[len] = '\0';
        if (parse_conf(text, conf) != 0)
            rc = tlsri_error_set(err, TLSR_ECORRUPT, "ring %.150s: ring.conf "
                                 "is malformed", path);
    }
    if (rc == TLSR_OK)
        rc = load_keys(dfd, path, conf, snap, err);
    close(dfd);
    if (rc != TLSR_OK) {
        tlsri_ring_snap_free(snap);
        return rc;
    }
    *out = snap;
    return TLSR_OK;
}

int tlsri_ring_add_key(int dfd, const struct tlsri_ring_conf *conf,
                       int64_t start, struct tlsr_error *err)
{
    uint8_t raw[TLSRI_RING_KEY_MAX];
    size_t n = tlsri_ring_key_bytes(conf);
    char name[32];
    int rc;

    if (RAND_bytes(raw, (int)n) != 1)
        return tlsri_error_ssl(err, TLSR_ESSL, "cannot generate a key");
    key_file_name(name, sizeof(name), start);
    rc = publish(dfd, name, raw, n, err);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

int tlsri_ring_unlink_key(int dfd, int64_t start)
{
    char name[32];

    key_file_name(name, sizeof(name), start);
    return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
}

/* Remove ".tmp-<pid>-..." files of writers that are gone (kill -9). */
int tlsri_ring_clean_tmp(int dfd)
{
    struct dirent *de;
    DIR *d;
    int fd = dup(dfd), removed = 0;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid;

        if (strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        pid = strtol(de->d_name + 5, &end, 10);
        if (end == de->d_name + 5 || *end != '-' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;               /* alive (or not ours to tell) */
        if (unlinkat(dfd, de->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
