/* The on-disk session store (csrc/store*.c) with real TLS 1.2/1.3 sessions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"
#include "store.h"     /* tlsri_counter_add: the entry counter */

/* ---- fixtures ---------------------------------------------------------- */

static SSL_CTX *srv12, *srv13, *cli12, *cli13;

static int fixtures(void)
{
    if (srv13 == NULL) {
        srv12 = tp_server_ctx(TP_EC, TLS1_2_VERSION);
        srv13 = tp_server_ctx(TP_EC, TLS1_3_VERSION);
        cli12 = tp_client_ctx(TLS1_2_VERSION);
        cli13 = tp_client_ctx(TLS1_3_VERSION);
    }
    return srv12 && srv13 && cli12 && cli13;
}

/* A fresh client session from a full handshake: 12 or 13. */
static SSL_SESSION *fresh(int v)
{
    int reused = -1;

    if (!fixtures())
        return NULL;
    return v == 13 ? tp_connect(srv13, cli13, NULL, &reused)
                   : tp_connect(srv12, cli12, NULL, &reused);
}

/* 1 if sess resumes against the server it came from. */
static int resumes(int v, SSL_SESSION *sess)
{
    int reused = -1;
    SSL_SESSION *s = v == 13 ? tp_connect(srv13, cli13, sess, &reused)
                             : tp_connect(srv12, cli12, sess, &reused);

    SSL_SESSION_free(s);
    return reused == 1;
}

static int same(const SSL_SESSION *a, const SSL_SESSION *b)
{
    unsigned int la, lb;
    const unsigned char *ia = SSL_SESSION_get_id(a, &la);
    const unsigned char *ib = SSL_SESSION_get_id(b, &lb);

    return la == lb && la > 0 && memcmp(ia, ib, la) == 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static char dirbuf[8][64];
static int ndirs;

/* A new, not yet existing store path under a fresh temporary directory. */
static const char *tmp_store(void)
{
    char *d = dirbuf[ndirs++ % 8];

    strcpy(d, "/tmp/tlsr-store-test-XXXXXX");
    if (mkdtemp(d) == NULL)
        return NULL;
    strcat(d, "/s");
    return d;
}

static void rm_store(const char *path)
{
    char parent[64];

    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    nftw(parent, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct tlsr_store *open_default(const char *path)
{
    struct tlsr_error err;

    return tlsr_store_open(path, NULL, &err);
}

/* The single entry file of a store with one entry, as a path. */
static int nth_entry_path(const char *store, int n, char *out, size_t cap)
{
    char cmd[512];
    FILE *f;
    int i = 0;

    snprintf(cmd, sizeof(cmd), "find %s -type f -name '*.t1*' | sort", store);
    f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    while (fgets(out, (int)cap, f) != NULL) {
        if (i++ == n) {
            out[strcspn(out, "\n")] = '\0';
            pclose(f);
            return 0;
        }
    }
    pclose(f);
    return -1;
}

static long file_size(const char *p)
{
    struct stat sb;

    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static int flip_byte(const char *p, long off)
{
    int fd = open(p, O_RDWR);
    unsigned char c;
    int ok;

    if (fd < 0)
        return -1;
    ok = pread(fd, &c, 1, off) == 1;
    c ^= 0x01;
    ok = ok && pwrite(fd, &c, 1, off) == 1;
    close(fd);
    return ok ? 0 : -1;
}

static const uint8_t KEY1[32] = "0123456789abcdef0123456789abcde";
static const uint8_t KEY2[32] = "fedcba9876543210fedcba987654321";

/* ---- tests ------------------------------------------------------------- */

static void options_have_documented_defaults(void)
{
    struct tlsr_store_options o;

    memset(&o, 0xff, sizeof(o));
    tlsr_store_options_init(&o);
    CHECK_EQ_INT(o.max_tickets, 8);
    CHECK_EQ_INT(o.max_entries, 100000);
    CHECK_EQ_INT(o.max_lifetime, 7 * 86400);
    CHECK(o.seal_key == NULL);
    CHECK_EQ_INT(o.flags, 0);
    tlsr_store_free(NULL);
    tlsr_store_iter_free(NULL);
}

static void bad_arguments_are_einval(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12);
    struct tlsr_error err;
    char longname[300];

    CHECK(st != NULL && s != NULL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(tlsr_store_open(NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_CODE(tlsr_store_put(NULL, "h", 1, NULL, s, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_store_put(st, "h", 1, NULL, NULL, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_store_put(st, "", 443, NULL, s, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_store_put(st, NULL, 443, NULL, s, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_store_put(st, "h", 0, NULL, s, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_store_put(st, "h", 65536, NULL, s, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_store_put(st, longname, 443, NULL, s, &err), TLSR_EINVAL,
               &err);
    CHECK_CODE(tlsr_store_put(st, "h", 443, longname, s, &err), TLSR_EINVAL,
               &err);
    CHECK(tlsr_store_get(st, "h", -1, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK(tlsr_store_take(NULL, "h", 1, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_CODE(tlsr_store_count(NULL, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_store_prune(NULL, &err), TLSR_EINVAL, &err);
    CHECK(tlsr_store_iter_new(NULL, &err) == NULL);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void wrong_seal_key_length_is_ekey(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_error err;

    tlsr_store_options_init(&o);
    o.seal_key = KEY1;
    o.seal_key_len = 16;
    CHECK(tlsr_store_open(p, &o, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EKEY);
    o.seal_key = NULL;
    o.seal_key_len = 32;
    CHECK(tlsr_store_open(p, &o, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EKEY);
    rm_store(p);
}

static void dir_0700_and_files_0600_whatever_the_umask(void)
{
    const char *p = tmp_store();
    mode_t old = umask(0);
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(13);
    struct tlsr_error err;
    char path[512], cmd[600];
    struct stat sb;
    FILE *f;

    umask(old);
    CHECK(st != NULL && s != NULL);
    umask(0);
    CHECK_CODE(tlsr_store_put(st, "example.com", 443, NULL, s, &err), 0,
               &err);
    umask(old);
    CHECK(stat(p, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0700);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    /* Every directory below is 0700 too, every file 0600. */
    snprintf(cmd, sizeof(cmd), "find %s \\( -type d ! -perm 700 \\) -o "
             "\\( -type f ! -perm 600 \\)", p);
    f = popen(cmd, "r");
    CHECK(f != NULL);
    CHECK(fgets(path, sizeof(path), f) == NULL);
    pclose(f);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void refuses_group_or_world_writable_dir(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st;
    struct tlsr_error err;

    CHECK(mkdir(p, 0700) == 0);
    CHECK(chmod(p, 0777) == 0);
    st = tlsr_store_open(p, NULL, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(strstr(err.msg, "writable") != NULL);
    CHECK(chmod(p, 0720) == 0);
    CHECK(tlsr_store_open(p, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(chmod(p, 0700) == 0);
    st = tlsr_store_open(p, NULL, &err);
    CHECK(st != NULL);
    tlsr_store_free(st);
    rm_store(p);
}

/* ssh's rule: missing parents are made 0700, an existing directory that
 * others cannot write (0755) is used as it is, a shared sticky one (/tmp)
 * is refused with advice that does not break it. */
static void dir_rule_parents_0755_and_sticky(void)
{
    const char *p = tmp_store();
    char deep[128], mid[128];
    mode_t old = umask(022);
    struct tlsr_store *st;
    struct tlsr_error err;
    struct stat sb;

    snprintf(mid, sizeof(mid), "%s/a", p);
    snprintf(deep, sizeof(deep), "%s/a/b/", p);
    st = tlsr_store_open(deep, NULL, &err);
    umask(old);
    CHECK(st != NULL);
    tlsr_store_free(st);
    CHECK(stat(mid, &sb) == 0 && (sb.st_mode & 07777) == 0700);
    CHECK(stat(deep, &sb) == 0 && (sb.st_mode & 07777) == 0700);
    CHECK(chmod(deep, 0755) == 0);
    st = tlsr_store_open(deep, NULL, &err);
    CHECK(st != NULL);
    tlsr_store_free(st);
    CHECK(stat(deep, &sb) == 0 && (sb.st_mode & 07777) == 0755);
    CHECK(chmod(deep, 01777) == 0);
    CHECK(tlsr_store_open(deep, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(strstr(err.msg, "shared with other users") != NULL);
    CHECK(strstr(err.msg, "subdirectory") != NULL);
    CHECK(strstr(err.msg, "chmod") == NULL);
    CHECK(chmod(deep, 0775) == 0);
    CHECK(tlsr_store_open(deep, NULL, &err) == NULL);
    CHECK(strstr(err.msg, "mode 0775") != NULL);
    rm_store(p);
}

static void refuses_dir_owned_by_another_user(void)
{
    const char *p = tmp_store();
    struct tlsr_error err;

    if (geteuid() != 0) {
        printf("     (skipped: needs root to chown)\n");
        return;
    }
    CHECK(mkdir(p, 0700) == 0);
    CHECK(chown(p, 65534, 65534) == 0);     /* nobody */
    CHECK(tlsr_store_open(p, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(strstr(err.msg, "owned") != NULL);
    rm_store(p);
}

static void not_resumable_session_is_refused(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *empty = SSL_SESSION_new();
    struct tlsr_error err;

    CHECK(st != NULL && empty != NULL);
    SSL_SESSION_set_time(empty, (long)time(NULL));
    SSL_SESSION_set_timeout(empty, 300);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, empty, &err),
               TLSR_ENOTRESUMABLE, &err);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    SSL_SESSION_free(empty);
    tlsr_store_free(st);
    rm_store(p);
}

/* Resume sess in a connection freed without close_notify, as a client
 * that just drops its connection does: OpenSSL then flags the (shared)
 * session object not_resumable in memory. */
static void drop_without_close_notify(SSL_SESSION *sess)
{
    SSL *srv = SSL_new(srv12), *cli = SSL_new(cli12);
    BIO *bs = NULL, *bc = NULL;
    int i;

    if (srv == NULL || cli == NULL || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
        goto end;
    SSL_set_bio(srv, bs, bs);
    SSL_set_bio(cli, bc, bc);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    SSL_set_session(cli, sess);
    for (i = 0; i < 50; i++) {
        int c = SSL_do_handshake(cli), s = SSL_do_handshake(srv);

        if (c == 1 && s == 1)
            break;
    }
end:
    SSL_free(cli);      /* no SSL_shutdown */
    SSL_free(srv);
}

static void session_flagged_not_resumable_in_memory_is_stored(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12), *g;
    struct tlsr_error err;

    CHECK(st != NULL && s != NULL);
    CHECK(SSL_SESSION_is_resumable(s));
    drop_without_close_notify(s);
    CHECK(!SSL_SESSION_is_resumable(s));    /* the in-memory flag */
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    g = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL && SSL_SESSION_is_resumable(g));
    CHECK(resumes(12, g));
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void keys_isolate_host_port_and_context(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *a = fresh(12), *b = fresh(12), *g;
    struct tlsr_error err;

    CHECK(st != NULL && a != NULL && b != NULL);
    CHECK_CODE(tlsr_store_put(st, "example.com", 443, NULL, a, &err), 0,
               &err);
    CHECK_CODE(tlsr_store_put(st, "example.com", 443, "h2", b, &err), 0,
               &err);
    CHECK(tlsr_store_get(st, "example.org", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(tlsr_store_get(st, "example.com", 8443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(tlsr_store_get(st, "example.com", 443, "http/1.1", NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    /* NULL and "" are the same (no) context; host case does not matter. */
    g = tlsr_store_get(st, "EXAMPLE.com", 443, "", NULL, NULL, &err);
    CHECK(g != NULL && same(g, a));
    SSL_SESSION_free(g);
    g = tlsr_store_get(st, "example.com", 443, "h2", NULL, NULL, &err);
    CHECK(g != NULL && same(g, b));
    SSL_SESSION_free(g);
    SSL_SESSION_free(a);
    SSL_SESSION_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

/* Port 0 is the server session cache's (test_server_cache.c): client
 * calls cannot name it, so they never reach a server's entries. */
static void client_keys_refuse_port_0(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *a = fresh(12);
    struct tlsr_error err;

    CHECK(st != NULL && a != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 0, "server:", a, &err), TLSR_EINVAL,
               &err);
    CHECK(tlsr_store_get(st, "h", 0, "server:", NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK(tlsr_store_take(st, "h", 0, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK_CODE(tlsr_store_remove(st, "h", 0, NULL, &err), TLSR_EINVAL, &err);
    SSL_SESSION_free(a);
    tlsr_store_free(st);
    rm_store(p);
}

static void entry_moved_to_another_key_is_never_served(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *a = fresh(12), *b = fresh(12), *g;
    struct tlsr_error err;
    char pa[512], pb[512], dst[600];

    CHECK(st != NULL && a != NULL && b != NULL);
    CHECK_CODE(tlsr_store_put(st, "a.example", 443, NULL, a, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "b.example", 443, NULL, b, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, pa, sizeof(pa)) == 0);
    CHECK(nth_entry_path(p, 1, pb, sizeof(pb)) == 0);
    /* Move each entry into the other key's directory (a renamed file, or a
     * hash collision): neither key gets the other's session. */
    snprintf(dst, sizeof(dst), "%.*s/%s", (int)(strrchr(pb, '/') - pb), pb,
             strrchr(pa, '/') + 1);
    CHECK(rename(pa, dst) == 0);
    CHECK(unlink(pb) == 0);
    g = tlsr_store_get(st, "a.example", 443, NULL, NULL, NULL, &err);
    CHECK(g == NULL);
    g = tlsr_store_get(st, "b.example", 443, NULL, NULL, NULL, &err);
    CHECK(g == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    SSL_SESSION_free(a);
    SSL_SESSION_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void tls13_ticket_is_taken_once(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p), *other = open_default(p);
    SSL_SESSION *t = fresh(13), *g, *g2;
    struct tlsr_error err;

    CHECK(st != NULL && other != NULL && t != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, t, &err), 0, &err);
    /* get peeks: the ticket stays. */
    g = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL && same(g, t));
    SSL_SESSION_free(g);
    g = tlsr_store_get(other, "h", 443, NULL, NULL, NULL, &err);   /* other caches it */
    CHECK(g != NULL);
    SSL_SESSION_free(g);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    g = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL && same(g, t));
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    /* Neither this store object nor one that has it cached gets it again. */
    g2 = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g2 == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    g2 = tlsr_store_take(other, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g2 == NULL);
    g2 = tlsr_store_get(other, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g2 == NULL);
    CHECK(resumes(13, g));
    SSL_SESSION_free(g);
    SSL_SESSION_free(t);
    tlsr_store_free(st);
    tlsr_store_free(other);
    rm_store(p);
}

static void tls13_keeps_max_tickets_newest_first(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st;
    SSL_SESSION *t[6], *g;
    struct tlsr_error err;
    int i;

    tlsr_store_options_init(&o);
    o.max_tickets = 3;
    st = tlsr_store_open(p, &o, &err);
    CHECK(st != NULL);
    for (i = 0; i < 6; i++) {
        t[i] = fresh(13);
        CHECK(t[i] != NULL);
        CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, t[i], &err), 0, &err);
    }
    CHECK_EQ_INT(tlsr_store_count(st, &err), 3);
    for (i = 5; i >= 3; i--) {
        g = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);
        CHECK(g != NULL && same(g, t[i]));
        SSL_SESSION_free(g);
    }
    CHECK(tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    for (i = 0; i < 6; i++)
        SSL_SESSION_free(t[i]);
    tlsr_store_free(st);
    rm_store(p);
}

static void tls12_session_is_reused_then_replaced(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *a = fresh(12), *b = fresh(12), *g;
    struct tlsr_error err;
    int i;

    CHECK(st != NULL && a != NULL && b != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, a, &err), 0, &err);
    for (i = 0; i < 3; i++) {
        g = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);
        CHECK(g != NULL && same(g, a));
        CHECK(resumes(12, g));
        SSL_SESSION_free(g);
    }
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, b, &err), 0, &err);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    g = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL && same(g, b));
    SSL_SESSION_free(g);
    SSL_SESSION_free(a);
    SSL_SESSION_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void expired_sessions_are_refused_on_put(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st = open_default(p), *capped;
    SSL_SESSION *s12 = fresh(12), *s13 = fresh(13), *g;
    struct tlsr_error err;
    long now = (long)time(NULL), hint;

    CHECK(st != NULL && s12 != NULL && s13 != NULL);
    /* By timeout. */
    SSL_SESSION_set_time(s12, now - 100);
    SSL_SESSION_set_timeout(s12, 50);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s12, &err),
               TLSR_ENOTRESUMABLE, &err);
    /* By the ticket lifetime hint, shorter than the timeout. */
    hint = (long)SSL_SESSION_get_ticket_lifetime_hint(s13);
    CHECK(hint > 0);
    SSL_SESSION_set_timeout(s13, hint * 10);
    SSL_SESSION_set_time(s13, now - hint - 5);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s13, &err),
               TLSR_ENOTRESUMABLE, &err);
    /* By the caller's cap. */
    SSL_SESSION_set_time(s12, now - 100);
    SSL_SESSION_set_timeout(s12, 7200);
    tlsr_store_options_init(&o);
    o.max_lifetime = 60;
    capped = tlsr_store_open(p, &o, &err);
    CHECK(capped != NULL);
    CHECK_CODE(tlsr_store_put(capped, "h", 443, NULL, s12, &err),
               TLSR_ENOTRESUMABLE, &err);
    /* Stored by a store without that cap, the capped one never serves it
     * (and, the cap being the store's policy, drops it). */
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s12, &err), 0, &err);
    g = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL);
    SSL_SESSION_free(g);
    CHECK(tlsr_store_get(capped, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    SSL_SESSION_free(s12);
    SSL_SESSION_free(s13);
    tlsr_store_free(st);
    tlsr_store_free(capped);
    rm_store(p);
}

/* Sessions that expire one second from now, stored; then time passes. */
static void expired_entries_are_never_returned_and_pruned(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s12 = fresh(12), *s13 = fresh(13), *g;
    struct tlsr_error err;
    long now = (long)time(NULL), hint;

    CHECK(st != NULL && s12 != NULL && s13 != NULL);
    SSL_SESSION_set_time(s12, now - 1000);
    SSL_SESSION_set_timeout(s12, 1001);           /* timeout */
    hint = (long)SSL_SESSION_get_ticket_lifetime_hint(s13);
    SSL_SESSION_set_timeout(s13, hint * 10);
    SSL_SESSION_set_time(s13, now - hint + 1);    /* lifetime hint */
    CHECK_CODE(tlsr_store_put(st, "a", 443, NULL, s12, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "b", 443, NULL, s13, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "c", 443, NULL, s12, &err), 0, &err);
    g = tlsr_store_get(st, "a", 443, NULL, NULL, NULL, &err);   /* cached now */
    CHECK(g != NULL);
    SSL_SESSION_free(g);
    while (time(NULL) <= now + 1)
        usleep(50 * 1000);
    CHECK(tlsr_store_get(st, "a", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(tlsr_store_take(st, "b", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    /* get/take dropped theirs; prune removes the rest. */
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    CHECK_EQ_INT(tlsr_store_prune(st, &err), 1);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    SSL_SESSION_free(s12);
    SSL_SESSION_free(s13);
    tlsr_store_free(st);
    rm_store(p);
}

/* Issue 8, finding 5: puts and takes in two processes left the shared
 * entry counter at 1 with the store empty (a take's decrement landed before
 * its put's increment and was clamped at 0). */
static void regression_entry_counter_exact_under_concurrent_put_and_take(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st;
    struct tlsr_error err;
    SSL_SESSION *s = fresh(13), *t;
    char path[128], buf[32] = "", child_bad = 1;
    int status = -1, taken = 0, done = 0, fds[2];
    pid_t pid;
    FILE *f;

    CHECK(s != NULL && p != NULL);
    tlsr_store_options_init(&o);
    o.max_tickets = 1000;
    st = tlsr_store_open(p, &o, &err);
    CHECK(st != NULL);
    if (st == NULL || s == NULL)
        return;
    /* The interleaving itself, made deterministic: a take's -1 first. */
    CHECK(tlsri_counter_add(st, -1) == 0);
    CHECK(tlsri_counter_add(st, 1) == 0);
    /* The child reports through a pipe: under valgrind its exit status
     * is valgrind's own. */
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int i;
        char bad = 0;

        close(fds[0]);
        for (i = 0; i < 400; i++)
            bad |= tlsr_store_put(st, "h", 443, NULL, s, NULL) != 0;
        if (write(fds[1], &bad, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    CHECK(pid > 0);
    while (!done || t != NULL) {
        if (!done && waitpid(pid, &status, WNOHANG) == pid)
            done = 1;
        t = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, NULL);
        if (t != NULL)
            taken++;
        SSL_SESSION_free(t);
    }
    CHECK(WIFEXITED(status));
    CHECK(read(fds[0], &child_bad, 1) == 1 && child_bad == 0);
    close(fds[0]);
    CHECK_EQ_INT(taken, 400);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    snprintf(path, sizeof(path), "%s/.count", p);
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
    if (f != NULL)
        fclose(f);
    CHECK_EQ_INT((int)strtoll(buf, NULL, 10), 0);
    tlsr_store_free(st);
    SSL_SESSION_free(s);
    rm_store(p);
}

static void max_entries_evicts_oldest_first(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st;
    SSL_SESSION *s = fresh(12), *g;
    struct tlsr_error err;
    char host[32];
    int i;

    tlsr_store_options_init(&o);
    o.max_entries = 5;
    st = tlsr_store_open(p, &o, &err);
    CHECK(st != NULL && s != NULL);
    for (i = 0; i < 8; i++) {
        snprintf(host, sizeof(host), "h%d", i);
        CHECK_CODE(tlsr_store_put(st, host, 443, NULL, s, &err), 0, &err);
    }
    CHECK_EQ_INT(tlsr_store_count(st, &err), 5);
    for (i = 0; i < 8; i++) {
        snprintf(host, sizeof(host), "h%d", i);
        g = tlsr_store_get(st, host, 443, NULL, NULL, NULL, &err);
        CHECK((g != NULL) == (i >= 3));
        SSL_SESSION_free(g);
    }
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void remove_drops_every_entry_of_the_key(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *t1 = fresh(13), *t2 = fresh(13), *s = fresh(12);
    struct tlsr_error err;

    CHECK(st != NULL && t1 && t2 && s);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, t1, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, t2, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "other", 443, NULL, s, &err), 0, &err);
    CHECK_CODE(tlsr_store_remove(st, "h", 443, NULL, &err), 3, &err);
    CHECK(tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_CODE(tlsr_store_remove(st, "h", 443, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_store_remove(st, "nowhere", 1, NULL, &err), 0, &err);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    SSL_SESSION_free(t1);
    SSL_SESSION_free(t2);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void prune_removes_dead_writers_temp_files(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12);
    struct tlsr_error err;
    char path[512], tmp[600], live[600];
    pid_t child;
    int fd, status;

    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    *strrchr(path, '/') = '\0';
    child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, &status, 0);
    /* A half-written temp file of a process that died... */
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-00000000deadbeef", path,
             (long)child);
    fd = open(tmp, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "tlsresume-store-entry 1\nhost h", 30) == 30);
    close(fd);
    /* ...and one of a live writer (us), which stays. */
    snprintf(live, sizeof(live), "%s/.tmp-%ld-00000000cafef00d", path,
             (long)getpid());
    fd = open(live, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    CHECK_CODE(tlsr_store_prune(st, &err), 0, &err);
    CHECK(access(tmp, F_OK) != 0);
    CHECK(access(live, F_OK) == 0);
    unlink(live);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 1);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void prune_removes_surplus_tickets(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st = open_default(p), *small;
    SSL_SESSION *t[5], *g;
    struct tlsr_error err;
    int i;

    CHECK(st != NULL);
    for (i = 0; i < 5; i++) {
        t[i] = fresh(13);
        CHECK(t[i] != NULL);
        CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, t[i], &err), 0, &err);
    }
    tlsr_store_options_init(&o);
    o.max_tickets = 2;
    small = tlsr_store_open(p, &o, &err);
    CHECK(small != NULL);
    CHECK_CODE(tlsr_store_prune(small, &err), 3, &err);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 2);
    g = tlsr_store_take(st, "h", 443, NULL, NULL, NULL, &err);     /* the newest */
    CHECK(g != NULL && same(g, t[4]));
    SSL_SESSION_free(g);
    for (i = 0; i < 5; i++)
        SSL_SESSION_free(t[i]);
    tlsr_store_free(st);
    tlsr_store_free(small);
    rm_store(p);
}

static void iteration_reports_a_corrupt_entry_and_goes_on(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12);
    struct tlsr_store_iter *it;
    struct tlsr_store_entry e;
    struct tlsr_error err;
    char path[512];
    int rc, good = 0, bad = 0;

    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "a", 443, NULL, s, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(st, "b", 443, NULL, s, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    CHECK(truncate(path, file_size(path) - 40) == 0);
    it = tlsr_store_iter_new(st, &err);
    CHECK(it != NULL);
    while ((rc = tlsr_store_iter_next(it, &e, &err)) != 0) {
        if (rc == 1)
            good++;
        else if (rc == TLSR_ECORRUPT)
            bad++;
        else
            break;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(good, 1);
    CHECK_EQ_INT(bad, 1);
    tlsr_store_iter_free(it);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void iteration_lists_every_entry_with_its_key(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *t = fresh(13), *s = fresh(12);
    struct tlsr_store_iter *it;
    struct tlsr_store_entry e;
    struct tlsr_error err;
    int rc, n = 0, seen12 = 0, seen13 = 0;

    CHECK(st != NULL && t && s);
    CHECK_CODE(tlsr_store_put(st, "one.example", 443, "h2 alpn\n%x", t, &err),
               0, &err);
    CHECK_CODE(tlsr_store_put(st, "two.example", 8443, NULL, s, &err), 0,
               &err);
    it = tlsr_store_iter_new(st, &err);
    CHECK(it != NULL);
    while ((rc = tlsr_store_iter_next(it, &e, &err)) == 1) {
        n++;
        CHECK_EQ_INT(e.sealed, 0);
        if (e.info.protocol_version == 0x0304) {
            seen13 = 1;
            CHECK(strcmp(e.host, "one.example") == 0);
            CHECK_EQ_INT(e.port, 443);
            CHECK(strcmp(e.context, "h2 alpn\n%x") == 0);
        } else {
            seen12 = 1;
            CHECK(strcmp(e.host, "two.example") == 0);
            CHECK_EQ_INT(e.port, 8443);
            CHECK(strcmp(e.context, "") == 0);
        }
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(n, 2);
    CHECK(seen12 && seen13);
    tlsr_store_iter_free(it);
    SSL_SESSION_free(t);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void unsealed_entry_is_a_pem_session_file(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12), *back;
    struct tlsr_error err;
    char path[512];
    uint8_t buf[8192];
    size_t n;
    FILE *f;

    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    CHECK(strstr(path, ".pem") != NULL);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    /* OpenSSL's PEM reader skips the text lines before the block. */
    buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
    CHECK(strstr((char *)buf, "-----BEGIN SSL SESSION PARAMETERS-----"));
    back = tlsr_session_parse(buf, n, &err);
    CHECK(back != NULL && same(back, s));
    SSL_SESSION_free(back);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void lean_store_entries_resume(void)
{
    const char *p = tmp_store(), *q = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *lean, *full;
    SSL_SESSION *s = fresh(12), *t = fresh(13), *g;
    struct tlsr_error err;
    char path[512];
    long lean_size, full_size;

    tlsr_store_options_init(&o);
    o.flags = TLSR_STORE_LEAN;
    lean = tlsr_store_open(p, &o, &err);
    full = open_default(q);
    CHECK(lean != NULL && full != NULL && s && t);
    CHECK_CODE(tlsr_store_put(lean, "h", 443, NULL, s, &err), 0, &err);
    CHECK_CODE(tlsr_store_put(full, "h", 443, NULL, s, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    lean_size = file_size(path);
    CHECK(nth_entry_path(q, 0, path, sizeof(path)) == 0);
    full_size = file_size(path);
    CHECK(lean_size > 0 && lean_size + 200 < full_size);
    g = tlsr_store_take(lean, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL && SSL_SESSION_get0_peer(g) == NULL);
    CHECK(resumes(12, g));
    SSL_SESSION_free(g);
    CHECK_CODE(tlsr_store_put(lean, "h13", 443, NULL, t, &err), 0, &err);
    g = tlsr_store_take(lean, "h13", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL);
    CHECK(resumes(13, g));
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    SSL_SESSION_free(t);
    tlsr_store_free(lean);
    tlsr_store_free(full);
    rm_store(p);
    rm_store(q);
}

static void cached_gets_hand_out_independent_copies(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12), *g1, *g2;
    struct tlsr_error err;

    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    g1 = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g1 != NULL);
    SSL_SESSION_set_timeout(g1, 1);
    g2 = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g2 != NULL && g2 != g1);
    CHECK(SSL_SESSION_get_timeout(g2) == SSL_SESSION_get_timeout(s));
    CHECK(resumes(12, g2));
    SSL_SESSION_free(g1);
    SSL_SESSION_free(g2);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static struct tlsr_store *open_sealed(const char *p, const uint8_t *key)
{
    struct tlsr_store_options o;
    struct tlsr_error err;

    tlsr_store_options_init(&o);
    o.seal_key = key;
    o.seal_key_len = 32;
    return tlsr_store_open(p, &o, &err);
}

static void sealed_entries_resume_and_are_not_pem(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_sealed(p, KEY1);
    SSL_SESSION *s = fresh(13), *g;
    struct tlsr_store_iter *it;
    struct tlsr_store_entry e;
    struct tlsr_error err;
    char path[512], buf[8192];
    size_t n;
    FILE *f;

    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, "ctx", s, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    CHECK(strstr(path, ".sealed") != NULL);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK(strstr(buf, "-----BEGIN") == NULL);
    CHECK(tlsr_session_parse((uint8_t *)buf, n, &err) == NULL);
    it = tlsr_store_iter_new(st, &err);
    CHECK(it != NULL);
    CHECK_EQ_INT(tlsr_store_iter_next(it, &e, &err), 1);
    CHECK_EQ_INT(e.sealed, 1);
    CHECK(strcmp(e.context, "ctx") == 0);
    CHECK_EQ_INT(e.info.protocol_version, 0x0304);
    tlsr_store_iter_free(it);
    g = tlsr_store_take(st, "h", 443, "ctx", NULL, NULL, &err);
    CHECK(g != NULL && same(g, s));
    CHECK(resumes(13, g));
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

static void sealed_under_another_key_is_a_miss_with_eseal(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_sealed(p, KEY1), *other = open_sealed(p, KEY2);
    struct tlsr_store *plain = open_default(p);
    SSL_SESSION *s = fresh(12);
    struct tlsr_store_iter *it;
    struct tlsr_store_entry e;
    struct tlsr_error err;

    CHECK(st && other && plain && s);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    CHECK(tlsr_store_get(other, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    CHECK(tlsr_store_take(other, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    CHECK(tlsr_store_get(plain, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    it = tlsr_store_iter_new(other, &err);
    CHECK(it != NULL);
    CHECK_EQ_INT(tlsr_store_iter_next(it, &e, &err), TLSR_ESEAL);
    CHECK(strcmp(e.host, "h") == 0);
    CHECK_EQ_INT(tlsr_store_iter_next(it, &e, &err), 0);
    tlsr_store_iter_free(it);
    /* An unsealed entry in a sealed store is not trusted either. */
    CHECK_CODE(tlsr_store_put(plain, "p", 443, NULL, s, &err), 0, &err);
    CHECK(tlsr_store_get(st, "p", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ESEAL);
    /* The right key still reads it. */
    SSL_SESSION_free(tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err));
    CHECK_EQ_INT(err.code, TLSR_OK);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    tlsr_store_free(other);
    tlsr_store_free(plain);
    rm_store(p);
}

/* Offset of the last byte of the value on the header line "name ...". */
static long header_value_end(const char *path, const char *name)
{
    char buf[4096], *p;
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strstr(buf, name);
    if (p == NULL || (p = strchr(p, '\n')) == NULL)
        return -1;
    return (long)(p - buf) - 1;
}

static void tampered_or_truncated_sealed_entry_is_a_miss(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st;
    SSL_SESSION *s = fresh(13), *g;
    struct tlsr_error err;
    char path[512];
    long size, off;
    int i;

    CHECK(s != NULL);
    for (i = 0; i < 6; i++) {
        st = open_sealed(p, KEY1);
        CHECK(st != NULL);
        CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
        CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
        size = file_size(path);
        tlsr_store_free(st);
        st = open_sealed(p, KEY1);   /* fresh object: nothing cached */
        CHECK(st != NULL);
        switch (i) {
        case 0: off = size - 1; break;                          /* tag */
        case 1: off = size - 100; break;                        /* data */
        case 2: off = header_value_end(path, "\nexpires "); break;
        case 3: off = header_value_end(path, "\ntrust "); break; /* expires */
        case 4: off = header_value_end(path, "\nport "); break;
        default: off = -1; break;
        }
        if (i < 5)
            CHECK(off > 0 && flip_byte(path, off) == 0);
        else
            CHECK(truncate(path, size - 7) == 0);
        g = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);
        CHECK(g == NULL);
        if (i < 5)
            CHECK_EQ_INT(err.code, TLSR_ESEAL);
        if (i == 5)
            CHECK_EQ_INT(err.code, TLSR_ECORRUPT);
        tlsr_store_free(st);
        CHECK(unlink(path) == 0);
    }
    SSL_SESSION_free(s);
    rm_store(p);
}

static void garbage_entries_are_misses_not_crashes(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12);
    struct tlsr_error err;
    char path[512];
    long size, cut;
    int i;

    CHECK(st != NULL && s != NULL);
    /* Truncate an unsealed entry at many points, each read by a fresh
     * store object. */
    for (i = 0; i < 12; i++) {
        struct tlsr_store *r;

        CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
        CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
        size = file_size(path);
        cut = size * i / 12;
        CHECK(truncate(path, cut) == 0);
        r = open_default(p);
        CHECK(r != NULL);
        CHECK(tlsr_store_get(r, "h", 443, NULL, NULL, NULL, &err) == NULL);
        CHECK(err.code == TLSR_ECORRUPT || err.code == TLSR_ENOTFOUND);
        tlsr_store_free(r);
        unlink(path);
    }
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

/* Unsealed entries carry a checksum: a damaged byte anywhere is a miss. */
static void damaged_unsealed_entry_is_never_served(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12), *g;
    struct tlsr_error err;
    char path[512];
    long size, off;

    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    CHECK(nth_entry_path(p, 0, path, sizeof(path)) == 0);
    size = file_size(path);
    for (off = 0; off < size; off += 7) {
        struct tlsr_store *r = open_default(p);

        CHECK(r != NULL);
        CHECK(flip_byte(path, off) == 0);
        g = tlsr_store_get(r, "h", 443, NULL, NULL, NULL, &err);
        if (g != NULL)
            fprintf(stderr, "  served with byte %ld damaged\n", off);
        CHECK(g == NULL);
        CHECK(err.code == TLSR_ECORRUPT || err.code == TLSR_ENOTFOUND);
        CHECK(flip_byte(path, off) == 0);
        tlsr_store_free(r);
    }
    g = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);   /* restored: fine */
    CHECK(g != NULL && same(g, s));
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

/* A session's time is any int64 in its DER: time + timeout must not
 * overflow (UBSan), and a time no entry header can hold is refused. */
static void far_future_session_time_is_refused_without_overflow(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(12);
    struct tlsr_error err;

    CHECK(st != NULL && s != NULL);
    SSL_SESSION_set_time(s, LONG_MAX - 5);
    SSL_SESSION_set_timeout(s, 7200);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err),
               TLSR_ENOTRESUMABLE, &err);
    CHECK_EQ_INT(tlsr_store_count(st, &err), 0);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

/* max_lifetime is the caller's int64: prune adds it to a put time. */
static void prune_with_max_lifetime_int64_max_does_not_overflow(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st;
    SSL_SESSION *s = fresh(13), *g;
    struct tlsr_error err;

    tlsr_store_options_init(&o);
    o.max_lifetime = INT64_MAX;
    st = tlsr_store_open(p, &o, &err);
    CHECK(st != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(st, "h", 443, NULL, s, &err), 0, &err);
    CHECK_CODE(tlsr_store_prune(st, &err), 0, &err);
    g = tlsr_store_get(st, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g != NULL && same(g, s));
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

/* umask(0277) would leave files 0400 (unreadable to a non-root reader,
 * .count unwritable): every file is 0600 whatever the umask. */
static void files_are_0600_under_a_restrictive_umask(void)
{
    const char *p = tmp_store();
    mode_t old = umask(0277);
    struct tlsr_store *st = open_default(p);
    SSL_SESSION *s = fresh(13);
    struct tlsr_error err;
    char path[512], cmd[600];
    int rc = st != NULL && s != NULL
             ? tlsr_store_put(st, "example.com", 443, NULL, s, &err) : -1;
    FILE *f;

    umask(old);
    CHECK_EQ_INT(rc, 0);
    snprintf(cmd, sizeof(cmd), "find %s \\( -type d ! -perm 700 \\) -o "
             "\\( -type f ! -perm 600 \\)", p);
    f = popen(cmd, "r");
    CHECK(f != NULL);
    if (fgets(path, sizeof(path), f) != NULL) {
        fprintf(stderr, "  wrong mode: %s", path);
        rc = -1;
    }
    pclose(f);
    CHECK_EQ_INT(rc, 0);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    rm_store(p);
}

/* A key directory replaced by a symlink (to a directory of entries for
 * the same key, elsewhere) is neither read nor written through. */
static void symlinked_key_dir_is_never_followed(void)
{
    const char *pa = tmp_store(), *pb = tmp_store();
    struct tlsr_store *a = open_default(pa), *b = open_default(pb);
    SSL_SESSION *s = fresh(12), *g;
    struct tlsr_error err;
    char entry[512], kdir[512], link[600], mid[520];
    char *slash;

    CHECK(a != NULL && b != NULL && s != NULL);
    CHECK_CODE(tlsr_store_put(a, "h", 443, NULL, s, &err), 0, &err);
    CHECK(nth_entry_path(pa, 0, entry, sizeof(entry)) == 0);
    snprintf(kdir, sizeof(kdir), "%s", entry);
    *strrchr(kdir, '/') = '\0';                 /* A/ab/<30 hex> */
    slash = strrchr(kdir, '/');
    snprintf(mid, sizeof(mid), "%s/%.2s", pb, slash - 2);
    snprintf(link, sizeof(link), "%s/%s", mid, slash + 1);
    CHECK(mkdir(mid, 0700) == 0);
    CHECK(symlink(kdir, link) == 0);
    if (geteuid() == 0)
        CHECK(lchown(link, 65534, 65534) == 0);     /* planted by nobody */
    g = tlsr_store_get(b, "h", 443, NULL, NULL, NULL, &err);
    CHECK(g == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(tlsr_store_take(b, "h", 443, NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(tlsr_store_count(b, &err), 0);
    CHECK_CODE(tlsr_store_put(b, "h", 443, NULL, s, &err), TLSR_EPERM, &err);
    CHECK_EQ_INT(tlsr_store_count(a, &err), 1);     /* nothing written */
    CHECK_EQ_INT(tlsr_store_remove(b, "h", 443, NULL, &err), 0);
    CHECK_EQ_INT(tlsr_store_count(a, &err), 1);
    SSL_SESSION_free(s);
    tlsr_store_free(a);
    tlsr_store_free(b);
    rm_store(pa);
    rm_store(pb);
}

/* A symlink at the store path is followed only if this user (or root)
 * made it: one planted by another user (say in /tmp) is refused. */
static void store_path_symlink_planted_by_another_user_is_refused(void)
{
    const char *target = tmp_store(), *p = tmp_store();
    struct tlsr_store *st;
    struct tlsr_error err;

    if (geteuid() != 0) {
        printf("     (skipped: needs root to lchown)\n");
        return;
    }
    CHECK(mkdir(target, 0700) == 0);
    CHECK(symlink(target, p) == 0);
    st = tlsr_store_open(p, NULL, &err);    /* our own symlink: fine */
    CHECK(st != NULL);
    tlsr_store_free(st);
    CHECK(lchown(p, 65534, 65534) == 0);     /* nobody's */
    CHECK(tlsr_store_open(p, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(strstr(err.msg, "symlink") != NULL);
    rm_store(p);
    rm_store(target);
}

TESTS(T(options_have_documented_defaults), T(bad_arguments_are_einval),
      T(wrong_seal_key_length_is_ekey),
      T(dir_0700_and_files_0600_whatever_the_umask),
      T(refuses_group_or_world_writable_dir),
      T(dir_rule_parents_0755_and_sticky),
      T(refuses_dir_owned_by_another_user),
      T(not_resumable_session_is_refused),
      T(session_flagged_not_resumable_in_memory_is_stored),
      T(keys_isolate_host_port_and_context),
      T(client_keys_refuse_port_0),
      T(entry_moved_to_another_key_is_never_served),
      T(tls13_ticket_is_taken_once), T(tls13_keeps_max_tickets_newest_first),
      T(tls12_session_is_reused_then_replaced),
      T(expired_sessions_are_refused_on_put),
      T(expired_entries_are_never_returned_and_pruned),
      T(max_entries_evicts_oldest_first),
      T(regression_entry_counter_exact_under_concurrent_put_and_take),
      T(remove_drops_every_entry_of_the_key),
      T(prune_removes_dead_writers_temp_files),
      T(prune_removes_surplus_tickets),
      T(iteration_lists_every_entry_with_its_key),
      T(iteration_reports_a_corrupt_entry_and_goes_on),
      T(unsealed_entry_is_a_pem_session_file), T(lean_store_entries_resume),
      T(cached_gets_hand_out_independent_copies),
      T(sealed_entries_resume_and_are_not_pem),
      T(sealed_under_another_key_is_a_miss_with_eseal),
      T(tampered_or_truncated_sealed_entry_is_a_miss),
      T(garbage_entries_are_misses_not_crashes),
      T(damaged_unsealed_entry_is_never_served),
      T(far_future_session_time_is_refused_without_overflow),
      T(prune_with_max_lifetime_int64_max_does_not_overflow),
      T(files_are_0600_under_a_restrictive_umask),
      T(symlinked_key_dir_is_never_followed),
      T(store_path_symlink_planted_by_another_user_is_refused))
