/*
 * Session files at paths the caller names.
 *
 * tlsr_file_read_private: read one without hanging on a FIFO (O_NONBLOCK),
 * and only if no other user could have written it: a session planted by
 * someone who knows its secret would resume with them, no certificate asked.
 *
 * tlsr_file_write_private: put a secret (a serialized session) at a path the
 * caller names, without ever opening what is already there.  A file, FIFO or
 * hard link someone else planted at the path is refused (lstat); the bytes go
 * to a fresh temporary file (O_EXCL|O_NOFOLLOW, 0600) in the same directory,
 * are fsync'd, and the temporary is renamed over the path.  Something planted
 * between the check and the rename is replaced, never written into.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "internal.h"

enum { PATH_CAP = 4096, TMP_TRIES = 8 };

static const char *kind(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISLNK(m) ? "a symbolic link"
         : S_ISDIR(m) ? "a directory" : S_ISSOCK(m) ? "a socket"
         : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a regular file";
}

/* 0 if path is absent or a regular file of ours with one link. */
static int check_target(const char *path, struct tlsr_error *err)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? TLSR_OK
             : tlsri_error_set(err, TLSR_EIO, "%.150s: %s", path,
                               strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tlsri_error_set(err, TLSR_EPERM, "%.120s exists and is %s: "
                               "not writing a session into it (remove it or "
                               "choose another path)", path, kind(st.st_mode));
    if (st.st_uid != geteuid())
        return tlsri_error_set(err, TLSR_EPERM, "%.120s exists and is owned "
                               "by uid %ld, not by this user: not writing a "
                               "session into it (remove it or choose another "
                               "path)", path, (long)st.st_uid);
    if (st.st_nlink != 1)
        return tlsri_error_set(err, TLSR_EPERM, "%.120s exists and has %ld "
                               "hard links: not writing a session into it "
                               "(remove it or choose another path)", path,
                               (long)st.st_nlink);
    return TLSR_OK;
}

int tlsri_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* "<dir>/.<base>.tmp-<pid>-<random>"; dir (with its '/') is dlen bytes. */
static int tmp_name(char *out, const char *path, size_t dlen)
{
    uint8_t r[8];
    unsigned long long x = 0;
    int i, n;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return -1;
    for (i = 0; i < 8; i++)
        x = (x << 8) | r[i];
    n = snprintf(out, PATH_CAP, "%.*s.%s.tmp-%ld-%016llx", (int)dlen, path,
                 path + dlen, (long)getpid(), x);
    return n > 0 && n < PATH_CAP ? 0 : -1;
}

/* Best effort: make the rename itself durable. */
static void sync_dir(const char *path, size_t dlen)
{
    char dir[PATH_CAP];
    int fd;

    if (dlen == 0)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)dlen, path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

TLSR_EXPORT int tlsr_file_write_private(const char *path,
                                        const uint8_t *data, size_t len,
                                        struct tlsr_error *err)
{
    char tmp[PATH_CAP];
    const char *slash;
    size_t dlen;
    int fd = -1, rc, i, e;

    tlsri_error_clear(err);
    if (path == NULL || path[0] == '\0' || (data == NULL && len > 0))
        return tlsri_error_set(err, TLSR_EINVAL, "path and data expected");
    slash = strrchr(path, '/');
    dlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    if (path[dlen] == '\0' || strcmp(path + dlen, ".") == 0
        || strcmp(path + dlen, "..") == 0)
        return tlsri_error_set(err, TLSR_EINVAL, "%.150s: not a file name",
                               path);
    if (strlen(path) >= PATH_CAP - 64)
        return tlsri_error_set(err, TLSR_EINVAL, "path too long");
    rc = check_target(path, err);
    if (rc != TLSR_OK)
        return rc;
    for (i = 0; i < TMP_TRIES && fd < 0; i++) {
        if (tmp_name(tmp, path, dlen) != 0)
            return tlsri_error_set(err, TLSR_EIO, "no random temporary name");
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return tlsri_error_set(err, TLSR_EIO, "%.150s: cannot create a "
                               "temporary file next to it: %s", path,
                               strerror(errno));
    /* 0600 whatever the umask (0277 would leave 0400). */
    if (fchmod(fd, 0600) != 0 || tlsri_write_all(fd, data, len) != 0
        || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlink(tmp);
        return tlsri_error_set(err, TLSR_EIO, "%.150s: cannot write: %s",
                               path, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return tlsri_error_set(err, TLSR_EIO, "%.150s: cannot write: %s",
                               path, strerror(e));
    }
    sync_dir(path, dlen);
    return TLSR_OK;
}

TLSR_EXPORT int tlsr_file_read_private(const char *path, uint8_t *buf,
                                       size_t *len, struct tlsr_error *err)
{
    struct stat st;
    size_t cap, have = 0;
    int fd, e;

    tlsri_error_clear(err);
    if (path == NULL || path[0] == '\0' || len == NULL
        || (buf == NULL && *len > 0))
        return tlsri_error_set(err, TLSR_EINVAL, "path and buffer expected");
    cap = *len;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return tlsri_error_set(err, TLSR_EIO, "%.150s: %s", path,
                               strerror(errno));
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return tlsri_error_set(err, TLSR_EIO, "%.150s: %s", path,
                               strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tlsri_error_set(err, TLSR_EPERM, "%.120s is %s, not a session "
                               "file", path, kind(st.st_mode));
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        close(fd);
        return tlsri_error_set(err, TLSR_EPERM, "%.120s is owned by uid %ld: "
                               "a session file must be this user's (another "
                               "user could plant a session whose secret they "
                               "know)", path, (long)st.st_uid);
    }
    if ((st.st_mode & 022) != 0) {
        close(fd);
        return tlsri_error_set(err, TLSR_EPERM, "%.120s is group- or world-"
                               "writable (mode %o): chmod 600 it", path,
                               (unsigned)(st.st_mode & 07777));
    }
    if (st.st_size > TLSR_MAX_INPUT) {
        close(fd);
        return tlsri_error_set(err, TLSR_ETOOBIG, "%.150s: larger than %d "
                               "bytes", path, TLSR_MAX_INPUT);
    }
    if ((size_t)st.st_size > cap) {
        close(fd);
        *len = (size_t)st.st_size;
        return tlsri_error_set(err, TLSR_EBUFSIZE, "buffer too small");
    }
    while (have < cap) {
        ssize_t r = read(fd, buf + have, cap - have);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            close(fd);
            return tlsri_error_set(err, TLSR_EIO, "%.150s: %s", path,
                                   strerror(e));
        }
        if (r == 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    *len = have;
    return TLSR_OK;
}
