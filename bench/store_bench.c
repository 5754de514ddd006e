/*
 * What the on-disk session store costs per operation as it grows, next to
 * the raw OpenSSL encode/decode measured in the same run.  Figures only:
 * nothing here passes or fails.
 *
 * The store grows to 1,000, 10,000 and 100,000 entries (--big: also
 * 1,000,000, ~8 GB of disk) under distinct keys, lean TLS 1.3 tickets (no
 * peer certificate) as in a busy client.  At each size:
 *   put          a new key's entry (temporary file + rename, counter)
 *   get cold     first get by a new store object (list, read, decode)
 *   get cached   repeated get of the same entry by one store object
 *   take         a TLS 1.3 ticket claimed by rename and removed
 *   raw cold     the same tree read by bare syscalls, no store code: stat
 *                a key directory chosen like the cold gets choose theirs,
 *                open and list it, open+fstat+read+close its entry file.
 *                Random lookups in a bigger tree cost the kernel more (the
 *                dentry hash and CPU caches miss more); cold/raw shows what
 *                the store itself adds at each size.
 * A full entry (with the RSA-2048 server certificate) is measured cold and
 * cached at the smallest size, to show what the in-process cache saves.
 * Ratios are over raw i2d_SSL_SESSION (put) and d2i_SSL_SESSION+free (get,
 * take) of the same session, lean or full as stored.
 *
 *   store_bench [--big | --quick (1,000 only)] [--cpu] [--dir PARENT]
 *
 * --cpu: process CPU time instead of wall time (the disk's waits left out).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tls_pair.h"
#include "tlsresume.h"

/* Wall time, or with cpu_clock set, this process's CPU time: the machine
 * may be shared, and file system calls can wait on the disk. */
static int cpu_clock;

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC,
                  &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void host_of(char *buf, size_t cap, long i)
{
    snprintf(buf, cap, "host%07ld.example", i);
}

/* Raw d2i_SSL_SESSION + free of der, per op. */
static double raw_d2i(const unsigned char *der, long len, int n)
{
    double t0 = now_us();
    int i;

    for (i = 0; i < n; i++) {
        const unsigned char *p = der;
        SSL_SESSION_free(d2i_SSL_SESSION(NULL, &p, len));
    }
    return (now_us() - t0) / n;
}

static double raw_i2d(const SSL_SESSION *s, int n)
{
    unsigned char buf[8192], *p;
    double t0 = now_us();
    int i;

    for (i = 0; i < n; i++) {
        p = buf;
        i2d_SSL_SESSION(s, &p);
    }
    return (now_us() - t0) / n;
}

/* The file system alone: create, write and rename a file of len bytes in
 * an existing directory, then read it back (open, read, close). */
static void raw_fs(const char *parent, size_t len, double *write_us,
                   double *read_us)
{
    char dir[600], tmp[700], fin[700], buf[4096];
    double t0;
    int i, fd, n = 1000;

    snprintf(dir, sizeof(dir), "%s/rawfs", parent);
    mkdir(dir, 0700);
    memset(buf, 'x', sizeof(buf));
    t0 = now_us();
    for (i = 0; i < n; i++) {
        snprintf(tmp, sizeof(tmp), "%s/.tmp%d", dir, i);
        snprintf(fin, sizeof(fin), "%s/f%d", dir, i);
        fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
            exit(1);
        close(fd);
        rename(tmp, fin);
    }
    *write_us = (now_us() - t0) / n;
    t0 = now_us();
    for (i = 0; i < n; i++) {
        snprintf(fin, sizeof(fin), "%s/f%d", dir, i);
        fd = open(fin, O_RDONLY);
        if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
            exit(1);
        close(fd);
    }
    *read_us = (now_us() - t0) / n;
    nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

/* Every key directory ("ab/<30 hex>") of the store at dir, so the raw
 * baseline can pick one at random the way the cold gets do (their keys
 * hash to random directories).  Not timed. */
static char (*list_key_dirs(const char *dir, long *count))[40]
{
    char (*v)[40] = NULL, sub[700];
    long n = 0, cap = 0;
    DIR *top = opendir(dir), *d;
    struct dirent *e, *f;

    while (top != NULL && (e = readdir(top)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) != 2)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        if ((d = opendir(sub)) == NULL)
            continue;
        while ((f = readdir(d)) != NULL) {
            if (f->d_name[0] == '.' || strlen(f->d_name) > 32)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                if ((v = realloc(v, (size_t)cap * sizeof(*v))) == NULL)
                    exit(1);
            }
            snprintf(v[n++], sizeof(v[0]), "%s/%s", e->d_name, f->d_name);
        }
        closedir(d);
    }
    if (top != NULL)
        closedir(top);
    *count = n;
    return v;
}

/* The cold get's system calls alone, on the same tree: fstatat the key
 * directory, open it, list it (getdents), open the first entry file,
 * fstat, read, close both.  The key is chosen as cold_get chooses. */
static double raw_cold(const char *dir, int n)
{
    char (*keys)[40], buf[8192], name[256];
    long nkeys;
    double total = 0;
    int i, root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    keys = list_key_dirs(dir, &nkeys);
    if (root < 0 || nkeys == 0)
        exit(1);
    for (i = 0; i < n; i++) {
        const char *rel = keys[(i * 7919L) % nkeys];
        struct dirent *e;
        struct stat sb;
        double t0 = now_us();
        int kfd, fd;
        DIR *d;

        name[0] = '\0';
        if (fstatat(root, rel, &sb, AT_SYMLINK_NOFOLLOW) != 0
            || (kfd = openat(root, rel, O_RDONLY | O_DIRECTORY
                             | O_CLOEXEC | O_NOFOLLOW)) < 0
            || (d = fdopendir(kfd)) == NULL)
            exit(1);
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                snprintf(name, sizeof(name), "%s", e->d_name);
        fd = openat(kfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &sb) != 0 || read(fd, buf, sizeof(buf)) <= 0)
            exit(1);
        close(fd);
        closedir(d);
        total += now_us() - t0;
    }
    close(root);
    free(keys);
    return total / n;
}

static struct tlsr_store *open_store(const char *dir, unsigned flags)
{
    struct tlsr_store_options o;
    struct tlsr_error err;
    struct tlsr_store *st;

    tlsr_store_options_init(&o);
    o.max_entries = 2000000;
    o.flags = flags;
    st = tlsr_store_open(dir, &o, &err);
    if (st == NULL) {
        fprintf(stderr, "store_bench: %s\n", err.msg);
        exit(1);
    }
    return st;
}

static void put_or_die(struct tlsr_store *st, long i, SSL_SESSION *s)
{
    struct tlsr_error err;
    char host[64];

    host_of(host, sizeof(host), i);
    if (tlsr_store_put(st, host, 443, NULL, s, &err) != 0) {
        fprintf(stderr, "store_bench: put: %s\n", err.msg);
        exit(1);
    }
}

/* Cold get: a new store object per get (opening it is not timed). */
static double cold_get(const char *dir, unsigned flags, long n_keys, int n)
{
    struct tlsr_error err;
    double total = 0;
    char host[64];
    int i;

    for (i = 0; i < n; i++) {
        struct tlsr_store *st = open_store(dir, flags);
        SSL_SESSION *s;
        double t0;

        host_of(host, sizeof(host), (long)((i * 7919L) % n_keys));
        t0 = now_us();
        s = tlsr_store_get(st, host, 443, NULL, NULL, NULL, &err);
        total += now_us() - t0;
        if (s == NULL) {
            fprintf(stderr, "store_bench: get: %s\n", err.msg);
            exit(1);
        }
        SSL_SESSION_free(s);
        tlsr_store_free(st);
    }
    return total / n;
}

static double cached_get(struct tlsr_store *st, long key, int n)
{
    struct tlsr_error err;
    char host[64];
    double t0;
    int i;

    host_of(host, sizeof(host), key);
    /* The listing is cached once its directory has been quiet 100 ms. */
    usleep(150 * 1000);
    SSL_SESSION_free(tlsr_store_get(st, host, 443, NULL, NULL, NULL, &err));
    t0 = now_us();
    for (i = 0; i < n; i++)
        SSL_SESSION_free(tlsr_store_get(st, host, 443, NULL, NULL, NULL, &err));
    return (now_us() - t0) / n;
}

int main(int argc, char **argv)
{
    static const long sizes[] = { 1000, 10000, 100000, 1000000 };
    const char *parent = "/tmp";
    char dir[512], fulldir[600];
    int big = 0, quick = 0, i, nsizes;
    SSL_CTX *srv, *cli;
    SSL_SESSION *full;
    unsigned char der[8192], lean_der[8192];
    size_t lean_len = sizeof(lean_der);
    long der_len;
    double d2i_full, d2i_lean, i2d_full, fs_write, fs_read;
    char parent_dir[512];
    struct tlsr_store *st, *fst;
    struct tlsr_error err;
    long have = 0;
    int reused;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--big") == 0)
            big = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--cpu") == 0)
            cpu_clock = 1;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            parent = argv[++i];
        else {
            fprintf(stderr, "usage: store_bench [--big|--quick] [--cpu] [--dir PARENT]\n");
            return 2;
        }
    }
    nsizes = quick ? 1 : big ? 4 : 3;
    srv = tp_server_ctx(TP_RSA, TLS1_3_VERSION);
    cli = tp_client_ctx(TLS1_3_VERSION);
    full = srv && cli ? tp_connect(srv, cli, NULL, &reused) : NULL;
    if (full == NULL)
        return 1;
    {
        unsigned char *p = der;
        der_len = i2d_SSL_SESSION(full, &p);
    }
    if (tlsr_session_serialize(full, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN,
                               lean_der, &lean_len, &err) != 0)
        return 1;
    snprintf(dir, sizeof(dir), "%s/tlsr-store-bench-XXXXXX", parent);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(fulldir, sizeof(fulldir), "%s/full", dir);
    snprintf(parent_dir, sizeof(parent_dir), "%s", dir);
    strcat(dir, "/lean");

    d2i_full = raw_d2i(der, der_len, 2000);
    d2i_lean = raw_d2i(lean_der, (long)lean_len, 20000);
    i2d_full = raw_i2d(full, 20000);
    printf("store_bench: OpenSSL %s, TLS 1.3 session %ld bytes DER "
           "(lean %zu); %s time\n", OpenSSL_version(OPENSSL_VERSION), der_len,
           lean_len, cpu_clock ? "process CPU" : "wall");
    raw_fs(parent_dir, 700, &fs_write, &fs_read);
    printf("raw: i2d %.2f us, d2i+free %.2f us (lean %.2f us)\n",
           i2d_full, d2i_full, d2i_lean);
    printf("raw file system (%s): create+write+rename %.2f us, "
           "open+read+close %.2f us\n\n", parent, fs_write, fs_read);

    /* Full entries, small store: the cache against the certificate. */
    fst = open_store(fulldir, 0);
    for (i = 0; i < 1000; i++)
        put_or_die(fst, i, full);
    {
        double cold = cold_get(fulldir, 0, 1000, 200);
        double hot = cached_get(fst, 500, 20000);

        printf("full entries (peer certificate), 1000 in store:\n");
        printf("  get cold   %8.2f us  (%.2fx raw d2i %.2f us)\n", cold,
               cold / d2i_full, d2i_full);
        printf("  get cached %8.2f us  (%.3fx raw d2i)\n\n", hot,
               hot / d2i_full);
    }
    tlsr_store_free(fst);
    nftw(fulldir, rm_one, 64, FTW_DEPTH | FTW_PHYS);

    printf("lean entries (TLSR_STORE_LEAN), per operation:\n");
    printf("%10s %10s %10s %10s %10s %10s   %s\n", "entries", "put us",
           "get cold", "raw cold", "get cached", "take us",
           "ratios: put/i2d put/fs cold/raw cold/d2i cached/d2i take/d2i");
    st = open_store(dir, TLSR_STORE_LEAN);
    for (i = 0; i < nsizes; i++) {
        long target = sizes[i], k;
        double t0, put, cold, raw, hot, take;
        char host[64];
        int n;

        /* Grow to target; the last 1000 puts are the timed ones. */
        while (have < target - 1000)
            put_or_die(st, have++, full);
        t0 = now_us();
        for (n = 0; have < target; n++)
            put_or_die(st, have++, full);
        put = (now_us() - t0) / n;
        cold = cold_get(dir, TLSR_STORE_LEAN, have, 500);
        raw = raw_cold(dir, 500);
        hot = cached_get(st, have / 2, 20000);
        /* Take 1000 tickets, then put them back to keep the size. */
        t0 = now_us();
        for (k = 0; k < 1000; k++) {
            SSL_SESSION *s;

            host_of(host, sizeof(host), (k * 7919L + 13) % have);
            s = tlsr_store_take(st, host, 443, NULL, NULL, NULL, &err);
            if (s == NULL) {
                fprintf(stderr, "store_bench: take: %s\n", err.msg);
                return 1;
            }
            SSL_SESSION_free(s);
        }
        take = (now_us() - t0) / 1000;
        for (k = 0; k < 1000; k++)
            put_or_die(st, (k * 7919L + 13) % have, full);
        printf("%10ld %10.2f %10.2f %10.2f %10.2f %10.2f   %7.1fx %5.1fx "
               "%7.2fx %7.1fx %7.2fx %7.1fx\n", have, put, cold, raw, hot,
               take, put / i2d_full, put / fs_write, cold / raw,
               cold / d2i_lean, hot / d2i_lean, take / d2i_lean);
        fflush(stdout);
    }
    printf("\n(entries on disk: %d)\n", tlsr_store_count(st, &err));
    tlsr_store_free(st);
    SSL_SESSION_free(full);
    SSL_CTX_free(srv);
    SSL_CTX_free(cli);
    *strrchr(dir, '/') = '\0';
    nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS);
    return 0;
}
