/*
 * tlsr_file_write_private / tlsr_file_read_private (issue 8 finding 3): a
 * secret written to a path the caller names lands in a new 0600 file renamed
 * into place; a file, FIFO, symlink or hard link already at the path is
 * refused, never opened.  A session file is read only if no other user could
 * have written it, and a FIFO never blocks the read.
 * The planted-by-another-user cases run as root, with a child that drops to
 * `nobody` to plant them (skipped, and said so, when not root).  Calls that
 * could block on a FIFO run in a child under alarm(): a hang fails the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tlsresume.h"

enum { NOBODY = 65534 };

static const uint8_t secret[] = "-----BEGIN SSL SESSION PARAMETERS-----\n"
                                "not really a session, a stand-in secret\n";
static char dir[64], pub[96];
static pid_t owner;

static void cleanup(void)
{
    char cmd[128];

    if (getpid() == owner && dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
}

static void setup_dirs(void)
{
    if (dir[0] != '\0')
        return;
    snprintf(dir, sizeof(dir), "/tmp/tlsr-fw.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    owner = getpid();
    atexit(cleanup);
    /* pub: like /tmp, sticky and world-writable. */
    snprintf(pub, sizeof(pub), "%s/pub", dir);
    chmod(dir, 0711);
    mkdir(pub, 0777);
    chmod(pub, 01777);
}

static void path_of(char *buf, size_t cap, const char *name)
{
    setup_dirs();
    snprintf(buf, cap, "%s/%s", pub, name);
}

static int leftovers(void)
{
    DIR *d = opendir(pub);
    struct dirent *e;
    int n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp-") != NULL;
    if (d != NULL)
        closedir(d);
    return n;
}

/* The call in a child under alarm(5): its code, or 999 if it hung/died. */
static int write_in_child(const char *path)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        struct tlsr_error err;

        alarm(5);
        _exit(-tlsr_file_write_private(path, secret, sizeof(secret), &err));
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 999;
    return -WEXITSTATUS(status);
}

/* The same for a read. */
static int read_in_child(const char *path)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        struct tlsr_error err;
        uint8_t buf[64];
        size_t len = sizeof(buf);

        alarm(5);
        _exit(-tlsr_file_read_private(path, buf, &len, &err));
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return 999;
    return -WEXITSTATUS(status);
}

/* Run cmd as nobody in a child (plants things); 0 on success. */
static int as_nobody(void (*plant)(const char *), const char *path)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(2);
        plant(path);
        _exit(0);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
               && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void plant_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);

    if (fd < 0 || fchmod(fd, 0666) != 0)
        _exit(1);
    close(fd);
}

static void plant_fifo(const char *path)
{
    if (mkfifo(path, 0666) != 0 || chmod(path, 0666) != 0)
        _exit(1);
}

static void plant_link(const char *path)
{
    char theirs[256];

    snprintf(theirs, sizeof(theirs), "%s.theirs", path);
    plant_file(theirs);
    if (link(theirs, path) != 0)
        _exit(1);
}

static int skip_unless_root(void)
{
    if (geteuid() == 0)
        return 0;
    printf("skip (needs root: a second user plants the target)\n");
    return 1;
}

static void writes_new_file_0600_whatever_the_umask(void)
{
    char path[256], buf[256];
    struct tlsr_error err;
    struct stat st;
    mode_t old = umask(0277);
    int fd;
    ssize_t n;

    path_of(path, sizeof(path), "new.pem");
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_OK, &err);
    umask(old);
    CHECK(lstat(path, &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ_INT(st.st_mode & 07777, 0600);
    CHECK_EQ_INT(st.st_uid, geteuid());
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    CHECK_EQ_INT(n, sizeof(secret));
    CHECK(memcmp(buf, secret, sizeof(secret)) == 0);
    CHECK_EQ_INT(leftovers(), 0);
}

static void replaces_own_file_by_rename(void)
{
    char path[256];
    struct tlsr_error err;
    struct stat a, b;
    int fd;

    path_of(path, sizeof(path), "own.pem");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    close(fd);
    CHECK(lstat(path, &a) == 0);
    fd = open(path, O_RDONLY);         /* a reader of the old file */
    CHECK(fd >= 0);
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_OK, &err);
    CHECK(lstat(path, &b) == 0);
    CHECK(a.st_ino != b.st_ino);
    CHECK_EQ_INT(b.st_mode & 07777, 0600);
    {
        char c;
        CHECK_EQ_INT(read(fd, &c, 1), 0); /* the old inode got nothing */
    }
    close(fd);
}

static void regression_refuses_own_fifo_without_hanging(void)
{
    char path[256];

    path_of(path, sizeof(path), "own-fifo.pem");
    CHECK(mkfifo(path, 0600) == 0);
    CHECK_EQ_INT(write_in_child(path), TLSR_EPERM);
    CHECK_EQ_INT(leftovers(), 0);
}

static void regression_refuses_symlink(void)
{
    char path[256], target[256];
    struct tlsr_error err;
    struct stat st;

    path_of(target, sizeof(target), "symlink-target");
    path_of(path, sizeof(path), "symlink.pem");
    CHECK(symlink(target, path) == 0);   /* dangling: O_CREAT would follow */
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_EPERM, &err);
    CHECK(strstr(err.msg, "symbolic link") != NULL);
    CHECK(lstat(target, &st) != 0 && errno == ENOENT);
}

static void regression_refuses_own_file_with_two_links(void)
{
    char path[256], other[256];
    struct tlsr_error err;
    struct stat st;
    int fd;

    path_of(path, sizeof(path), "linked-own.pem");
    path_of(other, sizeof(other), "linked-own.other");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(link(path, other) == 0);
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_EPERM, &err);
    CHECK(strstr(err.msg, "2 hard links") != NULL);
    CHECK(lstat(other, &st) == 0 && st.st_size == 0);
}

static void regression_save_refuses_planted_file(void)
{
    char path[256], c;
    struct tlsr_error err;
    struct stat st;
    int fd;

    if (skip_unless_root())
        return;
    path_of(path, sizeof(path), "planted.pem");
    CHECK(as_nobody(plant_file, path) == 0);
    fd = open(path, O_RDONLY);          /* the attacker's read fd */
    CHECK(fd >= 0);
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_EPERM, &err);
    CHECK(strstr(err.msg, "owned by uid 65534") != NULL);
    CHECK_EQ_INT(read(fd, &c, 1), 0);
    close(fd);
    CHECK(lstat(path, &st) == 0 && st.st_size == 0 && st.st_uid == NOBODY);
    CHECK_EQ_INT(leftovers(), 0);
}

static void regression_save_refuses_planted_fifo(void)
{
    char path[256];
    struct stat st;

    if (skip_unless_root())
        return;
    path_of(path, sizeof(path), "planted-fifo.pem");
    CHECK(as_nobody(plant_fifo, path) == 0);
    CHECK_EQ_INT(write_in_child(path), TLSR_EPERM);
    CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK_EQ_INT(leftovers(), 0);
}

static void regression_save_refuses_planted_hard_link(void)
{
    char path[256], theirs[300];
    struct tlsr_error err;
    struct stat st;

    if (skip_unless_root())
        return;
    path_of(path, sizeof(path), "planted-link.pem");
    CHECK(as_nobody(plant_link, path) == 0);
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_EPERM, &err);
    snprintf(theirs, sizeof(theirs), "%s.theirs", path);
    CHECK(lstat(theirs, &st) == 0 && st.st_size == 0);
}

static void reads_back_what_it_wrote(void)
{
    char path[256];
    uint8_t buf[TLSR_MAX_INPUT], small[4];
    size_t len = sizeof(buf);
    struct tlsr_error err;

    path_of(path, sizeof(path), "readback.pem");
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_OK, &err);
    CHECK_CODE(tlsr_file_read_private(path, buf, &len, &err), TLSR_OK, &err);
    CHECK_EQ_INT(len, sizeof(secret));
    CHECK(memcmp(buf, secret, len) == 0);
    len = sizeof(small);
    CHECK_CODE(tlsr_file_read_private(path, small, &len, &err),
               TLSR_EBUFSIZE, &err);
    CHECK_EQ_INT(len, sizeof(secret));
}

static void regression_load_refuses_writable_or_fifo(void)
{
    char path[256], fifo[256];
    uint8_t buf[64];
    size_t len = sizeof(buf);
    struct tlsr_error err;

    path_of(path, sizeof(path), "world-writable.pem");
    CHECK_CODE(tlsr_file_write_private(path, secret, sizeof(secret), &err),
               TLSR_OK, &err);
    CHECK(chmod(path, 0666) == 0);
    CHECK_CODE(tlsr_file_read_private(path, buf, &len, &err), TLSR_EPERM,
               &err);
    CHECK(strstr(err.msg, "writable") != NULL);
    path_of(fifo, sizeof(fifo), "read-fifo.pem");
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_EQ_INT(read_in_child(fifo), TLSR_EPERM);
}

static void regression_load_refuses_planted_file_and_fifo(void)
{
    char path[256], fifo[256];
    uint8_t buf[64];
    size_t len = sizeof(buf);
    struct tlsr_error err;

    if (skip_unless_root())
        return;
    path_of(path, sizeof(path), "planted-session.pem");
    CHECK(as_nobody(plant_file, path) == 0);
    CHECK(chmod(path, 0600) == 0);      /* even kept private: not ours */
    CHECK_CODE(tlsr_file_read_private(path, buf, &len, &err), TLSR_EPERM,
               &err);
    CHECK(strstr(err.msg, "owned by uid 65534") != NULL);
    path_of(fifo, sizeof(fifo), "planted-read-fifo.pem");
    CHECK(as_nobody(plant_fifo, fifo) == 0);
    CHECK_EQ_INT(read_in_child(fifo), TLSR_EPERM);
}

static void bad_arguments_and_missing_directory(void)
{
    char path[256];
    struct tlsr_error err;

    CHECK_CODE(tlsr_file_write_private(NULL, secret, 1, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_file_write_private("", secret, 1, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_file_write_private("x", NULL, 1, &err), TLSR_EINVAL,
               &err);
    path_of(path, sizeof(path), "");
    CHECK_CODE(tlsr_file_write_private(path, secret, 1, &err), TLSR_EINVAL,
               &err);
    path_of(path, sizeof(path), "..");
    CHECK_CODE(tlsr_file_write_private(path, secret, 1, &err), TLSR_EINVAL,
               &err);
    path_of(path, sizeof(path), "no/such/dir/x.pem");
    CHECK_CODE(tlsr_file_write_private(path, secret, 1, &err), TLSR_EIO,
               &err);
    CHECK(strstr(err.msg, "temporary") != NULL);
    CHECK_CODE(tlsr_file_write_private(pub, secret, 1, &err), TLSR_EPERM,
               &err);                   /* a directory */
    {
        uint8_t b[4];
        size_t n = sizeof(b);

        CHECK_CODE(tlsr_file_read_private(NULL, b, &n, &err), TLSR_EINVAL,
                   &err);
        CHECK_CODE(tlsr_file_read_private(path, b, &n, &err), TLSR_EIO,
                   &err);
        CHECK_CODE(tlsr_file_read_private(pub, b, &n, &err), TLSR_EPERM,
                   &err);
    }
    CHECK_EQ_INT(leftovers(), 0);
}

TESTS(T(writes_new_file_0600_whatever_the_umask),
      T(replaces_own_file_by_rename),
      T(regression_refuses_own_fifo_without_hanging),
      T(regression_refuses_symlink),
      T(regression_refuses_own_file_with_two_links),
      T(regression_save_refuses_planted_file),
      T(regression_save_refuses_planted_fifo),
      T(regression_save_refuses_planted_hard_link),
      T(reads_back_what_it_wrote),
      T(regression_load_refuses_writable_or_fifo),
      T(regression_load_refuses_planted_file_and_fifo),
      T(bad_arguments_and_missing_directory))
