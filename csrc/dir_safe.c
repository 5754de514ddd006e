/*
 * Directories that hold secrets (the session store, ticket key rings): like
 * ssh with ~/.ssh, only one no one else can write to (or replace files in).
 * One that others cannot write (0755) is used as it is; the ones we create
 * are 0700.  "what" names the directory's use in messages ("store", "ring").
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static int check_dir(const struct stat *sb, const char *path,
                     const char *what, struct tlsr_error *err)
{
    if (!S_ISDIR(sb->st_mode))
        return tlsri_error_set(err, TLSR_EIO, "%s path %s is not a "
                               "directory", what, path);
    /* /tmp (1777): chmod would break it; the fix is a directory below. */
    if ((sb->st_mode & S_ISVTX) != 0 && (sb->st_mode & S_IWOTH) != 0)
        return tlsri_error_set(err, TLSR_EPERM, "%s directory %s is "
                               "shared with other users (sticky, "
                               "world-writable): use a subdirectory of your "
                               "own", what, path);
    if (sb->st_uid != geteuid())
        return tlsri_error_set(err, TLSR_EPERM, "%s directory %s is owned "
                               "by uid %u, not by this user (uid %u)", what,
                               path, (unsigned)sb->st_uid,
                               (unsigned)geteuid());
    if ((sb->st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return tlsri_error_set(err, TLSR_EPERM, "%s directory %s is "
                               "writable by %s (mode %04o): chmod go-w it",
                               what, path,
                               (sb->st_mode & S_IWOTH) ? "others"
                                                       : "its group",
                               (unsigned)(sb->st_mode & 07777));
    return TLSR_OK;
}

/* mkdir -p: each directory we create is 0700 (mkdir's mode is filtered by
 * the umask; chmod sets it exactly); existing ones are left as they are. */
static int make_dirs(const char *path, const char *what,
                     struct tlsr_error *err)
{
    char buf[4096];
    size_t n = strlen(path), i;

    if (n >= sizeof(buf))
        return tlsri_error_set(err, TLSR_EINVAL, "%s path is too long", what);
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')      /* "//" or a trailing "/" */
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) == 0)
            chmod(buf, 0700);
        else if (errno != EEXIST)
            return tlsri_error_set(err, TLSR_EIO, "cannot create %s "
                                   "directory %s: %s", what, buf,
                                   strerror(errno));
        buf[i] = path[i];
    }
    return TLSR_OK;
}

/*
 * The path itself, once opened as fd (sb): a symlink there is followed only
 * if this user (or root) made it, so one planted by another user (e.g. in
 * /tmp) cannot point us at a directory of ours it chose.  A plain
 * directory must be the one we opened.
 */
static int check_path(const char *path, const struct stat *sb,
                      const char *what, struct tlsr_error *err)
{
    struct stat lsb;

    if (lstat(path, &lsb) != 0)
        return tlsri_error_set(err, TLSR_EIO, "cannot stat %s: %s", path,
                               strerror(errno));
    if (S_ISLNK(lsb.st_mode)) {
        if (lsb.st_uid != geteuid() && lsb.st_uid != 0)
            return tlsri_error_set(err, TLSR_EPERM, "%s path %s is a "
                                   "symlink owned by uid %u", what, path,
                                   (unsigned)lsb.st_uid);
        return TLSR_OK;
    }
    if (lsb.st_dev != sb->st_dev || lsb.st_ino != sb->st_ino)
        return tlsri_error_set(err, TLSR_EPERM, "%s path %s was replaced "
                               "while being opened", what, path);
    return TLSR_OK;
}

int tlsri_dir_open_safe(const char *path, const char *what, int create,
                        struct tlsr_error *err)
{
    struct stat sb;
    int fd;

    if (create && make_dirs(path, what, err) != TLSR_OK)
        return -1;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        tlsri_error_set(err, e == EACCES ? TLSR_EPERM
                             : e == ENOENT ? TLSR_ENOTFOUND : TLSR_EIO,
                        "cannot open %s directory %s: %s", what, path,
                        strerror(e));
        if (e == ENOENT && err != NULL && strcmp(what, "store") == 0)
            err->code = TLSR_EIO;   /* the store's historical code */
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        tlsri_error_set(err, TLSR_EIO, "cannot stat %s: %s", path,
                        strerror(errno));
        close(fd);
        return -1;
    }
    if (check_dir(&sb, path, what, err) != TLSR_OK
        || check_path(path, &sb, what, err) != TLSR_OK) {
        close(fd);
        return -1;
    }
    return fd;
}
