/*
 * The ticket key ring's cost per resumed handshake next to OpenSSL's
 * built-in ticket keys, in one run: in-memory TLS handshakes (tests/c/
 * tls_pair.h, client and server in this process) resuming a ticket, the
 * server context either left with OpenSSL's own keys or given a ring
 * (tlsr_ring_attach_ctx).  Repetitions of the two are interleaved; the best
 * repetition counts (CPU time).  The ratio covers the whole handshake
 * (client + server); "extra" is the difference per handshake, i.e. what
 * the callback (time check, key lookup, cipher/MAC set-up) adds.
 * Figures only: nothing here passes or fails.
 *
 *   ring_bench [-t seconds_per_rep] [-r repetitions]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsresume.h"
#include "tls_pair.h"

static double cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct side {
    const char *name;
    SSL_CTX *server, *client;
    SSL_SESSION *sess;
    double best;            /* ns per resumed handshake */
};

/* n resumed handshakes, each offering the session the previous one left
 * (TLS 1.3 tickets are single use); ns per handshake in *ns. */
static int run(struct side *s, long n, double *ns)
{
    double t0 = cpu_ns();
    long i;
    int reused;

    for (i = 0; i < n; i++) {
        SSL_SESSION *next = tp_connect(s->server, s->client, s->sess,
                                       &reused);

        if (next == NULL || !reused) {
            SSL_SESSION_free(next);
            return -1;
        }
        SSL_SESSION_free(s->sess);
        s->sess = next;
    }
    *ns = (cpu_ns() - t0) / (double)n;
    return 0;
}

static int setup(struct side *s, const char *name, int version,
                 struct tlsr_ring *ring)
{
    struct tlsr_error err;
    int reused;

    memset(s, 0, sizeof(*s));
    s->name = name;
    s->server = tp_server_ctx(TP_RSA, version);
    s->client = tp_client_ctx(version);
    if (s->server == NULL || s->client == NULL)
        return -1;
    if (ring != NULL && tlsr_ring_attach_ctx(ring, s->server, NULL, &err)
        != 0) {
        fprintf(stderr, "attach: %s\n", err.msg);
        return -1;
    }
    s->sess = tp_connect(s->server, s->client, NULL, &reused);
    s->best = 1e30;
    return s->sess != NULL ? 0 : -1;
}

static void teardown(struct side *s)
{
    SSL_SESSION_free(s->sess);
    SSL_CTX_free(s->server);
    SSL_CTX_free(s->client);
}

static int bench(int version, const char *label, struct tlsr_ring *ring,
                 double secs, int reps)
{
    struct side sides[2];
    double ns;
    long n = 50;
    int r, i;

    if (setup(&sides[0], "OpenSSL built-in keys", version, NULL) != 0
        || setup(&sides[1], "tlsresume ring", version, ring) != 0)
        return -1;
    /* calibrate on the built-in side */
    if (run(&sides[0], n, &ns) != 0)
        return -1;
    n = (long)(secs * 1e9 / ns);
    if (n < 50)
        n = 50;
    for (r = 0; r < reps; r++)
        for (i = 0; i < 2; i++) {
            if (run(&sides[(i + r) % 2], n, &ns) != 0) {
                fprintf(stderr, "%s: a handshake did not resume\n",
                        sides[(i + r) % 2].name);
                return -1;
            }
            if (ns < sides[(i + r) % 2].best)
                sides[(i + r) % 2].best = ns;
        }
    printf("%s resumed handshake (client+server CPU, best of %d x %ld):\n",
           label, reps, n);
    for (i = 0; i < 2; i++)
        printf("  %-24s %8.1f us\n", sides[i].name, sides[i].best / 1e3);
    printf("  ratio ring/built-in      %8.3f   (goal <= 1.05)\n",
           sides[1].best / sides[0].best);
    printf("  extra per handshake      %8.2f us\n",
           (sides[1].best - sides[0].best) / 1e3);
    teardown(&sides[0]);
    teardown(&sides[1]);
    return 0;
}

int main(int argc, char **argv)
{
    struct tlsr_ring_options o;
    struct tlsr_error err;
    struct tlsr_ring *ring;
    char dir[] = "/tmp/tlsr-ring-bench-XXXXXX", path[64], cmd[96];
    double secs = 0.5;
    int reps = 5, c, rc = 0;

    while ((c = getopt(argc, argv, "t:r:")) != -1) {
        if (c == 't')
            secs = atof(optarg);
        else if (c == 'r')
            reps = atoi(optarg);
        else {
            fprintf(stderr, "usage: ring_bench [-t secs] [-r reps]\n");
            return 2;
        }
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/ring", dir);
    tlsr_ring_options_init(&o);
    if (tlsr_ring_init(path, &o, &err) != 0
        || (ring = tlsr_ring_open(path, &err)) == NULL) {
        fprintf(stderr, "ring: %s\n", err.msg);
        return 1;
    }
    printf("ring_bench: %s, RSA-2048 server, in-memory pairs\n",
           OpenSSL_version(OPENSSL_VERSION));
    if (bench(TLS1_2_VERSION, "TLS 1.2", ring, secs, reps) != 0
        || bench(TLS1_3_VERSION, "TLS 1.3", ring, secs, reps) != 0)
        rc = 1;
    tlsr_ring_free(ring);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
