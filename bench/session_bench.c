/*
 * Cost of tlsresume's session calls next to the raw OpenSSL calls they wrap,
 * measured in one run on real sessions (in-memory TLS 1.2 and 1.3
 * handshakes against an RSA-2048 server, tests/c/tls_pair.h).
 *
 * Each operation runs for repetitions of about -t seconds (calibrated); the
 * repetitions of all operations are interleaved so that noise from other
 * processes hits raw and core alike, and the best repetition counts.  Both
 * wall (CLOCK_MONOTONIC) and process CPU time are reported; ratios are core
 * over raw on CPU time.  Figures only: nothing here passes or fails.
 *
 *   session_bench [-t seconds_per_rep] [-r repetitions] [-v 1.2|1.3]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tlsresume.h"
#include "tls_pair.h"

enum { BUF_SIZE = 16384, MAX_OPS = 16 };

/* What every operation works on; fixed before timing starts. */
struct input {
    SSL_SESSION *sess;
    unsigned char der[BUF_SIZE], pem[BUF_SIZE], lean[BUF_SIZE];
    size_t der_len, pem_len, lean_len;
    unsigned char out[BUF_SIZE];    /* scratch output of serializers */
    SSL_CTX *verifier;              /* system CAs + the server's cert */
    struct tlsr_trust made, policy; /* for the trust rule's check */
};

typedef int (*op_fn)(struct input *in);  /* 0: done, -1: failed */

struct op {
    const char *name;
    op_fn fn;
    int raw_of;         /* index of the raw op this one is compared to, -1 */
    const char *note;   /* NULL: the 5 % overhead target applies */
    size_t *size;       /* bytes the op produces or consumes, or NULL */
    long iters;         /* per repetition, from calibration */
    double best_wall, best_cpu;     /* ns per op */
    int failed;
};

static double now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- raw OpenSSL ------------------------------------------------------- */

static int raw_i2d(struct input *in)
{
    int n = i2d_SSL_SESSION(in->sess, NULL);
    unsigned char *p = in->out;

    if (n <= 0 || n > BUF_SIZE)
        return -1;
    return i2d_SSL_SESSION(in->sess, &p) == n ? 0 : -1;
}

/* What a caller without tlsresume writes for PEM into its own buffer. */
static int raw_pem_write(struct input *in)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    int rc = -1;

    if (bio != NULL && PEM_write_bio_SSL_SESSION(bio, in->sess) == 1) {
        n = BIO_get_mem_data(bio, &data);
        if (n > 0 && n <= BUF_SIZE) {
            memcpy(in->out, data, (size_t)n);
            rc = 0;
        }
    }
    BIO_free(bio);
    return rc;
}

static int raw_d2i_bytes(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)len);

    if (s == NULL)
        return -1;
    SSL_SESSION_free(s);
    return 0;
}

static int raw_d2i(struct input *in)
{
    return raw_d2i_bytes(in->der, in->der_len);
}

static int raw_d2i_lean(struct input *in)
{
    return raw_d2i_bytes(in->lean, in->lean_len);
}

static int raw_pem_read(struct input *in)
{
    BIO *bio = BIO_new_mem_buf(in->pem, (int)in->pem_len);
    SSL_SESSION *s = bio != NULL
        ? PEM_read_bio_SSL_SESSION(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    if (s == NULL)
        return -1;
    SSL_SESSION_free(s);
    return 0;
}

/* ---- tlsresume --------------------------------------------------------- */

static int core_serialize(struct input *in, int format, unsigned int flags)
{
    size_t len = 0;

    if (tlsr_session_serialize(in->sess, format, flags, NULL, &len, NULL) != 0
        || len > BUF_SIZE)
        return -1;
    return tlsr_session_serialize(in->sess, format, flags, in->out, &len,
                                  NULL) == 0 ? 0 : -1;
}

/* One call into a buffer known to be big enough (no size query). */
static int core_serialize1(struct input *in, int format)
{
    size_t len = BUF_SIZE;

    return tlsr_session_serialize(in->sess, format, 0, in->out, &len,
                                  NULL) == 0 ? 0 : -1;
}

static int core_ser_der(struct input *in)
{
    return core_serialize(in, TLSR_FORMAT_DER, 0);
}

static int core_ser_der1(struct input *in)
{
    return core_serialize1(in, TLSR_FORMAT_DER);
}

static int core_ser_pem(struct input *in)
{
    return core_serialize(in, TLSR_FORMAT_PEM, 0);
}

static int core_ser_pem1(struct input *in)
{
    return core_serialize1(in, TLSR_FORMAT_PEM);
}

static int core_ser_lean(struct input *in)
{
    return core_serialize(in, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN);
}

static int core_parse_bytes(const unsigned char *data, size_t len)
{
    SSL_SESSION *s = tlsr_session_parse(data, len, NULL);

    if (s == NULL)
        return -1;
    tlsr_session_free(s);
    return 0;
}

static int core_parse_der(struct input *in)
{
    return core_parse_bytes(in->der, in->der_len);
}

static int core_parse_pem(struct input *in)
{
    return core_parse_bytes(in->pem, in->pem_len);
}

static int core_parse_lean(struct input *in)
{
    return core_parse_bytes(in->lean, in->lean_len);
}

static int core_inspect(struct input *in)
{
    struct tlsr_session_info info;

    return tlsr_session_inspect(in->sess, 0, &info, NULL) == 0 ? 0 : -1;
}

/* The trust rule on the restore path: one lookup by subject in a store
 * holding the system's CAs (Debian: ~145) and the server's certificate. */
static int core_trust_check(struct input *in)
{
    return tlsr_trust_check(&in->made, &in->policy, in->verifier, NULL) == 0
               ? 0 : -1;
}

static int prepare_trust(struct input *in)
{
    X509 *peer = SSL_SESSION_get0_peer(in->sess);
    unsigned char *p = in->made.anchor_subject;
    unsigned int n = 0;
    int len;

    in->verifier = SSL_CTX_new(TLS_client_method());
    if (in->verifier == NULL || peer == NULL
        || SSL_CTX_set_default_verify_paths(in->verifier) != 1
        || X509_STORE_add_cert(SSL_CTX_get_cert_store(in->verifier), peer) != 1)
        return -1;
    SSL_CTX_set_verify(in->verifier, SSL_VERIFY_PEER, NULL);
    if (tlsr_trust_policy_ctx(in->verifier, "localhost", &in->policy, NULL)
        != 0)
        return -1;
    /* What tlsr_trust_from_ssl records for a verified self-signed peer. */
    in->made = in->policy;
    len = i2d_X509_NAME(X509_get_subject_name(peer), NULL);
    if (len <= 0 || (size_t)len > sizeof(in->made.anchor_subject)
        || i2d_X509_NAME(X509_get_subject_name(peer), &p) != len
        || X509_digest(peer, EVP_sha256(), in->made.anchor, &n) != 1)
        return -1;
    in->made.anchor_subject_len = (uint32_t)len;
    in->made.anchor_kind = TLSR_ANCHOR_CERT;
    return core_trust_check(in);
}

/* ---- timing ------------------------------------------------------------ */

/* Runs op iters times; wall and CPU ns per op.  -1 if the op failed. */
static int run(struct op *op, struct input *in, long iters, double *wall,
               double *cpu)
{
    double w0 = now_ns(CLOCK_MONOTONIC);
    double c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    long i;

    for (i = 0; i < iters; i++)
        if (op->fn(in) != 0)
            return -1;
    *wall = (now_ns(CLOCK_MONOTONIC) - w0) / (double)iters;
    *cpu = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)iters;
    return 0;
}

/* Iterations that take about target_s seconds of CPU time. */
static long calibrate(struct op *op, struct input *in, double target_s)
{
    long iters = 1;
    double wall, cpu;

    for (;;) {
        if (run(op, in, iters, &wall, &cpu) != 0)
            return -1;
        if (cpu * (double)iters >= 0.02e9 || iters >= (1L << 30))
            break;
        iters *= 4;
    }
    iters = (long)(target_s * 1e9 / (cpu > 1.0 ? cpu : 1.0));
    return iters < 1 ? 1 : iters;
}

static void fmt_time(char *buf, size_t n, double ns)
{
    if (ns < 10000.0)
        snprintf(buf, n, "%8.0f ns", ns);
    else
        snprintf(buf, n, "%8.2f us", ns / 1000.0);
}

/* ---- one protocol version ---------------------------------------------- */

static SSL_SESSION *real_session(int version)
{
    SSL_CTX *server = tp_server_ctx(TP_RSA, version);
    SSL_CTX *client = tp_client_ctx(version);
    SSL_SESSION *sess = NULL;
    int reused = 0;

    if (server != NULL && client != NULL)
        sess = tp_connect(server, client, NULL, &reused);
    SSL_CTX_free(server);
    SSL_CTX_free(client);
    return sess;
}

static int prepare(struct input *in, int version)
{
    struct tlsr_error err;
    unsigned char *p = in->der;
    int n;

    in->sess = real_session(version);
    if (in->sess == NULL) {
        fprintf(stderr, "session_bench: handshake failed\n");
        return -1;
    }
    n = i2d_SSL_SESSION(in->sess, NULL);
    if (n <= 0 || n > BUF_SIZE || i2d_SSL_SESSION(in->sess, &p) != n)
        return -1;
    in->der_len = (size_t)n;
    /* The core's encodings are the inputs of its parsers; if the core can't
     * make them yet the parse rows say n/a. */
    in->pem_len = BUF_SIZE;
    if (tlsr_session_serialize(in->sess, TLSR_FORMAT_PEM, 0, in->pem,
                               &in->pem_len, &err) != 0) {
        fprintf(stderr, "session_bench: PEM serialize: %s (%s)\n", err.msg,
                tlsr_error_name(err.code));
        in->pem_len = 0;
    }
    in->lean_len = BUF_SIZE;
    if (tlsr_session_serialize(in->sess, TLSR_FORMAT_DER, TLSR_SERIALIZE_LEAN,
                               in->lean, &in->lean_len, &err) != 0) {
        fprintf(stderr, "session_bench: lean serialize: %s (%s)\n", err.msg,
                tlsr_error_name(err.code));
        in->lean_len = 0;
    }
    return 0;
}

/* Index constants keep raw_of readable. */
enum {
    RAW_I2D, CORE_DER1, CORE_DER, RAW_PEMW, CORE_PEM1, CORE_PEM, CORE_LEAN,
    RAW_D2I, CORE_PDER, RAW_PEMR, CORE_PPEM, RAW_D2IL, CORE_PLEAN,
    CORE_INSPECT, CORE_TRUST, N_OPS
};

#define OP(n, f, raw, note, size) {n, f, raw, note, size, 0, 0, 0, 0}

static void bench_version(int version, double target_s, int reps)
{
    static struct input in;     /* large buffers: not on the stack */
    struct op ops[N_OPS] = {
        [RAW_I2D] = OP("raw i2d_SSL_SESSION (size+fill)", raw_i2d, -1, NULL,
                       &in.der_len),
        [CORE_DER1] = OP("tlsr serialize DER (1 call)", core_ser_der1,
                         RAW_I2D, NULL, &in.der_len),
        [CORE_DER] = OP("tlsr serialize DER (size+fill)", core_ser_der,
                        RAW_I2D, "+1 size query", &in.der_len),
        [RAW_PEMW] = OP("raw PEM_write_bio_SSL_SESSION", raw_pem_write, -1,
                        NULL, &in.pem_len),
        [CORE_PEM1] = OP("tlsr serialize PEM (1 call)", core_ser_pem1,
                         RAW_PEMW, NULL, &in.pem_len),
        [CORE_PEM] = OP("tlsr serialize PEM (size+fill)", core_ser_pem,
                        RAW_PEMW, NULL, &in.pem_len),
        [CORE_LEAN] = OP("tlsr serialize lean DER (size+fill)",
                         core_ser_lean, RAW_I2D, "vs full i2d", &in.lean_len),
        [RAW_D2I] = OP("raw d2i_SSL_SESSION+free", raw_d2i, -1, NULL,
                       &in.der_len),
        [CORE_PDER] = OP("tlsr parse DER+free", core_parse_der, RAW_D2I,
                         NULL, &in.der_len),
        [RAW_PEMR] = OP("raw PEM_read_bio_SSL_SESSION+free", raw_pem_read,
                        -1, NULL, &in.pem_len),
        [CORE_PPEM] = OP("tlsr parse PEM+free", core_parse_pem, RAW_PEMR,
                         NULL, &in.pem_len),
        [RAW_D2IL] = OP("raw d2i_SSL_SESSION+free (lean)", raw_d2i_lean, -1,
                        NULL, &in.lean_len),
        [CORE_PLEAN] = OP("tlsr parse lean DER+free", core_parse_lean,
                          RAW_D2IL, NULL, &in.lean_len),
        [CORE_INSPECT] = OP("tlsr_session_inspect", core_inspect, -1, NULL,
                            NULL),
        [CORE_TRUST] = OP("tlsr_trust_check (system CAs)", core_trust_check,
                          RAW_D2IL, "vs lean d2i", NULL),
    };
    int i, r;

    memset(&in, 0, sizeof(in));
    if (prepare(&in, version) != 0)
        return;
    if (in.pem_len == 0)
        ops[RAW_PEMR].failed = ops[CORE_PPEM].failed = 1;
    if (in.lean_len == 0)
        ops[RAW_D2IL].failed = ops[CORE_PLEAN].failed = 1;
    if (prepare_trust(&in) != 0) {
        fprintf(stderr, "session_bench: trust check setup failed\n");
        ops[CORE_TRUST].failed = 1;
    }

    for (i = 0; i < N_OPS; i++) {
        ops[i].best_wall = ops[i].best_cpu = 1e300;
        if (!ops[i].failed) {
            ops[i].iters = calibrate(&ops[i], &in, target_s);
            ops[i].failed = ops[i].iters < 0;
        }
    }
    /* Interleaved repetitions: noise lands on every op alike. */
    for (r = 0; r < reps; r++) {
        for (i = 0; i < N_OPS; i++) {
            double wall, cpu;

            if (ops[i].failed)
                continue;
            if (run(&ops[i], &in, ops[i].iters, &wall, &cpu) != 0) {
                ops[i].failed = 1;
                continue;
            }
            if (wall < ops[i].best_wall)
                ops[i].best_wall = wall;
            if (cpu < ops[i].best_cpu)
                ops[i].best_cpu = cpu;
        }
    }
    ERR_clear_error();

    printf("\n%s session (RSA-2048 server cert): DER %zu B, PEM %zu B, "
           "lean DER %zu B\n", version == TLS1_3_VERSION ? "TLS 1.3"
           : "TLS 1.2", in.der_len, in.pem_len, in.lean_len);
    printf("%-36s %6s %11s %11s  %-s\n", "operation", "bytes", "wall/op",
           "cpu/op", "core/raw (cpu)");
    for (i = 0; i < N_OPS; i++) {
        const struct op *o = &ops[i];
        char w[32], c[32], ratio[64] = "";

        if (o->failed) {
            printf("%-36s %6s %11s %11s\n", o->name, "-", "n/a", "n/a");
            continue;
        }
        fmt_time(w, sizeof(w), o->best_wall);
        fmt_time(c, sizeof(c), o->best_cpu);
        if (o->raw_of >= 0 && !ops[o->raw_of].failed) {
            double q = o->best_cpu / ops[o->raw_of].best_cpu;

            if (o->note == NULL)
                snprintf(ratio, sizeof(ratio), "%.3f %s", q,
                         q <= 1.05 ? "(within 5%)" : "(OVER 5%)");
            else
                snprintf(ratio, sizeof(ratio), "%.3f %s", q, o->note);
        }
        printf("%-36s %6zu %11s %11s  %s\n", o->name,
               o->size != NULL ? *o->size : 0, w, c, ratio);
    }
    if (!ops[CORE_PLEAN].failed && !ops[CORE_PDER].failed)
        printf("lean parse is %.1fx faster than full parse "
               "(no peer certificate to decode)\n",
               ops[CORE_PDER].best_cpu / ops[CORE_PLEAN].best_cpu);
    SSL_SESSION_free(in.sess);
    SSL_CTX_free(in.verifier);
}

static void usage(void)
{
    fprintf(stderr, "usage: session_bench [-t seconds_per_rep] "
                    "[-r repetitions] [-v 1.2|1.3]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double target_s = 0.3;
    int reps = 5, only = 0, c;

    while ((c = getopt(argc, argv, "t:r:v:")) != -1) {
        switch (c) {
        case 't':
            target_s = atof(optarg);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 'v':
            only = strcmp(optarg, "1.2") == 0 ? TLS1_2_VERSION
                 : strcmp(optarg, "1.3") == 0 ? TLS1_3_VERSION : -1;
            break;
        default:
            usage();
        }
    }
    if (target_s <= 0 || reps < 1 || only < 0)
        usage();
    printf("session_bench: %s, tlsresume %s; best of %d x ~%.2f s "
           "per operation\n", OpenSSL_version(OPENSSL_VERSION),
           tlsr_version(), reps, target_s);
    if (only == 0 || only == TLS1_2_VERSION)
        bench_version(TLS1_2_VERSION, target_s, reps);
    if (only == 0 || only == TLS1_3_VERSION)
        bench_version(TLS1_3_VERSION, target_s, reps);
    return 0;
}
