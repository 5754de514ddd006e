/*
 * The server session cache on Redis (csrc/server_cache_redis.c), end to
 * end: two server SSL_CTXs with caches of their own, as two machines of a
 * fleet would have, on one private redis-server, resume each other's
 * sessions through real in-memory handshakes.  A Redis that is down,
 * stopped, or refuses the password costs full handshakes, never a failed
 * one.  Skipped (and passing) without redis-server.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "redis_conn.h"
#include "redis_server.h"
#include "scache_pair.h"
#include "tls_pair.h"

static const uint8_t SEAL1[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t SEAL2[32] = "fedcba9876543210fedcba9876543210";

struct opts {
    const char *prefix, *pass, *scope;
    const uint8_t *seal;            /* a codec with this key, or none */
    int lookup_ms, retry_ms, db, no_codec;
};

/* A Redis cache on s; generous lookups: valgrind is slow. */
static struct tlsr_server_cache *rcache(const struct rs_server *s,
                                        const struct opts *o,
                                        struct tlsr_error *err)
{
    struct tlsr_redis_options ro;
    struct tlsr_store_options so;
    struct tlsr_codec *codec = NULL;
    struct tlsr_server_cache *sc;

    tlsr_redis_options_init(&ro);
    ro.host = "127.0.0.1";
    ro.port = s->port;
    ro.password = o != NULL && o->pass != NULL ? o->pass : s->pass;
    ro.prefix = o != NULL ? o->prefix : NULL;
    ro.lookup_timeout_ms = o != NULL && o->lookup_ms ? o->lookup_ms : 2000;
    ro.retry_after_ms = o != NULL ? o->retry_ms : 0;
    ro.db = o != NULL ? o->db : 0;
    tlsr_store_options_init(&so);
    if (o != NULL && o->seal != NULL) {
        so.seal_key = o->seal;
        so.seal_key_len = 32;
    }
    if ((o == NULL || !o->no_codec)
        && (codec = tlsr_codec_new(&so, err)) == NULL)
        return NULL;
    sc = tlsr_server_cache_new_redis(&ro, codec,
                                     o != NULL ? o->scope : NULL, err);
    tlsr_codec_free(codec);
    return sc;
}

static int rshare(const struct rs_server *s, const struct opts *o,
                  SSL_CTX *ctx)
{
    struct tlsr_error err;
    struct tlsr_server_cache *sc = rcache(s, o, &err);

    if (sc == NULL)
        fprintf(stderr, "  rcache: %s\n", err.msg);
    return sc_share(sc, ctx);
}

static int flushall(const struct rs_server *s)
{
    return (int)rs_int(s, "FLUSHALL");
}

static int64_t ms_since(int64_t t0)
{
    return tlsri_mono_ms() - t0;
}

static void machines_share(int version)
{
    struct rs_server *s;
    SSL_CTX *a = sc_server(version, "fleet"), *b = sc_server(version, "fleet");

    RS_NEED(s);
    CHECK(a != NULL && b != NULL && flushall(s) == 0);
    CHECK_EQ_INT(rshare(s, NULL, a), 0);
    CHECK_EQ_INT(rshare(s, NULL, b), 0);
    CHECK_EQ_INT(sc_fleet_resumes(a, b, version, 3), 0);
    CHECK_EQ_INT(SSL_CTX_sess_number(a), 0);    /* Redis is the cache */
    CHECK(rs_int(s, "DBSIZE") >= 6);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
}

static void tls12_session_ids_resume_across_machines(void)
{
    machines_share(TLS1_2_VERSION);
}

static void tls13_stateful_tickets_resume_across_machines(void)
{
    machines_share(TLS1_3_VERSION);
}

static void the_unix_socket_and_a_db_work_too(void)
{
    struct rs_server *s;
    struct tlsr_redis_options ro;
    struct tlsr_server_cache *sc;
    struct tlsr_error err;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    struct opts o = { NULL };

    RS_NEED(s);
    CHECK(a != NULL && b != NULL && flushall(s) == 0);
    tlsr_redis_options_init(&ro);
    ro.unix_path = s->sock;
    ro.password = s->pass;
    ro.db = 2;
    ro.lookup_timeout_ms = 2000;
    sc = tlsr_server_cache_new_redis(&ro, NULL, NULL, &err);
    CHECK_CODE(sc_share(sc, a), 0, &err);
    o.db = 2;
    CHECK_EQ_INT(rshare(s, &o, b), 0);      /* the same db over TCP */
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 1);
    CHECK_EQ_INT(sc_resume_across(b, a, TLS1_2_VERSION), 1);
    CHECK_EQ_INT(rs_int(s, "DBSIZE"), 0);   /* db 0: nothing */
    SSL_CTX_free(a);
    SSL_CTX_free(b);
}

/* TLS 1.3 with early data and anti-replay: OpenSSL uses a stateful
 * ticket once; the lookup takes it (GETDEL) so that no other machine
 * accepts it again. */
static void early_data_sessions_are_taken_once(void)
{
    struct rs_server *s;
    SSL_CTX *a = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *b = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *cli = tp_client_ctx(TLS1_3_VERSION);
    struct tlsr_server_cache_stats sb;
    SSL_SESSION *sess = NULL, *r1 = NULL, *r2 = NULL, *dup;
    int reused = -1;

    RS_NEED(s);
    CHECK(a != NULL && b != NULL && cli != NULL && flushall(s) == 0);
    SSL_CTX_set_max_early_data(a, 16384);
    SSL_CTX_set_max_early_data(b, 16384);
    SSL_CTX_set_num_tickets(a, 1);
    SSL_CTX_set_num_tickets(b, 1);
    CHECK(rshare(s, NULL, a) == 0 && rshare(s, NULL, b) == 0);
    sess = tp_connect(a, cli, NULL, &reused);
    CHECK(sess != NULL && reused == 0);
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(rs_int(s, "DBSIZE"), 1);
    /* Copies: a TLS 1.3 client offers a session it resumed only once. */
    dup = SSL_SESSION_dup(sess);
    r1 = tp_connect(b, cli, dup, &reused);
    SSL_SESSION_free(dup);
    CHECK(r1 != NULL);
    CHECK_EQ_INT(reused, 1);
    CHECK(sc_flush(a) == 0 && sc_flush(b) == 0);
    CHECK_EQ_INT(rs_int(s, "DBSIZE"), 1);   /* b's new ticket, a's taken */
    dup = SSL_SESSION_dup(sess);
    r2 = tp_connect(a, cli, dup, &reused);     /* the same one again */
    SSL_SESSION_free(dup);
    CHECK(r2 != NULL);
    CHECK_EQ_INT(reused, 0);
    CHECK_EQ_INT(sc_stats(b, &sb), 0);
    CHECK(sb.hits == 1 && sb.failures == 0);
    SSL_SESSION_free(r2);
    SSL_SESSION_free(r1);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
}

static void sealed_entries_and_other_keys_miss(void)
{
    struct rs_server *s;
    struct opts k1 = { NULL }, k2 = { NULL }, plain = { NULL };
    SSL_CTX *a = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *c = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *d = sc_server(TLS1_3_VERSION, "fleet");
    struct tlsr_server_cache_stats st;

    RS_NEED(s);
    CHECK(a && b && c && d && flushall(s) == 0);
    k1.seal = SEAL1;
    k2.seal = SEAL2;
    plain.no_codec = 1;
    CHECK(rshare(s, &k1, a) == 0 && rshare(s, &k1, b) == 0);
    CHECK(rshare(s, &k2, c) == 0 && rshare(s, &plain, d) == 0);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_3_VERSION), 1);
    CHECK_EQ_INT(sc_resume_across(a, c, TLS1_3_VERSION), 0);
    CHECK_EQ_INT(sc_resume_across(a, d, TLS1_3_VERSION), 0);
    CHECK_EQ_INT(sc_stats(c, &st), 0);
    CHECK(st.failures >= 1 && st.hits == 0);
    CHECK_EQ_INT(st.first_error_code, TLSR_ESEAL);
    CHECK_EQ_INT(sc_stats(d, &st), 0);
    CHECK(st.failures >= 1 && st.hits == 0);
    CHECK(st.first_error_code != 0);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    SSL_CTX_free(d);
}

/* The remove callback (a bad close) deletes the key; the expiry is the
 * session's, as Redis's TTL. */
static void removal_deletes_and_the_ttl_is_the_sessions(void)
{
    struct rs_server *s;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    struct tlsr_server_cache_stats sa;
    struct tlsri_resp r;
    const char *argv[2] = { "RANDOMKEY", NULL };
    char key[300] = "";
    SSL_SESSION *sess;
    int reused = -1, fd;

    RS_NEED(s);
    CHECK(a != NULL && cli != NULL && flushall(s) == 0);
    CHECK_EQ_INT(rshare(s, NULL, a), 0);
    SSL_CTX_set_timeout(a, 100);
    sess = tp_connect(a, cli, NULL, &reused);
    CHECK(sess != NULL);
    CHECK_EQ_INT(sc_flush(a), 0);
    fd = rs_connect(s, 0);
    CHECK(fd >= 0);
    CHECK_EQ_INT(rs_cmd(fd, &r, 1, argv), TLSRI_RESP_BULK);
    if (r.len < sizeof(key))
        memcpy(key, r.data, r.len);
    tlsri_resp_clear(&r);
    CHECK(strncmp(key, "tlsresume:", 10) == 0 && strlen(key) == 10 + 64);
    argv[0] = "PTTL";
    argv[1] = key;
    CHECK_EQ_INT(rs_cmd(fd, &r, 2, argv), TLSRI_RESP_INT);
    CHECK(r.num > 90000 && r.num <= 100000);
    SSL_CTX_remove_session(a, sess);
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(rs_int(s, "DBSIZE"), 0);
    CHECK_EQ_INT(sc_stats(a, &sa), 0);
    CHECK_EQ_INT(sa.removed, 1);
    close(fd);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
}

static int warned;
static char warn_msg[256];

static void on_warn(void *arg, int code, const char *msg)
{
    (void)arg; (void)code;
    warned++;
    snprintf(warn_msg, sizeof(warn_msg), "%s", msg);
}

/* A refused password is found on use: full handshakes, one warning with
 * Redis's words, never the password. */
static void a_wrong_password_is_a_warning_not_a_failed_handshake(void)
{
    struct rs_server *s;
    struct opts o = { NULL };
    struct tlsr_server_cache *sc;
    struct tlsr_server_cache_stats st;
    struct tlsr_error err;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");

    RS_NEED(s);
    CHECK(a != NULL && b != NULL);
    o.pass = "wrong-pass-zz";
    sc = rcache(s, &o, &err);
    CHECK(sc != NULL);
    warned = 0;
    CHECK_CODE(tlsr_server_cache_set_warn(sc, on_warn, NULL, &err), 0, &err);
    CHECK_EQ_INT(sc_share(sc, a), 0);
    CHECK_EQ_INT(rshare(s, &o, b), 0);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_resume_across(a, a, TLS1_2_VERSION), 0);
    CHECK_EQ_INT(sc_flush(a), 0);
    CHECK_EQ_INT(sc_stats(a, &st), 0);
    CHECK(st.failures >= 1 && st.stored == 0);
    CHECK_EQ_INT(st.first_error_code, TLSR_ECONNECT);
    CHECK(strstr(st.first_error, "WRONGPASS") != NULL);
    CHECK(strstr(st.first_error, "wrong-pass") == NULL);
    CHECK_EQ_INT(warned, 1);
    CHECK(strstr(warn_msg, "wrong-pass") == NULL);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
}

/* A Redis that stops answering costs one lookup timeout, then is left
 * alone for retry_after (lookups at once, full handshakes), then used
 * again. */
static void a_silent_redis_is_left_alone_for_retry_after(void)
{
    static struct rs_server own;    /* static: killed at exit if a CHECK
                                     * returns early */
    struct opts o = { NULL };
    struct tlsr_server_cache_stats st;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *cli = tp_client_ctx(TLS1_2_VERSION);
    SSL_SESSION *sess, *t;
    int64_t t0, first, rest;
    int reused = -1, i, ok = 1;

    if (!rs_available())
        return;
    CHECK(a != NULL && b != NULL && cli != NULL);
    CHECK_EQ_INT(rs_start(&own, RS_PASS, NULL), 0);
    /* Long enough that one wait stands out from handshakes slowed by
     * valgrind on a loaded machine (3 took 140 ms there). */
    o.lookup_ms = 2000;
    o.retry_ms = 2500;
    CHECK(rshare(&own, &o, a) == 0 && rshare(&own, &o, b) == 0);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 1);
    sess = tp_connect(a, cli, NULL, &reused);
    CHECK(sess != NULL && sc_flush(a) == 0);
    kill(own.pid, SIGSTOP);
    t0 = tlsri_mono_ms();
    t = tp_connect(b, cli, sess, &reused);      /* waits 2 s */
    first = ms_since(t0);
    ok = t != NULL && reused == 0;
    SSL_SESSION_free(t);
    t0 = tlsri_mono_ms();
    for (i = 0; i < 3 && ok; i++) {     /* no Redis call: no wait */
        t = tp_connect(b, cli, sess, &reused);
        ok = t != NULL && reused == 0;
        SSL_SESSION_free(t);
    }
    rest = ms_since(t0);
    CHECK(ok);
    CHECK(first >= 1990);
    CHECK(rest < 2000);                 /* no lookup waited */
    CHECK_EQ_INT(sc_stats(b, &st), 0);
    CHECK(st.failures >= 1);
    CHECK_EQ_INT(st.first_error_code, TLSR_EIO);
    CHECK(strstr(st.first_error, "lookup") != NULL);
    kill(own.pid, SIGCONT);
    usleep(2600 * 1000);
    t = tp_connect(b, cli, sess, &reused);      /* back: resumes */
    CHECK(t != NULL);
    CHECK_EQ_INT(reused, 1);
    SSL_SESSION_free(t);
    SSL_SESSION_free(sess);
    SSL_CTX_free(cli);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    rs_stop(&own);
}

static void a_killed_redis_costs_full_handshakes_only(void)
{
    static struct rs_server own;
    struct opts o = { NULL };
    struct tlsr_server_cache_stats sa, sb;
    SSL_CTX *a = sc_server(TLS1_3_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_3_VERSION, "fleet");
    int64_t t0;
    int i;

    if (!rs_available())
        return;
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_INT(rs_start(&own, RS_PASS, NULL), 0);
    o.lookup_ms = 2000;     /* one wait would stand out (see above) */
    CHECK(rshare(&own, &o, a) == 0 && rshare(&own, &o, b) == 0);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_3_VERSION), 1);
    rs_stop(&own);
    t0 = tlsri_mono_ms();
    for (i = 0; i < 4; i++)
        CHECK_EQ_INT(sc_resume_across(a, b, TLS1_3_VERSION), 0);
    CHECK(ms_since(t0) < 2000);     /* refused at once: no wait (670 ms
                                     * for all under valgrind, loaded) */
    CHECK_EQ_INT(sc_stats(a, &sa), 0);
    CHECK_EQ_INT(sc_stats(b, &sb), 0);
    CHECK(sa.failures >= 1 && sb.failures >= 1);
    CHECK(sa.first_error_code != 0 && sb.first_error_code != 0);
    CHECK(sb.first_error[0] != '\0');
    CHECK(strstr(sb.first_error, RS_PASS) == NULL);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
}

/* Redis closes idle connections (its `timeout` setting, or a restart):
 * a pooled or the writer's connection found closed is made again, not a
 * failure that leaves Redis alone for retry_after. */
static void regression_idle_connections_closed_by_redis_are_remade(void)
{
    static const char *const idle1[] = { "--timeout", "1", NULL };
    static struct rs_server own;
    struct opts o = { NULL };
    struct tlsr_server_cache_stats sa, sb;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");
    SSL_CTX *b = sc_server(TLS1_2_VERSION, "fleet");

    if (!rs_available())
        return;
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_INT(rs_start(&own, RS_PASS, idle1), 0);
    CHECK(rshare(&own, &o, a) == 0 && rshare(&own, &o, b) == 0);
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 1);
    sleep(3);                       /* Redis drops both connections */
    CHECK_EQ_INT(sc_resume_across(a, b, TLS1_2_VERSION), 1);
    CHECK_EQ_INT(sc_resume_across(b, a, TLS1_2_VERSION), 1);
    CHECK_EQ_INT(sc_stats(a, &sa), 0);
    CHECK_EQ_INT(sc_stats(b, &sb), 0);
    if (sa.failures + sb.failures != 0)
        fprintf(stderr, "  %s / %s\n", sa.first_error, sb.first_error);
    CHECK_EQ_INT(sa.failures + sb.failures, 0);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    rs_stop(&own);
}

static void attaching_again_is_idempotent_another_prefix_refused(void)
{
    struct rs_server *s;
    struct opts same = { "p1:", NULL, NULL, SEAL1, 0, 0, 0, 0 };
    struct opts o;
    struct tlsr_server_cache *sc;
    struct tlsr_error err;
    SSL_CTX *a = sc_server(TLS1_2_VERSION, "fleet");

    RS_NEED(s);
    CHECK(a != NULL);
    CHECK_EQ_INT(rshare(s, &same, a), 0);
    CHECK_EQ_INT(rshare(s, &same, a), 0);       /* idempotent */
    o = same;
    o.prefix = "p2:";
    sc = rcache(s, &o, &err);
    CHECK_CODE(tlsr_server_cache_ctx(sc, a, &err), TLSR_EINVAL, &err);
    CHECK(strstr(err.msg, "another") != NULL);
    tlsr_server_cache_free(sc);
    o = same;
    o.seal = SEAL2;
    CHECK_EQ_INT(rshare(s, &o, a), TLSR_EINVAL);
    o = same;
    o.db = 1;
    CHECK_EQ_INT(rshare(s, &o, a), TLSR_EINVAL);
    o = same;
    o.scope = "blue";
    CHECK_EQ_INT(rshare(s, &o, a), TLSR_EINVAL);
    CHECK_CODE(tlsr_server_cache_ctx(NULL, a, &err), 0, &err);  /* detach */
    CHECK(tlsr_server_cache_get(a) == NULL);
    o.prefix = "p2:";
    CHECK_EQ_INT(rshare(s, &o, a), 0);
    SSL_CTX_free(a);
}

static struct tlsr_server_cache *try_new(struct tlsr_redis_options *ro,
                                         struct tlsr_error *err)
{
    struct tlsr_server_cache *sc = tlsr_server_cache_new_redis(ro, NULL,
                                                               NULL, err);

    tlsr_server_cache_free(sc);
    tlsr_redis_options_init(ro);
    ro->host = "127.0.0.1";
    ro->password = "pw-not-in-errors";
    return sc;
}

static void bad_options_are_refused_at_construction(void)
{
    struct tlsr_redis_options ro;
    struct tlsr_error err;
    char prefix[202], scope[300];

    tlsr_redis_options_init(&ro);
    CHECK(ro.port == 6379 && ro.lookup_timeout_ms == 10
          && ro.retry_after_ms == 1000 && ro.timeout_ms == 200
          && strcmp(ro.prefix, "tlsresume:") == 0);
    ro.host = "127.0.0.1";
    ro.port = rs_free_port();   /* nothing there: first reached on use */
    CHECK(try_new(&ro, &err) != NULL);
    memset(prefix, 'p', sizeof(prefix));
    prefix[200] = '\0';
    ro.prefix = prefix;
    CHECK(try_new(&ro, &err) != NULL);
    prefix[200] = 'p';
    prefix[201] = '\0';
    ro.prefix = prefix;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.timeout_ms = -1;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.timeout_ms = 3600001;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.lookup_timeout_ms = -5;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.retry_after_ms = 3600001;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.port = 70000;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.port = -1;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.db = -1;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.host = NULL;
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_EINVAL);
    ro.host = "redis.invalid";
    CHECK(try_new(&ro, &err) == NULL && err.code == TLSR_ECONNECT);
    CHECK(strstr(err.msg, "redis.invalid") != NULL);
    CHECK(strstr(err.msg, "pw-not") == NULL);
    CHECK(tlsr_server_cache_new_redis(NULL, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    memset(scope, 's', sizeof(scope));
    scope[sizeof(scope) - 1] = '\0';
    CHECK(tlsr_server_cache_new_redis(&ro, NULL, scope, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EINVAL);
    /* No-ops. */
    tlsr_redis_options_init(NULL);
    tlsr_server_cache_free(NULL);
    tlsr_codec_free(NULL);
    CHECK_CODE(tlsr_server_cache_flush(NULL, 0, &err), TLSR_EINVAL, &err);
}

TESTS(T(tls12_session_ids_resume_across_machines),
      T(tls13_stateful_tickets_resume_across_machines),
      T(the_unix_socket_and_a_db_work_too),
      T(early_data_sessions_are_taken_once),
      T(sealed_entries_and_other_keys_miss),
      T(removal_deletes_and_the_ttl_is_the_sessions),
      T(a_wrong_password_is_a_warning_not_a_failed_handshake),
      T(a_silent_redis_is_left_alone_for_retry_after),
      T(a_killed_redis_costs_full_handshakes_only),
      T(regression_idle_connections_closed_by_redis_are_remade),
      T(attaching_again_is_idempotent_another_prefix_refused),
      T(bad_options_are_refused_at_construction))
