/*
 * Cross-process store tests, with real processes on one store directory.
 *
 *   store_torture concurrency DIR   putters, takers, getters and a pruner:
 *       no TLS 1.3 ticket is handed out twice, no read is corrupt, no
 *       completed put is lost.
 *   store_torture kill9 DIR         writers (and takers) SIGKILLed at random
 *       mid-write while a reader checks every session it is served; prune
 *       then clears what the dead left behind.
 *
 * Every session served is checked against the pool it came from (id and
 * master key), so a torn or mixed-up entry cannot pass.  Exit 0 on success.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "tls_pair.h"
#include "tlsresume.h"

static const uint8_t SEAL_KEY[32] = "torture torture torture torture";

struct pooled {
    SSL_SESSION *sess;
    char id[65];
    uint8_t mk[64];
    size_t mk_len;
};

static struct pooled *pool;
static int npool;

static void hexid(const SSL_SESSION *s, char out[65])
{
    unsigned int len, i;
    const unsigned char *id = SSL_SESSION_get_id(s, &len);

    for (i = 0; i < len && i < 32; i++)
        sprintf(out + 2 * i, "%02x", id[i]);
    out[2 * i] = '\0';
}

static int make_pool(int n13, int n12)
{
    SSL_CTX *s13 = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    SSL_CTX *s12 = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *c13 = tp_client_ctx(TLS1_3_VERSION);
    SSL_CTX *c12 = tp_client_ctx(TLS1_2_VERSION);
    int i, reused;

    pool = calloc((size_t)(n13 + n12), sizeof(*pool));
    if (!pool || !s13 || !s12 || !c13 || !c12)
        return -1;
    for (i = 0; i < n13 + n12; i++) {
        SSL_SESSION *s = i < n13 ? tp_connect(s13, c13, NULL, &reused)
                                 : tp_connect(s12, c12, NULL, &reused);

        if (s == NULL)
            return -1;
        pool[i].sess = s;
        hexid(s, pool[i].id);
        pool[i].mk_len = SSL_SESSION_get_master_key(s, pool[i].mk,
                                                    sizeof(pool[i].mk));
    }
    npool = n13 + n12;
    SSL_CTX_free(s13);
    SSL_CTX_free(s12);
    SSL_CTX_free(c13);
    SSL_CTX_free(c12);
    return 0;
}

/* The pool index of a served session, -1 if it matches none (corrupt). */
static int pool_index(const SSL_SESSION *s)
{
    char id[65];
    uint8_t mk[64];
    size_t mk_len = SSL_SESSION_get_master_key(s, mk, sizeof(mk));
    int i;

    hexid(s, id);
    for (i = 0; i < npool; i++)
        if (strcmp(id, pool[i].id) == 0)
            return mk_len == pool[i].mk_len
                   && memcmp(mk, pool[i].mk, mk_len) == 0 ? i : -1;
    return -1;
}

static struct tlsr_store *open_store(const char *dir, int sealed,
                                     uint32_t max_tickets)
{
    struct tlsr_store_options o;
    struct tlsr_error err;
    struct tlsr_store *st;

    tlsr_store_options_init(&o);
    o.max_tickets = max_tickets;
    o.max_entries = 1000000;
    if (sealed) {
        o.seal_key = SEAL_KEY;
        o.seal_key_len = 32;
    }
    st = tlsr_store_open(dir, &o, &err);
    if (st == NULL)
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
    return st;
}

static void logf_line(int fd, char tag, const char *id)
{
    char line[80];
    int n = snprintf(line, sizeof(line), "%c %s\n", tag, id);

    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* ---- concurrency ------------------------------------------------------- */

enum { PUTTERS = 4, TAKERS = 4, GETTERS = 2, PRUNERS = 1, N13 = 400,
       N12 = 8 };

static void putter(struct tlsr_store *st, int w, int logfd)
{
    struct tlsr_error err;
    int i;

    for (i = w; i < N13; i += PUTTERS) {
        if (tlsr_store_put(st, "shared.example", 443, "ctx", pool[i].sess,
                           &err) != 0) {
            logf_line(logfd, 'E', err.msg);
            continue;
        }
        logf_line(logfd, 'P', pool[i].id);
        if (i % 7 == 0) {
            int j = N13 + (i / 7) % N12;

            if (tlsr_store_put(st, "tls12.example", 443, NULL, pool[j].sess,
                               &err) != 0)
                logf_line(logfd, 'E', err.msg);
        }
        usleep((useconds_t)(rand() % 2000));
    }
}

static void taker(struct tlsr_store *st, const char *done, int logfd)
{
    struct tlsr_error err;

    for (;;) {
        SSL_SESSION *s = tlsr_store_take(st, "shared.example", 443, "ctx", NULL, NULL,
                                         &err);
        if (s == NULL) {
            if (err.code != TLSR_ENOTFOUND)
                logf_line(logfd, 'E', err.msg);
            if (exists(done)) {
                /* One last look: the last put may have landed since. */
                s = tlsr_store_take(st, "shared.example", 443, "ctx", NULL, NULL, &err);
                if (s == NULL)
                    return;
            } else {
                usleep(200);
                continue;
            }
        }
        {
            int i = pool_index(s);

            if (i < 0 || i >= N13)
                logf_line(logfd, 'E', "taken session matches no ticket put");
            else
                logf_line(logfd, 'T', pool[i].id);
        }
        SSL_SESSION_free(s);
    }
}

static void getter(struct tlsr_store *st, const char *done, int logfd)
{
    struct tlsr_error err;
    int n = 0;

    while (!exists(done)) {
        int odd = n++ & 1;
        const char *host = odd ? "tls12.example" : "shared.example";
        SSL_SESSION *s = tlsr_store_get(st, host, 443, odd ? NULL : "ctx", NULL, NULL,
                                        &err);

        if (s == NULL) {
            if (err.code != TLSR_ENOTFOUND)
                logf_line(logfd, 'E', err.msg);
            usleep(100);
            continue;
        }
        if (pool_index(s) < 0)
            logf_line(logfd, 'E', "served session matches nothing put");
        else
            logf_line(logfd, 'G', "ok");
        SSL_SESSION_free(s);
    }
}

/* Prune races with puts: it removes key directories that look empty. */
static void pruner(struct tlsr_store *st, const char *done, int logfd)
{
    struct tlsr_error err;
    int n = 0;

    while (!exists(done)) {
        int rc = tlsr_store_prune(st, &err);

        /* It may remove a replaced TLS 1.2 session before its put does;
         * a removed ticket would show as a put never taken. */
        if (rc < 0)
            logf_line(logfd, 'E', err.msg);
        n++;
        usleep(1000);
    }
    if (n == 0)
        logf_line(logfd, 'E', "pruner never ran");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int concurrency(const char *dir)
{
    char logdir[512], done[600], path[700], line[200];
    char *puts_[N13], *takes[N13 * 2];
    int nputs = 0, ntakes = 0, ngets = 0, errors = 0, i, status, nprocs;
    pid_t pids[PUTTERS + TAKERS + GETTERS + PRUNERS];
    struct tlsr_store *shared;
    struct tlsr_error err;
    FILE *f;

    if (make_pool(N13, N12) != 0)
        return 2;
    snprintf(logdir, sizeof(logdir), "%s.logs", dir);
    mkdir(logdir, 0700);
    snprintf(done, sizeof(done), "%s/done", logdir);
    /* Opened before fork, as a prefork server's workers inherit it. */
    shared = open_store(dir, 0, 100000);
    if (shared == NULL)
        return 2;
    nprocs = PUTTERS + TAKERS + GETTERS + PRUNERS;
    for (i = 0; i < nprocs; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct tlsr_store *st = (i % 2) ? open_store(dir, 0, 100000)
                                            : shared;
            int logfd;

            snprintf(path, sizeof(path), "%s/log.%d", logdir, i);
            logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
            srand((unsigned)getpid());
            if (st == NULL || logfd < 0)
                _exit(2);
            if (i < PUTTERS)
                putter(st, i, logfd);
            else if (i < PUTTERS + TAKERS)
                taker(st, done, logfd);
            else if (i < PUTTERS + TAKERS + GETTERS)
                getter(st, done, logfd);
            else
                pruner(st, done, logfd);
            close(logfd);
            _exit(0);
        }
    }
    for (i = 0; i < PUTTERS; i++)
        waitpid(pids[i], &status, 0);
    close(open(done, O_CREAT | O_WRONLY, 0600));
    for (i = PUTTERS; i < nprocs; i++) {
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %d failed (status %d)\n", i, status);
            errors++;
        }
    }
    for (i = 0; i < nprocs; i++) {
        snprintf(path, sizeof(path), "%s/log.%d", logdir, i);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof(line), f) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            if (line[0] == 'P' && nputs < N13)
                puts_[nputs++] = strdup(line + 2);
            else if (line[0] == 'T' && ntakes < N13 * 2)
                takes[ntakes++] = strdup(line + 2);
            else if (line[0] == 'G')
                ngets++;
            else if (line[0] == 'E') {
                fprintf(stderr, "worker %d: %s\n", i, line + 2);
                errors++;
            }
        }
        fclose(f);
    }
    qsort(puts_, (size_t)nputs, sizeof(char *), cmp_str);
    qsort(takes, (size_t)ntakes, sizeof(char *), cmp_str);
    for (i = 1; i < ntakes; i++)
        if (strcmp(takes[i - 1], takes[i]) == 0) {
            fprintf(stderr, "ticket %.16s... handed out twice\n", takes[i]);
            errors++;
        }
    /* The takers drained the store: every completed put was taken once. */
    if (nputs != N13 || ntakes != nputs) {
        fprintf(stderr, "%d puts completed, %d taken\n", nputs, ntakes);
        errors++;
    }
    for (i = 0; i < nputs && i < ntakes; i++)
        if (strcmp(puts_[i], takes[i]) != 0) {
            fprintf(stderr, "put and taken sets differ\n");
            errors++;
            break;
        }
    if (tlsr_store_count(shared, &err) != 1) {   /* the TLS 1.2 session */
        fprintf(stderr, "%d entries left, expected 1\n",
                tlsr_store_count(shared, &err));
        errors++;
    }
    printf("concurrency: %d processes, %d puts, %d takes (each once), "
           "%d gets checked, %d errors\n", nprocs, nputs, ntakes, ngets,
           errors);
    for (i = 0; i < nputs; i++)
        free(puts_[i]);
    for (i = 0; i < ntakes; i++)
        free(takes[i]);
    tlsr_store_free(shared);
    return errors == 0 ? 0 : 1;
}

/* ---- kill -9 ----------------------------------------------------------- */

enum { K13 = 24, K12 = 8, KEYS = 6, ROUNDS = 150 };

static void writer_loop(const char *dir, const char *sdir)
{
    struct tlsr_store *st[2] = { open_store(dir, 0, 4),
                                 open_store(sdir, 1, 4) };
    struct tlsr_error err;
    char host[32];
    unsigned n = 0;

    if (!st[0] || !st[1])
        _exit(2);
    srand((unsigned)getpid());
    for (;; n++) {
        int i = rand() % npool, k = rand() % KEYS;
        struct tlsr_store *s = st[n & 1];

        snprintf(host, sizeof(host), "k%d.example", k);
        if (rand() % 4 == 0) {
            SSL_SESSION_free(tlsr_store_take(s, host, 443, NULL, NULL, NULL, &err));
            continue;
        }
        tlsr_store_put(s, host, 443, NULL, pool[i].sess, &err);
    }
}

static int reader_loop(const char *dir, const char *sdir, const char *done)
{
    struct tlsr_store *st[2] = { open_store(dir, 0, 4),
                                 open_store(sdir, 1, 4) };
    struct tlsr_error err;
    char host[32];
    unsigned n = 0, served = 0, bad = 0;

    if (!st[0] || !st[1])
        return 2;
    while (!exists(done)) {
        int k = (int)(n % KEYS);
        SSL_SESSION *s;

        snprintf(host, sizeof(host), "k%d.example", k);
        s = (n % 3 == 0) ? tlsr_store_take(st[n & 1], host, 443, NULL, NULL, NULL, &err)
                         : tlsr_store_get(st[n & 1], host, 443, NULL, NULL, NULL, &err);
        n++;
        if (s == NULL) {
            if (err.code != TLSR_ENOTFOUND) {
                fprintf(stderr, "reader: %s (%s)\n", err.msg,
                        tlsr_error_name(err.code));
                bad++;
            }
            continue;
        }
        served++;
        if (pool_index(s) < 0) {
            fprintf(stderr, "reader: served a session nobody put\n");
            bad++;
        }
        SSL_SESSION_free(s);
    }
    printf("kill9: reader was served %u sessions, %u bad\n", served, bad);
    fflush(stdout);
    tlsr_store_free(st[0]);
    tlsr_store_free(st[1]);
    return bad == 0 && served > 0 ? 0 : 1;
}

static int count_inflight(const char *dir)
{
    char cmd[700];
    int n = -1;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "find %s -name '.tmp-*' -o -name '.claim-*' "
             "| wc -l", dir);
    f = popen(cmd, "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

static int check_all_entries(const char *dir, int sealed)
{
    struct tlsr_store *st = open_store(dir, sealed, 4);
    struct tlsr_store_iter *it;
    struct tlsr_store_entry e;
    struct tlsr_error err;
    int rc, n = 0, bad = 0;

    if (st == NULL || (it = tlsr_store_iter_new(st, &err)) == NULL)
        return -1;
    while ((rc = tlsr_store_iter_next(it, &e, &err)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "entry unreadable after kills: %s\n", err.msg);
            bad++;
        } else {
            n++;
        }
    }
    tlsr_store_iter_free(it);
    tlsr_store_free(st);
    printf("kill9: %s store: %d entries left, all readable: %s\n",
           sealed ? "sealed" : "plain", n, bad ? "no" : "yes");
    return bad;
}

static int kill9(const char *dir)
{
    char sdir[600], done[600];
    struct tlsr_store *st;
    struct tlsr_error err;
    pid_t reader, w;
    int i, status, rstatus, left, after, errors = 0, pruned;

    if (make_pool(K13, K12) != 0)
        return 2;
    snprintf(sdir, sizeof(sdir), "%s.sealed", dir);
    snprintf(done, sizeof(done), "%s.done", dir);
    unlink(done);
    /* Create both stores before anyone races to. */
    tlsr_store_free(open_store(dir, 0, 4));
    tlsr_store_free(open_store(sdir, 1, 4));
    reader = fork();
    if (reader == 0)
        _exit(reader_loop(dir, sdir, done));
    srand((unsigned)time(NULL));
    for (i = 0; i < ROUNDS; i++) {
        w = fork();
        if (w == 0) {
            writer_loop(dir, sdir);
            _exit(0);
        }
        usleep((useconds_t)(1000 + rand() % 6000));
        kill(w, SIGKILL);
        waitpid(w, &status, 0);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "writer exited by itself (status %d)\n", status);
            errors++;
        }
    }
    close(open(done, O_CREAT | O_WRONLY, 0600));
    waitpid(reader, &rstatus, 0);
    if (!WIFEXITED(rstatus) || WEXITSTATUS(rstatus) != 0)
        errors++;
    left = count_inflight(dir) + count_inflight(sdir);
    st = open_store(dir, 0, 4);
    pruned = st ? tlsr_store_prune(st, &err) : -1;
    tlsr_store_free(st);
    st = open_store(sdir, 1, 4);
    pruned += st ? tlsr_store_prune(st, &err) : -1;
    tlsr_store_free(st);
    after = count_inflight(dir) + count_inflight(sdir);
    printf("kill9: %d writers killed; %d temp/claim files left by them, "
           "%d after prune (%d entries pruned)\n", ROUNDS, left, after,
           pruned);
    if (after != 0)
        errors++;
    errors += check_all_entries(dir, 0) != 0;
    errors += check_all_entries(sdir, 1) != 0;
    unlink(done);
    return errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "concurrency") == 0)
        return concurrency(argv[2]);
    if (argc == 3 && strcmp(argv[1], "kill9") == 0)
        return kill9(argv[2]);
    fprintf(stderr, "usage: store_torture concurrency|kill9 DIR\n");
    return 2;
}
