/*
 * Ticket key rings: real in-memory handshakes through the ring's ticket
 * callback, rotation by several processes, kill -9 mid-rotation, exports,
 * and the errors an operator meets (missing, unsafe, corrupt rings).
 */
#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static void tmpdir(char *d, size_t cap)
{
    snprintf(d, cap, "/tmp/tlsr-ring-XXXXXX");
    if (mkdtemp(d) == NULL)
        abort();
}

static void rmtree(const char *d)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", d);
}

/* A ring at base/r with the given period and keep. */
static struct tlsr_ring *new_ring(const char *base, char *path, size_t cap,
                                  int64_t period, int64_t keep, int format)
{
    struct tlsr_ring_options o;
    struct tlsr_error err;

    snprintf(path, cap, "%s/r", base);
    tlsr_ring_options_init(&o);
    o.period = period;
    o.keep = keep;
    o.format = format;
    if (tlsr_ring_init(path, &o, &err) != 0) {
        fprintf(stderr, "init: %s\n", err.msg);
        return NULL;
    }
    return tlsr_ring_open(path, &err);
}

static SSL_CTX *ring_server(struct tlsr_ring *ring, int version)
{
    struct tlsr_error err;
    SSL_CTX *s = tp_server_ctx(TP_EC, version);

    if (s != NULL && tlsr_ring_attach_ctx(ring, s, NULL, &err) != 0) {
        fprintf(stderr, "attach: %s\n", err.msg);
        SSL_CTX_free(s);
        return NULL;
    }
    return s;
}

/* The key name of the ticket a client session holds. */
static int ticket_name(SSL_SESSION *sess, uint8_t name[16])
{
    uint8_t t[4096];
    size_t len = sizeof(t);
    struct tlsr_ticket_info info;
    struct tlsr_error err;

    if (tlsr_session_get_ticket(sess, t, &len, &err) != 0
        || tlsr_ticket_parse(t, len, &info, &err) != 0)
        return -1;
    memcpy(name, info.key_name, 16);
    return 0;
}

static int role_name(struct tlsr_ring *ring, int role, uint8_t name[16])
{
    struct tlsr_ring_key k;
    struct tlsr_error err;
    size_t i;

    for (i = 0; tlsr_ring_key_get(ring, i, 0, &k, &err) == 1; i++)
        if (k.role == role) {
            memcpy(name, k.name, 16);
            return 0;
        }
    return -1;
}

static int count_keys(struct tlsr_ring *ring)
{
    struct tlsr_ring_key k;
    struct tlsr_error err;
    int i = 0;

    while (tlsr_ring_key_get(ring, (size_t)i, 0, &k, &err) == 1)
        i++;
    return i;
}

/* ---- tests ---------------------------------------------------------- */

static void test_init_roles(void)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    struct tlsr_ring_key k0, k1;
    struct tlsr_ring_options o;
    struct tlsr_error err;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    CHECK_EQ_INT(count_keys(ring), 2);
    CHECK_EQ_INT(tlsr_ring_key_get(ring, 0, 0, &k0, &err), 1);
    CHECK_EQ_INT(tlsr_ring_key_get(ring, 1, 0, &k1, &err), 1);
    CHECK_EQ_INT(k0.role, TLSR_RING_ENCRYPT);
    CHECK_EQ_INT(k1.role, TLSR_RING_NEXT);
    CHECK_EQ_INT(k1.start - k0.start, 3600);
    CHECK_EQ_INT(k0.expires, k1.start + 43200);
    /* Rotating now changes nothing; an hour later the next one encrypts. */
    CHECK_CODE(tlsr_ring_rotate(ring, 0, 0, &err), 0, &err);
    CHECK_EQ_INT(tlsr_ring_key_get(ring, 1, k1.start, &k1, &err), 1);
    CHECK_EQ_INT(k1.role, TLSR_RING_ENCRYPT);
    CHECK_CODE(tlsr_ring_rotate(ring, k1.start, 0, &err), 1, &err);
    CHECK_EQ_INT(count_keys(ring), 3);
    CHECK_CODE(tlsr_ring_get_options(ring, &o, &err), 0, &err);
    CHECK_EQ_INT(o.period, 3600);
    CHECK_EQ_INT(o.keep, 43200);
    /* Past keep the first key expires and rotation removes it. */
    CHECK_CODE(tlsr_ring_rotate(ring, k1.start + 43200 + 1, 0, &err), 1,
               &err);
    CHECK_EQ_INT(tlsr_ring_key_get(ring, 0, k1.start + 43201, &k0, &err), 1);
    CHECK(k0.role != TLSR_RING_EXPIRED);
    CHECK_CODE(tlsr_ring_init(path, NULL, &err), TLSR_EINVAL, &err);
    tlsr_ring_free(ring);
    rmtree(base);
}

static void test_bad_options(void)
{
    char base[64], path[128];
    struct tlsr_ring_options o;
    struct tlsr_error err;

    tmpdir(base, sizeof(base));
    snprintf(path, sizeof(path), "%s/r", base);
    tlsr_ring_options_init(&o);
    o.keep = 8 * 86400;
    CHECK_CODE(tlsr_ring_init(path, &o, &err), TLSR_EINVAL, &err);
    CHECK(strstr(err.msg, "7 days") != NULL);
    tlsr_ring_options_init(&o);
    o.period = 60;
    o.keep = 86400;
    CHECK_CODE(tlsr_ring_init(path, &o, &err), TLSR_EINVAL, &err);
    o.period = 3600;
    o.format = 9;
    CHECK_CODE(tlsr_ring_init(path, &o, &err), TLSR_EINVAL, &err);
    rmtree(base);
}

/* Two servers on one ring resume each other's tickets. */
static void shared(int version)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    SSL_CTX *a, *b, *c;
    SSL_SESSION *s1, *s2, *s3;
    uint8_t name[16], enc[16];
    int reused = -1, i;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    a = ring_server(ring, version);
    b = ring_server(ring, version);
    c = tp_client_ctx(version);
    CHECK(a != NULL && b != NULL && c != NULL);
    s1 = tp_connect(a, c, NULL, &reused);
    CHECK(s1 != NULL && reused == 0);
    CHECK(ticket_name(s1, name) == 0 && role_name(ring, TLSR_RING_ENCRYPT,
                                                  enc) == 0);
    CHECK(memcmp(name, enc, 16) == 0);
    s2 = tp_connect(b, c, s1, &reused);
    CHECK(s2 != NULL);
    CHECK_EQ_INT(reused, 1);
    /* Every TLS 1.3 resumption gets a fresh ticket (single use). */
    s3 = tp_connect(a, c, s2, &reused);
    CHECK_EQ_INT(reused, 1);
    for (i = 0; i < 3; i++) {
        SSL_SESSION *n = tp_connect(i % 2 ? a : b, c, s3, &reused);

        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(s3);
        s3 = n;
    }
    SSL_SESSION_free(s1);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(s3);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    tlsr_ring_free(ring);
    rmtree(base);
}

static void test_shared_tls12(void) { shared(TLS1_2_VERSION); }
static void test_shared_tls13(void) { shared(TLS1_3_VERSION); }

/* A ticket decrypts with the ring's keys (tlsr_ticket_decrypt). */
static void decrypt_with_ring(int format)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    struct tlsr_ticket_keys *keys;
    struct tlsr_error err;
    SSL_CTX *a, *c;
    SSL_SESSION *s1, *srv;
    uint8_t t[4096];
    size_t len = sizeof(t);
    int reused;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, format);
    CHECK(ring != NULL);
    a = ring_server(ring, TLS1_2_VERSION);
    c = tp_client_ctx(TLS1_2_VERSION);
    s1 = tp_connect(a, c, NULL, &reused);
    CHECK(s1 != NULL);
    CHECK_CODE(tlsr_session_get_ticket(s1, t, &len, &err), 0, &err);
    keys = tlsr_ring_ticket_keys(ring, 0, &err);
    CHECK(keys != NULL);
    srv = tlsr_ticket_decrypt(keys, t, len, &err);
    CHECK(srv != NULL);
    SSL_SESSION_free(srv);
    tlsr_ticket_keys_free(keys);
    SSL_SESSION_free(s1);
    SSL_CTX_free(a);
    SSL_CTX_free(c);
    tlsr_ring_free(ring);
    rmtree(base);
}

static void test_decrypt_aes256(void) { decrypt_with_ring(0); }
static void test_decrypt_aes128(void) { decrypt_with_ring(TLSR_KEYS_NODE48); }

/*
 * Rotation seen by a server through another process's rotate: old tickets
 * resume within keep, not after; new tickets carry the new key's name.
 */
static void test_rotation_keep(void)
{
    char base[64], path[128];
    struct tlsr_ring *ring, *other;
    struct tlsr_ring_status st;
    struct tlsr_error err;
    SSL_CTX *a, *c;
    SSL_SESSION *old, *old2, *s, *fresh;
    uint8_t name[16], enc[16], oldname[16];
    int reused;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 2, 0);
    CHECK(ring != NULL);
    other = tlsr_ring_open(path, &err);
    CHECK(other != NULL);
    a = ring_server(ring, TLS1_2_VERSION);
    c = tp_client_ctx(TLS1_2_VERSION);
    old = tp_connect(a, c, NULL, &reused);
    CHECK(old != NULL && ticket_name(old, oldname) == 0);
    /* A resumption that renews the ticket makes OpenSSL's client mark the
     * session it resumed not resumable: keep a copy for later. */
    old2 = SSL_SESSION_dup(old);
    CHECK_CODE(tlsr_ring_rotate(other, 0, 1, &err), 1, &err);
    usleep(1100 * 1000);        /* the server checks once a second */
    s = tp_connect(a, c, old, &reused);
    CHECK_EQ_INT(reused, 1);    /* within keep */
    SSL_SESSION_free(s);
    fresh = tp_connect(a, c, NULL, &reused);
    CHECK(fresh != NULL && ticket_name(fresh, name) == 0);
    CHECK(role_name(other, TLSR_RING_ENCRYPT, enc) == 0);
    CHECK(memcmp(name, enc, 16) == 0 && memcmp(name, oldname, 16) != 0);
    sleep(3);                   /* past keep */
    /* The client would drop it (keep is the session timeout too): make it
     * offer the ticket, so the server's key expiry is what refuses it. */
    SSL_SESSION_set_timeout(old2, 3600);
    s = tp_connect(a, c, old2, &reused);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(s);
    /* keep is also the session timeout: resume a ticket issued now. */
    SSL_SESSION_free(fresh);
    fresh = tp_connect(a, c, NULL, &reused);
    s = tp_connect(a, c, fresh, &reused);
    CHECK_EQ_INT(reused, 1);
    SSL_SESSION_free(s);
    CHECK_CODE(tlsr_ring_status(ring, &st, 0, &err), 0, &err);
    CHECK(st.reloads >= 1 && st.unknown >= 1 && st.failures == 0);
    SSL_SESSION_free(old);
    SSL_SESSION_free(old2);
    SSL_SESSION_free(fresh);
    SSL_CTX_free(a);
    SSL_CTX_free(c);
    tlsr_ring_free(other);
    tlsr_ring_free(ring);
    rmtree(base);
}

static int warned;
static void on_warn(void *arg, int code, const char *msg)
{
    warned++;
}

/* A ring that becomes unsafe while serving: last good keys, one warning. */
static void test_reload_failure_keeps_keys(void)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    struct tlsr_ring_status st;
    struct tlsr_error err;
    SSL_CTX *a, *c;
    SSL_SESSION *s1, *s;
    int reused, i;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    warned = 0;
    CHECK_CODE(tlsr_ring_set_warn(ring, on_warn, NULL, &err), 0, &err);
    a = ring_server(ring, TLS1_2_VERSION);
    c = tp_client_ctx(TLS1_2_VERSION);
    s1 = tp_connect(a, c, NULL, &reused);
    CHECK(s1 != NULL);
    CHECK(chmod(path, 0777) == 0);
    for (i = 0; i < 3; i++) {
        usleep(600 * 1000);
        s = tp_connect(a, c, s1, &reused);
        CHECK_EQ_INT(reused, 1);
        SSL_SESSION_free(s);
    }
    CHECK_CODE(tlsr_ring_status(ring, &st, 0, &err), 0, &err);
    CHECK(st.failures >= 1 && st.last_code == TLSR_EPERM);
    CHECK(strstr(st.last_msg, "writable") != NULL);
    CHECK_EQ_INT(warned, 1);
    chmod(path, 0700);
    SSL_SESSION_free(s1);
    SSL_CTX_free(a);
    SSL_CTX_free(c);
    tlsr_ring_free(ring);
    rmtree(base);
}

/* Delete the key files (not ring.conf). */
static void remove_keys(const char *path)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -f '%s'/*.key", path);
    if (system(cmd) != 0)
        abort();
}

/* n children wait on a pipe, then rotate at once; returns 0 if all ok. */
static int race(const char *path, int n, int force)
{
    int p[2], i, ok = 0, status;
    pid_t pid[16];

    if (pipe(p) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        pid[i] = fork();
        if (pid[i] == 0) {
            struct tlsr_error err;
            struct tlsr_ring *r;
            char ch;

            close(p[1]);
            if (read(p[0], &ch, 1) < 0)
                _exit(3);
            r = tlsr_ring_open(path, &err);
            if (r == NULL) {
                /* Keys removed: open fails, rotate through init's path. */
                _exit(2);
            }
            if (tlsr_ring_rotate(r, 0, force, &err) < 0) {
                fprintf(stderr, "child rotate: %s\n", err.msg);
                _exit(1);
            }
            tlsr_ring_free(r);
            _exit(0);
        }
    }
    close(p[0]);
    close(p[1]);                /* releases every child at once */
    for (i = 0; i < n; i++)
        if (waitpid(pid[i], &status, 0) == pid[i] && WIFEXITED(status)
            && WEXITSTATUS(status) == 0)
            ok++;
    return ok == n ? 0 : -1;
}

static void test_concurrent_rotate_converges(void)
{
    char base[64], path[128], kpath[200];
    struct tlsr_ring *ring;
    struct tlsr_ring_key k;
    struct tlsr_error err;
    int n;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    /* The next key is missing: 8 processes make exactly one. */
    CHECK_EQ_INT(tlsr_ring_key_get(ring, 1, 0, &k, &err), 1);
    snprintf(kpath, sizeof(kpath), "%s/%016llx.key", path,
             (unsigned long long)k.start);
    CHECK(unlink(kpath) == 0);
    CHECK(race(path, 8, 0) == 0);
    CHECK_CODE(tlsr_ring_reload(ring, &err), 0, &err);
    CHECK_EQ_INT(count_keys(ring), 2);
    /* 8 forced rotations: one new key per second they ran in. */
    CHECK(race(path, 8, 1) == 0);
    CHECK_CODE(tlsr_ring_reload(ring, &err), 0, &err);
    n = count_keys(ring);
    CHECK(n >= 3 && n <= 5);
    CHECK_EQ_INT(tlsr_ring_rotate(ring, 0, 0, &err), 0);
    remove_keys(path);
    CHECK_CODE(tlsr_ring_reload(ring, &err), TLSR_ECORRUPT, &err);
    CHECK(strstr(err.msg, "no keys") != NULL);
    tlsr_ring_free(ring);
    rmtree(base);
}

static int count_tmp(const char *path)
{
    struct dirent *de;
    DIR *d = opendir(path);
    int n = 0;

    while (d != NULL && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, ".tmp-", 5) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

/* kill -9 at random points of forced rotations: the ring always loads. */
static void test_kill9_during_rotate(void)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    struct tlsr_error err;
    int round;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 1, 40, 0);
    CHECK(ring != NULL);
    tlsr_ring_free(ring);
    for (round = 0; round < 12; round++) {
        pid_t pid = fork();

        if (pid == 0) {
            struct tlsr_ring *r = tlsr_ring_open(path, &err);

            for (;;)
                if (r == NULL || tlsr_ring_rotate(r, 0, 1, &err) < 0)
                    _exit(1);
        }
        usleep(20000 + (unsigned)(round * 7919) % 30000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ring = tlsr_ring_open(path, &err);
        if (ring == NULL)
            fprintf(stderr, "  after kill: %s\n", err.msg);
        CHECK(ring != NULL);
        tlsr_ring_free(ring);
    }
    /* The next rotation removes what the killed writers left. */
    ring = tlsr_ring_open(path, &err);
    CHECK(ring != NULL);
    CHECK(tlsr_ring_rotate(ring, 0, 0, &err) >= 0);
    CHECK_EQ_INT(count_tmp(path), 0);
    tlsr_ring_free(ring);
    rmtree(base);
}

static void test_errors(void)
{
    char base[64], path[128], f[200], k0[200];
    struct tlsr_ring *ring;
    struct tlsr_ring_key k;
    struct tlsr_error err;
    FILE *fp;

    tmpdir(base, sizeof(base));
    snprintf(f, sizeof(f), "%s/missing", base);
    CHECK(tlsr_ring_open(f, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(strstr(err.msg, f) != NULL);
    CHECK(tlsr_ring_open(base, &err) == NULL);      /* no ring.conf */
    CHECK_EQ_INT(err.code, TLSR_ENOTFOUND);
    CHECK(strstr(err.msg, "keys init") != NULL);
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    CHECK_EQ_INT(tlsr_ring_key_get(ring, 0, 0, &k, &err), 1);
    tlsr_ring_free(ring);
    /* unsafe directory */
    CHECK(chmod(path, 0777) == 0);
    CHECK(tlsr_ring_open(path, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(chmod(path, 0700) == 0);
    /* a key file others can read */
    snprintf(k0, sizeof(k0), "%s/%016llx.key", path,
             (unsigned long long)k.start);
    CHECK(chmod(k0, 0644) == 0);
    CHECK(tlsr_ring_open(path, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_EPERM);
    CHECK(chmod(k0, 0600) == 0);
    /* a truncated key file */
    CHECK(truncate(k0, 40) == 0);
    CHECK(tlsr_ring_open(path, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ECORRUPT);
    CHECK(strstr(err.msg, "40 bytes") != NULL);
    CHECK(unlink(k0) == 0);
    /* a malformed ring.conf */
    snprintf(f, sizeof(f), "%s/ring.conf", path);
    fp = fopen(f, "w");
    CHECK(fp != NULL);
    fputs("tlsresume-ring 1\ncipher rot13\n", fp);
    fclose(fp);
    CHECK(tlsr_ring_open(path, &err) == NULL);
    CHECK_EQ_INT(err.code, TLSR_ECORRUPT);
    CHECK(strstr(err.msg, "ring.conf") != NULL);
    rmtree(base);
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    struct tlsr_error err;

    *len = cap;
    return tlsr_file_read_private(path, buf, len, &err);
}

static void test_export(void)
{
    char base[64], path[128], out[160], f[220];
    struct tlsr_ring *ring;
    struct tlsr_ticket_keys *keys;
    struct tlsr_error err;
    struct stat sb;
    uint8_t raw[4096], t[4096], enc[16], next[16];
    size_t len, tlen = sizeof(t);
    SSL_CTX *a, *c;
    SSL_SESSION *s1, *srv;
    int reused;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    snprintf(out, sizeof(out), "%s/nginx", base);
    CHECK_EQ_INT(tlsr_ring_export(ring, TLSR_EXPORT_NGINX80, out, 0, &err),
                 2);
    snprintf(f, sizeof(f), "%s/0.key", out);
    CHECK(stat(f, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(read_file(f, raw, sizeof(raw), &len) == 0 && len == 80);
    CHECK(role_name(ring, TLSR_RING_ENCRYPT, enc) == 0);
    CHECK(memcmp(raw, enc, 16) == 0);
    snprintf(f, sizeof(f), "%s/1.key", out);
    CHECK(read_file(f, raw + 80, sizeof(raw) - 80, &len) == 0);
    CHECK(role_name(ring, TLSR_RING_NEXT, next) == 0);
    CHECK(memcmp(raw + 80, next, 16) == 0);
    /* 0.key decrypts what the ring's servers issue. */
    a = ring_server(ring, TLS1_2_VERSION);
    c = tp_client_ctx(TLS1_2_VERSION);
    s1 = tp_connect(a, c, NULL, &reused);
    CHECK(s1 != NULL);
    CHECK_CODE(tlsr_session_get_ticket(s1, t, &tlen, &err), 0, &err);
    keys = tlsr_ticket_keys_new(&err);
    CHECK_CODE(tlsr_ticket_keys_add(keys, raw, 80, TLSR_KEYS_OPENSSL80,
                                    &err), 0, &err);
    srv = tlsr_ticket_decrypt(keys, t, tlen, &err);
    CHECK(srv != NULL);
    SSL_SESSION_free(srv);
    tlsr_ticket_keys_free(keys);
    /* haproxy: previous (filler), encrypting, next */
    CHECK_EQ_INT(tlsr_ring_export(ring, TLSR_EXPORT_HAPROXY, out, 0, &err),
                 3);
    snprintf(f, sizeof(f), "%s/haproxy.keys", out);
    CHECK(read_file(f, raw, sizeof(raw), &len) == 0);
    CHECK_EQ_INT(len, 3 * 109);
    /* sizes are a choice at init */
    CHECK_CODE(tlsr_ring_export(ring, TLSR_EXPORT_NODE48, out, 0, &err),
               TLSR_EINVAL, &err);
    CHECK(strstr(err.msg, "AES-256") != NULL);
    SSL_SESSION_free(s1);
    SSL_CTX_free(a);
    SSL_CTX_free(c);
    tlsr_ring_free(ring);
    rmtree(base);
}

static void test_session_id_context(void)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    struct tlsr_ring_attach_options o = { (const uint8_t *)"Python", 7, 0 };
    struct tlsr_ring_attach_options other = { (const uint8_t *)"node", 4, 0 };
    struct tlsr_error err;
    SSL_CTX *a, *b, *c;
    SSL_SESSION *s1, *s;
    int reused;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 43200, 0);
    CHECK(ring != NULL);
    a = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    b = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    c = tp_client_ctx(TLS1_2_VERSION);
    CHECK_CODE(tlsr_ring_attach_ctx(ring, a, &o, &err), 0, &err);
    CHECK_CODE(tlsr_ring_attach_ctx(ring, b, &other, &err), 0, &err);
    s1 = tp_connect(a, c, NULL, &reused);
    CHECK(s1 != NULL);
    /* Same keys, other sid_ctx: OpenSSL silently does a full handshake. */
    s = tp_connect(b, c, s1, &reused);
    CHECK_EQ_INT(reused, 0);
    SSL_SESSION_free(s);
    CHECK_CODE(tlsr_ring_attach_ctx(ring, b, &o, &err), 0, &err);
    s = tp_connect(b, c, s1, &reused);
    CHECK_EQ_INT(reused, 1);
    SSL_SESSION_free(s);
    other.session_id_context_len = 33;
    CHECK_CODE(tlsr_ring_attach_ctx(ring, b, &other, &err), TLSR_EINVAL,
               &err);
    SSL_SESSION_free(s1);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    tlsr_ring_free(ring);
    rmtree(base);
}

/* Handshakes on 4 threads while the ring is rotated and reloaded under
 * them (snapshots swapped): every one resumes, nothing is used after free
 * (ASan), and the counters add up. */
struct hs_arg {
    SSL_CTX *server;
    SSL_SESSION *sess;
    int *stop;                  /* __atomic */
    int n, ok;
};

static void *handshakes(void *p)
{
    struct hs_arg *a = p;
    SSL_CTX *c = tp_client_ctx(TLS1_2_VERSION);
    int i, reused;

    for (i = 0; c != NULL && !__atomic_load_n(a->stop, __ATOMIC_RELAXED);
         i++) {
        /* A private copy: after a renewed ticket OpenSSL's client marks
         * the session it resumed not resumable. */
        SSL_SESSION *mine = SSL_SESSION_dup(a->sess);
        SSL_SESSION *s = tp_connect(a->server, c, mine, &reused);

        a->ok += s != NULL && reused;
        a->n++;
        SSL_SESSION_free(s);
        SSL_SESSION_free(mine);
    }
    SSL_CTX_free(c);
    return NULL;
}

static void test_threads_while_rotating(void)
{
    char base[64], path[128];
    struct tlsr_ring *ring;
    struct tlsr_ring_status st;
    struct tlsr_error err;
    struct hs_arg args[4];
    pthread_t th[4];
    SSL_CTX *a, *c;
    SSL_SESSION *s0;
    int i, reused, total = 0, ok = 0, stop = 0;

    tmpdir(base, sizeof(base));
    ring = new_ring(base, path, sizeof(path), 3600, 600, 0);
    CHECK(ring != NULL);
    a = ring_server(ring, TLS1_2_VERSION);
    c = tp_client_ctx(TLS1_2_VERSION);
    s0 = tp_connect(a, c, NULL, &reused);
    CHECK(s0 != NULL);
    for (i = 0; i < 4; i++) {
        args[i].server = a;
        args[i].sess = s0;
        args[i].stop = &stop;
        args[i].n = args[i].ok = 0;
        CHECK(pthread_create(&th[i], NULL, handshakes, &args[i]) == 0);
    }
    for (i = 0; i < 30; i++) {
        CHECK(tlsr_ring_reload(ring, &err) == 0);
        if (i % 10 == 0)
            CHECK(tlsr_ring_rotate(ring, 0, 1, &err) >= 0);
        usleep(40000);          /* 1.2 s: forced keys start encrypting */
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].n;
        ok += args[i].ok;
    }
    CHECK(total > 0);
    CHECK_EQ_INT(ok, total);
    CHECK_CODE(tlsr_ring_status(ring, &st, 0, &err), 0, &err);
    CHECK(st.decrypted >= (uint64_t)total && st.failures == 0);
    CHECK(st.renewed > 0);      /* some resumed after a rotation */
    SSL_SESSION_free(s0);
    SSL_CTX_free(a);
    SSL_CTX_free(c);
    tlsr_ring_free(ring);
    rmtree(base);
}

TESTS(T(test_init_roles), T(test_bad_options), T(test_shared_tls12),
      T(test_shared_tls13), T(test_decrypt_aes256), T(test_decrypt_aes128),
      T(test_rotation_keep), T(test_reload_failure_keeps_keys),
      T(test_concurrent_rotate_converges), T(test_kill9_during_rotate),
      T(test_errors), T(test_export), T(test_session_id_context),
      T(test_threads_while_rotating))
