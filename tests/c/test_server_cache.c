/*
 * The server session cache (csrc/server_cache.c): two server SSL_CTXs, as
 * two processes would have, share one store and resume each other's
 * session IDs (TLS 1.2) and stateful tickets (TLS 1.3 with
 * SSL_OP_NO_TICKET), through real in-memory handshakes.  New sessions
 * reach the store through the cache's writer thread: sc_flush() writes them
 * now, where another context (another process) must see them at once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "scache_pair.h"
#include "tls_pair.h"
#include "tlsresume.h"

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static char dirbuf[64];

static const char *tmp_store(void)
{
    strcpy(dirbuf, "/tmp/tlsr-scache-test-XXXXXX");
    if (mkdtemp(dirbuf) == NULL)
        return NULL;
    strcat(dirbuf, "/s");
    return dirbuf;
}

static void rm_store(const char *path)
{
    char parent[64];

    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    chmod(path, 0700);
    nftw(parent, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const uint8_t SEAL[32] = "0123456789abcdef0123456789abcdef";

static struct tlsr_store *open_store(const char *path, int sealed)
{
    struct tlsr_store_options o;
    struct tlsr_error err;

    tlsr_store_options_init(&o);
    if (sealed) {
        o.seal_key = SEAL;
        o.seal_key_len = 32;
    }
    return tlsr_store_open(path, &o, &err);
}

static int share(struct tlsr_store *st, SSL_CTX *ctx)
{
    struct tlsr_error err;

    return sc_share(tlsr_server_cache_new(st, NULL, &err), ctx);
}

static void two_servers_share(int version)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(version, "fleet"), *b = sc_server(version, "fleet");

    CHECK(st != NULL && a != NULL && b != NULL);
    CHECK_EQ_INT(share(st, a), 0);
    CHECK_EQ_INT(share(st, b), 0);
    CHECK_EQ_INT(sc_fleet_resumes(a, b, version, 3), 0);
    /* The internal cache is off: the store is the cache. */
    CHECK_EQ_INT(SSL_CTX_sess_number(a), 0);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void tls12_session_ids_resume_across_servers(void)
{
    two_servers_share(TLS1_2_VERSION);
}

static void tls13_stateful_tickets_resume_across_servers(void)
{
    two_servers_share(TLS1_3_VERSION);
}

/* With early data and anti-replay OpenSSL resumes a stateful ticket only
 * if it can remove it from its internal cache, which the shared cache
 * keeps empty: every such resumption was a full handshake.  Now it
 * resumes on another server, once. */
static void regression_early_data_tickets_resume_across_servers_once(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *b = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cli = tp_client_ctx(TLS1_3_VERSION);
    SSL_SESSION *s, *d, *t;
    int reused = -1;

    CHECK(st != NULL && a != NULL && b != NULL && cli != NULL);
    SSL_CTX_set_max_early_data(a, 16384);
    SSL_CTX_set_max_early_data(b, 16384);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    s = tp_connect(a, cli, NULL, &reused);
    CHECK(s != NULL && sc_flush(a) == 0);
    d = SSL_SESSION_dup(s);     /* a client offers a session once */
    t = tp_connect(b, cli, d, &reused);
    SSL_SESSION_free(d);
    SSL_SESSION_free(t);
    CHECK(t != NULL);
    CHECK_EQ_INT(reused, 1);
    CHECK_EQ_INT(SSL_CTX_sess_number(b), 0);    /* taken out at once */
    d = SSL_SESSION_dup(s);
    t = tp_connect(a, cli, d, &reused);         /* taken: never again */
    SSL_SESSION_free(d);
    SSL_SESSION_free(t);
    CHECK(t != NULL);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(s);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void without_the_cache_servers_do_not_resume_each_other(void)
{
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");

    CHECK(a != NULL && b != NULL);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_resume_across(a, a, TLS1_2_VERSION), 1);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
}

static void different_sid_ctx_never_resumes(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a12 = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b12 = sc_server(TLS1_2_VERSION, "other");
    SSL_CTX *a13 = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *b13 = sc_server(TLS1_3_VERSION, "other");

    CHECK(st != NULL && a12 && b12 && a13 && b13);
    CHECK(share(st, a12) == 0 && share(st, b12) == 0);
    CHECK(share(st, a13) == 0 && share(st, b13) == 0);
    CHECK_EQ_INT(sc_resume_across(a12, b12, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_resume_across(b12, a12, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_resume_across(a13, b13, TLS1_3_VERSION), 0);
    CHECK_EQ_INT(sc_resume_across(b13, a13, TLS1_3_VERSION), 0);
    SSL_CTX_free(a12);
    SSL_CTX_free(b12);
    SSL_CTX_free(a13);
    SSL_CTX_free(b13);
    tlsr_store_free(st);
    rm_store(p);
}

static void different_scope_never_resumes(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    struct tlsr_server_cache *sc;
    struct tlsr_error err;

    CHECK(st != NULL && a != NULL && b != NULL);
    CHECK_EQ_INT(share(st, a), 0);
    sc = tlsr_server_cache_new(st, "blue", &err);
    CHECK(sc != NULL);
    CHECK_CODE(tlsr_server_cache_ctx(sc, b, &err), 0, &err);
    tlsr_server_cache_free(sc);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 0);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void expired_entries_are_not_served(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    SSL_SESSION *s, *s2;
    int reused = -1;

    CHECK(st != NULL && a != NULL && b != NULL && cli != NULL);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    SSL_CTX_set_timeout(a, 2);          /* the session's own timeout */
    s = tp_connect(a, cli, NULL, &reused);
    CHECK(s != NULL && reused == 0);
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(tlsr_store_count(st, NULL), 1);
    sleep(3);
    s2 = tp_connect(b, cli, s, &reused);
    CHECK(s2 != NULL);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(s);
    SSL_SESSION_free(s2);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void sealed_store_works_and_other_keys_miss(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 1), *plain;
    SSL_CTX *a = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *c = sc_server(TLS1_3_VERSION, "fleet");
    struct tlsr_store_iter *it;
    struct tlsr_store_entry e;
    struct tlsr_server_cache_stats sc;
    int n = 0;

    CHECK(st != NULL && a != NULL && b != NULL && c != NULL);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_3_VERSION), 1);
    it = tlsr_store_iter_new(st, NULL);
    CHECK(it != NULL);
    while (tlsr_store_iter_next(it, &e, NULL) == 1) {
        n++;
        if (!e.sealed || e.port != 0 || strncmp(e.context, "server:", 7))
            n = -100;
    }
    tlsr_store_iter_free(it);
    CHECK(n > 0);
    /* The same directory without the key: sealed entries are a miss,
     * and a warned failure, never a failed handshake. */
    plain = open_store(p, 0);
    CHECK(plain != NULL);
    CHECK(share(plain, c) == 0);
    CHECK_EQ_INT(sc_resume_across(a, c, TLS1_3_VERSION), 0);
    CHECK_EQ_INT(sc_stats(c, &sc), 0);
    CHECK(sc.failures >= 1);
    CHECK_EQ_INT(sc.first_error_code, TLSR_ESEAL);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    tlsr_store_free(plain);
    tlsr_store_free(st);
    rm_store(p);
}

static void regression_server_and_client_keys_never_meet(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    SSL_SESSION *s, *g;
    struct tlsr_error err;
    char hex[65];
    const unsigned char *id;
    unsigned int len, i;
    int reused = -1;

    CHECK(st != NULL && a != NULL && b != NULL && cli != NULL);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    s = tp_connect(a, cli, NULL, &reused);
    CHECK(s != NULL);
    CHECK_EQ_INT(sc_flush(a), 0);
    id = SSL_SESSION_get_id(s, &len);
    for (i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", id[i]);
    /* Client APIs cannot name a server key (port 0) ... */
    CHECK(tlsr_store_get(st, hex, 0, "server:", NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    CHECK(tlsr_store_get(st, hex, 443, "server:", NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK_CODE(tlsr_store_put(st, hex, 0, "server:", s, &err), TLSR_EINVAL,
               &err);
    /* ... and a client entry under the same name is never a server's:
     * remove the server entry, keep a client one, resume on b: a miss. */
    CHECK_CODE(tlsr_store_put(st, hex, 443, "server:", s, &err), 0, &err);
    CHECK_EQ_INT(tlsr_store_count(st, NULL), 2);
    SSL_CTX_remove_session(a, s);   /* the server's remove callback */
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(tlsr_store_count(st, NULL), 1);
    g = tp_connect(b, cli, s, &reused);
    CHECK(g != NULL);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

/* A connection dropped without close_notify: OpenSSL removes its session
 * (ssl_clear_bad_session) and the remove callback deletes the entry. */
static void remove_callback_removes_the_entry(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    SSL_SESSION *s, *g;
    struct tlsr_server_cache_stats sa;
    int reused = -1;

    CHECK(st != NULL && a != NULL && b != NULL && cli != NULL);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    s = tp_connect(a, cli, NULL, &reused);
    CHECK(s != NULL);
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(tlsr_store_count(st, NULL), 1);
    SSL_CTX_remove_session(a, s);   /* what a bad close does */
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(tlsr_store_count(st, NULL), 0);
    CHECK_EQ_INT(sc_stats(a, &sa), 0);
    CHECK_EQ_INT(sa.removed, 1);
    g = tp_connect(b, cli, s, &reused);
    CHECK(g != NULL);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static int warned;
static char warn_msg[256];

static void on_warn(void *arg, int code, const char *msg)
{
    (void)arg;
    warned++;
    snprintf(warn_msg, sizeof(warn_msg), "%s", msg);
}

static void broken_store_gives_full_handshakes_and_one_warning(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    struct tlsr_server_cache *sc;
    struct tlsr_server_cache_stats s;
    struct tlsr_error err;
    int i;

    CHECK(st != NULL && a != NULL && b != NULL);
    sc = tlsr_server_cache_new(st, NULL, &err);
    CHECK(sc != NULL);
    CHECK_CODE(tlsr_server_cache_set_warn(sc, on_warn, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_ctx(sc, a, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_ctx(sc, b, &err), 0, &err);
    tlsr_server_cache_free(sc);
    warned = 0;
    CHECK(chmod(p, 0) == 0);
    if (access(p, W_OK) == 0) {     /* root: remove the directory instead */
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
        CHECK(system(cmd) == 0 && access(p, F_OK) != 0);
    }
    for (i = 0; i < 3; i++)
        CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_flush(b), 0);
    CHECK_EQ_INT(warned, 1);
    CHECK(strstr(warn_msg, "full handshakes") != NULL);
    CHECK_EQ_INT(sc_stats(a, &s), 0);
    CHECK(s.failures >= 3 && s.stored == 0);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

/* The store's eviction walks the whole store: a full store keeps no new
 * server sessions (warned once) instead of stalling a handshake, and
 * takes them again once prune has made room. */
static void regression_full_store_never_evicts_in_a_handshake(void)
{
    const char *p = tmp_store();
    struct tlsr_store_options o;
    struct tlsr_store *st;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    struct tlsr_server_cache *sc;
    struct tlsr_server_cache_stats s;
    struct tlsr_error err;
    int i;

    tlsr_store_options_init(&o);
    o.max_entries = 3;
    st = tlsr_store_open(p, &o, &err);
    CHECK(st != NULL && a != NULL && b != NULL);
    sc = tlsr_server_cache_new(st, NULL, &err);
    CHECK(sc != NULL);
    CHECK_CODE(tlsr_server_cache_set_warn(sc, on_warn, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_ctx(sc, a, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_ctx(sc, b, &err), 0, &err);
    tlsr_server_cache_free(sc);
    SSL_CTX_set_timeout(a, 2);     /* written (flush) before it expires */
    warned = 0;
    for (i = 0; i < 3; i++)
        CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 1);
    for (i = 0; i < 3; i++)     /* full: not shared, not failed */
        CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_flush(b), 0);
    CHECK_EQ_INT(tlsr_store_count(st, NULL), 3);
    CHECK_EQ_INT(warned, 1);
    CHECK(strstr(warn_msg, "full") != NULL);
    CHECK_EQ_INT(sc_stats(a, &s), 0);
    CHECK_EQ_INT(s.stored, 3);
    CHECK_EQ_INT(s.full, 6);     /* a full handshake on a, then on b */
    CHECK_EQ_INT(s.failures, 0);
    sleep(3);                   /* the sessions expire; prune makes room */
    CHECK_EQ_INT(tlsr_store_prune(st, &err), 3);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 1);
    CHECK_EQ_INT(warned, 1);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

static void attaching_again_is_idempotent_another_store_refused(void)
{
    const char *p = tmp_store();
    char p2[80];
    struct tlsr_store *st = open_store(p, 0), *other;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    struct tlsr_server_cache *sc;
    struct tlsr_error err;

    CHECK(st != NULL && a != NULL && b != NULL);
    snprintf(p2, sizeof(p2), "%s2", p);
    other = open_store(p2, 0);
    CHECK(other != NULL);
    CHECK_EQ_INT(share(st, a), 0);
    CHECK_EQ_INT(share(st, a), 0);
    sc = tlsr_server_cache_new(other, NULL, &err);
    CHECK(sc != NULL);
    CHECK_CODE(tlsr_server_cache_ctx(sc, a, &err), TLSR_EINVAL, &err);
    CHECK(strstr(err.msg, "another store") != NULL);
    tlsr_server_cache_free(sc);
    /* Detach: OpenSSL's internal cache is back. */
    CHECK_CODE(tlsr_server_cache_ctx(NULL, a, &err), 0, &err);
    CHECK(tlsr_server_cache_get(a) == NULL);
    CHECK_EQ_INT(sc_resume_across(a, a, TLS1_2_VERSION), 1);
    CHECK(SSL_CTX_sess_number(a) >= 1);
    CHECK_EQ_INT(share(other, a), 0);
    CHECK_EQ_INT(tlsr_server_cache_ctx(NULL, b, &err), 0);  /* no-op */
    CHECK_CODE(tlsr_server_cache_ctx(NULL, NULL, &err), TLSR_EINVAL, &err);
    CHECK(tlsr_server_cache_new(NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(other);
    tlsr_store_free(st);
    rm_store(p);
    rm_store(p2);
}

static int foreign_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl; (void)sess;
    return 0;
}

static void foreign_session_callbacks_are_refused(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");

    CHECK(st != NULL && a != NULL);
    SSL_CTX_sess_set_new_cb(a, foreign_new_cb);
    CHECK_EQ_INT(share(st, a), TLSR_EINVAL);
    CHECK(tlsr_server_cache_get(a) == NULL);
    SSL_CTX_free(a);
    tlsr_store_free(st);
    rm_store(p);
}

/* The cache outlives the caller's store and reference: contexts keep it. */
static void cache_outlives_the_callers_store(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_3_VERSION, "fleet");

    CHECK(st != NULL && a != NULL && b != NULL);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    tlsr_store_free(st);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_3_VERSION), 1);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    rm_store(p);
}

/* Handshakes on many threads while another thread detaches and attaches
 * the cache again: a callback holds its own reference (never a freed
 * cache), and every handshake completes, resumed or not. */
struct churn {
    SSL_CTX *a, *b;
    int version, done, failed;
};

static void *handshakes(void *arg)
{
    struct churn *c = arg;
    int i, r;

    for (i = 0; i < 15; i++) {
        r = sc_resume_across(c->a, c->b, c->version);
        if (r < 0)
            __atomic_add_fetch(&c->failed, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_add_fetch(&c->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void regression_detach_during_handshakes_is_safe(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    struct churn c = { NULL, NULL, TLS1_3_VERSION, 0, 0 };
    struct tlsr_error err;
    pthread_t t[3];
    int i, n = 0;

    c.a = sc_server(TLS1_3_VERSION, "fleet");
    c.b = sc_server(TLS1_3_VERSION, "fleet");
    CHECK(st != NULL && c.a != NULL && c.b != NULL);
    CHECK(share(st, c.a) == 0 && share(st, c.b) == 0);
    for (i = 0; i < 3; i++)
        CHECK(pthread_create(&t[i], NULL, handshakes, &c) == 0);
    while (__atomic_load_n(&c.done, __ATOMIC_SEQ_CST) < 3) {
        CHECK_CODE(tlsr_server_cache_ctx(NULL, c.b, &err), 0, &err);
        usleep(500);
        CHECK_EQ_INT(share(st, c.b), 0);
        usleep(500);
        n++;
    }
    for (i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(c.failed, 0);
    CHECK(n > 0);
    SSL_CTX_free(c.a);
    SSL_CTX_free(c.b);
    tlsr_store_free(st);
    rm_store(p);
}

/* Another thread holds the store's lock (the entry counter's flock, as
 * another process's write or prune would) until told to let go. */
struct holder {
    char path[96];
    int go[2], done[2];
};

static void *hold_store_lock(void *arg)
{
    struct holder *h = arg;
    int fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    char c = 'x';

    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
    }
    if (write(h->go[1], fd >= 0 ? "1" : "0", 1) != 1 || read(h->done[0], &c, 1) != 1)
        c = 0;
    if (fd >= 0)
        close(fd);              /* releases the flock */
    return NULL;
}

static int hold_start(struct holder *h, pthread_t *t, const char *store)
{
    char c = 0;

    snprintf(h->path, sizeof(h->path), "%s/.count", store);
    if (pipe(h->go) != 0 || pipe(h->done) != 0
        || pthread_create(t, NULL, hold_store_lock, h) != 0)
        return -1;
    return read(h->go[0], &c, 1) == 1 && c == '1' ? 0 : -1;
}

static void hold_stop(struct holder *h, pthread_t t)
{
    if (write(h->done[1], "x", 1) != 1)
        return;
    pthread_join(t, NULL);
    close(h->go[0]);
    close(h->go[1]);
    close(h->done[0]);
    close(h->done[1]);
}

/*
 * The new-session callback ran a store write inside the handshake: with
 * the store locked by another thread (or process) the handshake waited
 * for it (alarm() turns a wait into a failure, not a hang).  Now it only
 * queues: handshakes complete, this context resumes its own session from
 * the queue at once, a queued removal is a miss at once, another context
 * (another process) sees the session once the writer could write.
 */
static void regression_handshake_never_waits_for_the_store_lock(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    SSL_SESSION *s, *s2, *g, *g0, *g2;
    struct holder h;
    pthread_t t;
    int reused = -1;

    CHECK(st != NULL && a != NULL && b != NULL && cli != NULL);
    CHECK(share(st, a) == 0 && share(st, b) == 0);
    CHECK_EQ_INT(hold_start(&h, &t, p), 0);
    alarm(20);
    /* A put writes its entry, then counts it under the lock: the writer
     * is stuck there with g0, and what follows stays queued. */
    g0 = tp_connect(a, cli, NULL, &reused);
    CHECK(g0 != NULL && reused == 0);
    s = tp_connect(a, cli, NULL, &reused);
    CHECK(s != NULL && reused == 0);
    s2 = tp_connect(a, cli, s, &reused);            /* from a's queue */
    CHECK(s2 != NULL);
    CHECK_EQ_INT(reused, 1);
    g = tp_connect(b, cli, s, &reused);             /* not written yet */
    CHECK(g != NULL);
    CHECK_EQ_INT(reused, 0);
    SSL_CTX_remove_session(a, s);                   /* queued as well */
    g2 = tp_connect(a, cli, s, &reused);
    CHECK(g2 != NULL);
    CHECK_EQ_INT(reused, 0);
    alarm(0);
    hold_stop(&h, t);
    CHECK(sc_flush(a) == 0 && sc_flush(b) == 0);
    SSL_SESSION_free(s2);
    s2 = tp_connect(b, cli, g2, &reused);           /* written: shared */
    CHECK(s2 != NULL);
    CHECK_EQ_INT(reused, 1);
    SSL_SESSION_free(s2);
    s2 = tp_connect(b, cli, s, &reused);            /* removed, in order */
    CHECK(s2 != NULL);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(g2);
    SSL_SESSION_free(g0);
    SSL_SESSION_free(g);
    SSL_SESSION_free(s);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    tlsr_store_free(st);
    rm_store(p);
}

/* A store slower than the handshakes: 1024 jobs wait, the rest are dropped
 * (counted, warned once), never a wait; all written once it is free, every
 * session reference given back (LeakSanitizer, valgrind). */
static void full_queue_drops_and_warns_once(void)
{
    const char *p = tmp_store();
    struct tlsr_store *st = open_store(p, 0);
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    int (*cb)(SSL *, SSL_SESSION *);
    struct tlsr_server_cache *sc;
    struct tlsr_server_cache_stats s;
    struct tlsr_error err;
    SSL_SESSION *sess;
    struct holder h;
    pthread_t t;
    int i, reused = -1;
    SSL *ssl;

    CHECK(st != NULL && a != NULL && cli != NULL);
    sc = tlsr_server_cache_new(st, NULL, &err);
    CHECK(sc != NULL);
    CHECK_CODE(tlsr_server_cache_set_warn(sc, on_warn, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_ctx(sc, a, &err), 0, &err);
    sess = tp_connect(a, cli, NULL, &reused);
    CHECK(sess != NULL);
    CHECK_CODE(tlsr_server_cache_flush(sc, 5000, &err), 0, &err);
    ssl = SSL_new(a);
    CHECK(ssl != NULL);
    SSL_set_accept_state(ssl);
    cb = SSL_CTX_sess_get_new_cb(a);
    warned = 0;
    CHECK_EQ_INT(hold_start(&h, &t, p), 0);
    alarm(20);
    for (i = 0; i < 1200; i++)
        cb(ssl, sess);
    alarm(0);
    CHECK_CODE(tlsr_server_cache_stats(sc, &s, &err), 0, &err);
    /* 1024 wait; the writer may hold one more, stuck in its write. */
    CHECK(s.dropped >= 1200 - 1025 && s.dropped <= 1200 - 1024);
    CHECK_EQ_INT(warned, 1);
    CHECK(strstr(warn_msg, "fall behind") != NULL);
    hold_stop(&h, t);
    CHECK_CODE(tlsr_server_cache_flush(sc, 60000, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_stats(sc, &s, &err), 0, &err);
    CHECK(s.stored >= 1024 + 1);
    CHECK_EQ_INT(s.failures, 0);
    CHECK_CODE(tlsr_server_cache_flush(NULL, 0, &err), TLSR_EINVAL, &err);
    CHECK_CODE(tlsr_server_cache_flush(sc, 0, &err), 0, &err);
    CHECK_CODE(tlsr_server_cache_flush(sc, -1, &err), 0, &err);
    tlsr_server_cache_free(sc);
    SSL_free(ssl);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    tlsr_store_free(st);
    rm_store(p);
}

TESTS(T(tls12_session_ids_resume_across_servers),
      T(tls13_stateful_tickets_resume_across_servers),
      T(regression_early_data_tickets_resume_across_servers_once),
      T(without_the_cache_servers_do_not_resume_each_other),
      T(different_sid_ctx_never_resumes),
      T(different_scope_never_resumes),
      T(expired_entries_are_not_served),
      T(sealed_store_works_and_other_keys_miss),
      T(regression_server_and_client_keys_never_meet),
      T(remove_callback_removes_the_entry),
      T(broken_store_gives_full_handshakes_and_one_warning),
      T(regression_full_store_never_evicts_in_a_handshake),
      T(attaching_again_is_idempotent_another_store_refused),
      T(foreign_session_callbacks_are_refused),
      T(cache_outlives_the_callers_store),
      T(regression_detach_during_handshakes_is_safe),
      T(regression_handshake_never_waits_for_the_store_lock),
      T(full_queue_drops_and_warns_once))
