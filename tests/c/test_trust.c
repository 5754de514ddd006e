/*
 * The trust rule (csrc/trust.c): a session is offered only to a policy
 * that verifies no more than what verified it.  Regressions of issue 8,
 * finding 1: a session made without verification, or under other trust
 * anchors or without the host name check, was resumed by a verifying
 * context.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "harness.h"
#include "tls_pair.h"
#include "tlsresume.h"

static char dir[] = "/tmp/tlsr-trust-XXXXXX";

static struct tlsr_store *new_store(const uint8_t *seal_key)
{
    struct tlsr_store_options o;
    char path[128];

    tlsr_store_options_init(&o);
    o.seal_key = seal_key;
    o.seal_key_len = seal_key != NULL ? 32 : 0;
    snprintf(path, sizeof(path), "%s/s%d", dir, seal_key != NULL);
    return tlsr_store_open(path, &o, NULL);
}

/* A client context that verifies the server against trust (or nothing
 * when trust is NULL), checking host if not NULL. */
static SSL_CTX *verifying(int version, X509 *trust, const char *host)
{
    SSL_CTX *c = tp_client_ctx(version);

    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (trust != NULL)
        X509_STORE_add_cert(SSL_CTX_get_cert_store(c), trust);
    if (host != NULL)
        X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(c), host, 0);
    return c;
}

/* One connection through SSL_get1_session's capture path, as bindings
 * that hold an SSL* (LuaSec) use it. */
static SSL_SESSION *connect_captured(SSL_CTX *server, SSL_CTX *client)
{
    SSL_SESSION *s = tp_connect(server, client, NULL, NULL), *dup;
    struct tlsr_trust made;

    /* tp_connect's SSL is gone: rebuild the record from the session, as
     * tlsr_trust_from_ssl would have during the connection. */
    if (s == NULL)
        return NULL;
    dup = SSL_SESSION_dup(s);
    if (tlsr_trust_from_session(s, client,
                                X509_VERIFY_PARAM_get0_host(
                                    SSL_CTX_get0_param(client), 0),
                                &made, NULL) != 0
        || tlsr_session_set1_trust(dup, &made, NULL) != 0) {
        SSL_SESSION_free(dup);
        dup = NULL;
    }
    SSL_SESSION_free(s);
    return dup;
}

static int policy_allows(SSL_CTX *ctx, const char *host, SSL_SESSION *s)
{
    struct tlsr_trust made, policy;

    if (tlsr_trust_policy_ctx(ctx, host, &policy, NULL) != 0
        || tlsr_session_get_trust(s, &made, NULL) != 0)
        return -1;
    return tlsr_trust_check(&made, &policy, ctx, NULL) == 0;
}

static void regression_unverified_session_not_resumed_by_verifying_ctx(void)
{
    SSL_CTX *srv = tp_server_ctx(TP_RSA, TLS1_3_VERSION);
    X509 *cert = SSL_CTX_get0_certificate(srv);
    SSL_CTX *insecure = tp_client_ctx(TLS1_3_VERSION);
    SSL_CTX *secure = verifying(TLS1_3_VERSION, cert, "localhost");
    struct tlsr_store *st = new_store(NULL);
    struct tlsr_trust policy, made;
    struct tlsr_error err;
    SSL_SESSION *s, *got;

    CHECK(srv != NULL && st != NULL);
    s = connect_captured(srv, insecure);
    CHECK(s != NULL);
    CHECK_CODE(tlsr_session_get_trust(s, &made, &err), 0, &err);
    CHECK_EQ_INT(made.verify, 0);
    CHECK_CODE(tlsr_store_put(st, "localhost", 443, NULL, s, &err), 0, &err);
    CHECK_CODE(tlsr_trust_policy_ctx(secure, "localhost", &policy, &err), 0,
               &err);
    got = tlsr_store_take(st, "localhost", 443, NULL, &policy, secure, &err);
    CHECK(got == NULL);
    CHECK_EQ_INT(err.code, TLSR_ETRUST);
    /* Refused, not consumed: the insecure context still gets it. */
    CHECK_CODE(tlsr_trust_policy_ctx(insecure, NULL, &policy, &err), 0, &err);
    got = tlsr_store_take(st, "localhost", 443, NULL, &policy, insecure,
                          &err);
    CHECK(got != NULL);
    SSL_SESSION_free(got);
    SSL_SESSION_free(s);
    tlsr_store_free(st);
    SSL_CTX_free(secure);
    SSL_CTX_free(insecure);
    SSL_CTX_free(srv);
}

static void regression_session_of_one_private_ca_not_resumed_under_another(void)
{
    SSL_CTX *srv = tp_server_ctx(TP_RSA, TLS1_2_VERSION);
    SSL_CTX *other = tp_server_ctx(TP_EC, TLS1_2_VERSION);
    SSL_CTX *pinned = verifying(TLS1_2_VERSION,
                                SSL_CTX_get0_certificate(srv), "localhost");
    SSL_CTX *elsewhere = verifying(TLS1_2_VERSION,
                                   SSL_CTX_get0_certificate(other),
                                   "localhost");
    SSL_CTX *both = verifying(TLS1_2_VERSION, SSL_CTX_get0_certificate(other),
                              "localhost");
    SSL_SESSION *s;

    X509_STORE_add_cert(SSL_CTX_get_cert_store(both),
                        SSL_CTX_get0_certificate(srv));
    s = connect_captured(srv, pinned);
    CHECK(s != NULL);
    CHECK_EQ_INT(policy_allows(pinned, "localhost", s), 1);
    CHECK_EQ_INT(policy_allows(elsewhere, "localhost", s), 0);
    CHECK_EQ_INT(policy_allows(both, "localhost", s), 1);
    SSL_SESSION_free(s);
    SSL_CTX_free(both);
    SSL_CTX_free(elsewhere);
    SSL_CTX_free(pinned);
    SSL_CTX_free(other);
    SSL_CTX_free(srv);
}

static void regression_session_without_host_check_not_resumed_with_one(void)
{
    SSL_CTX *srv = tp_server_ctx(TP_RSA, TLS1_3_VERSION);
    X509 *cert = SSL_CTX_get0_certificate(srv);
    SSL_CTX *nohost = verifying(TLS1_3_VERSION, cert, NULL);
    SSL_CTX *host = verifying(TLS1_3_VERSION, cert, "localhost");
    SSL_SESSION *a, *b;

    a = connect_captured(srv, nohost);
    b = connect_captured(srv, host);
    CHECK(a != NULL && b != NULL);
    CHECK_EQ_INT(policy_allows(host, "localhost", a), 0);
    CHECK_EQ_INT(policy_allows(nohost, NULL, a), 1);
    CHECK_EQ_INT(policy_allows(host, "localhost", b), 1);
    CHECK_EQ_INT(policy_allows(host, "LOCALHOST", b), 1);
    CHECK_EQ_INT(policy_allows(host, "example.com", b), 0);
    CHECK_EQ_INT(policy_allows(nohost, NULL, b), 1);    /* weaker: fine */
    SSL_SESSION_free(a);
    SSL_SESSION_free(b);
    SSL_CTX_free(host);
    SSL_CTX_free(nohost);
    SSL_CTX_free(srv);
}

static void other_verify_flags_never_mix(void)
{
    SSL_CTX *srv = tp_server_ctx(TP_EC, TLS1_3_VERSION);
    X509 *cert = SSL_CTX_get0_certificate(srv);
    SSL_CTX *a = verifying(TLS1_3_VERSION, cert, "localhost");
    SSL_CTX *b = verifying(TLS1_3_VERSION, cert, "localhost");
    SSL_SESSION *s;

    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(b), X509_V_FLAG_X509_STRICT);
    s = connect_captured(srv, a);
    CHECK(s != NULL);
    CHECK_EQ_INT(policy_allows(a, "localhost", s), 1);
    CHECK_EQ_INT(policy_allows(b, "localhost", s), 0);
    SSL_SESSION_free(s);
    SSL_CTX_free(b);
    SSL_CTX_free(a);
    SSL_CTX_free(srv);
}

/* The record goes through put and take, sealed or not, and through the
 * store's decoded-session cache. */
static void record_survives_the_store_sealed_and_cached(void)
{
    static const uint8_t key[32] = { 7 };
    SSL_CTX *srv = tp_server_ctx(TP_RSA, TLS1_2_VERSION);
    X509 *cert = SSL_CTX_get0_certificate(srv);
    SSL_CTX *c = verifying(TLS1_2_VERSION, cert, "localhost");
    struct tlsr_trust policy, in, out;
    struct tlsr_error err;
    SSL_SESSION *s = connect_captured(srv, c), *got;
    int sealed, i;

    CHECK(s != NULL);
    CHECK_CODE(tlsr_session_get_trust(s, &in, &err), 0, &err);
    CHECK_EQ_INT(in.verify, 1);
    CHECK_CODE(tlsr_trust_policy_ctx(c, "localhost", &policy, &err), 0, &err);
    for (sealed = 0; sealed < 2; sealed++) {
        struct tlsr_store *st = new_store(sealed ? key : NULL);

        CHECK(st != NULL);
        CHECK_CODE(tlsr_store_put(st, "localhost", 443, NULL, s, &err), 0,
                   &err);
        for (i = 0; i < 2; i++) {       /* the second get is cached */
            got = tlsr_store_get(st, "localhost", 443, NULL, &policy, c,
                                 &err);
            CHECK(got != NULL);
            if (got == NULL)
                break;
            CHECK_CODE(tlsr_session_get_trust(got, &out, &err), 0, &err);
            CHECK(memcmp(&in, &out, sizeof(in)) == 0);
            SSL_SESSION_free(got);
        }
        tlsr_store_free(st);
    }
    SSL_SESSION_free(s);
    SSL_CTX_free(c);
    SSL_CTX_free(srv);
}

/* A TLS 1.3 resumption is not verified again: its new tickets inherit the
 * record of the session it resumed, through OpenSSL's own session dup. */
static void resumed_connection_inherits_the_record(void)
{
    SSL_CTX *srv = tp_server_ctx(TP_RSA, TLS1_3_VERSION);
    SSL_CTX *c = verifying(TLS1_3_VERSION, SSL_CTX_get0_certificate(srv),
                           "localhost");
    SSL_SESSION *s = connect_captured(srv, c), *next;
    struct tlsr_trust made;
    int reused = 0;

    CHECK(s != NULL);
    next = tp_connect(srv, c, s, &reused);
    CHECK(next != NULL && reused == 1);
    CHECK(tlsr_session_get_trust(next, &made, NULL) == 0);
    CHECK_EQ_INT(made.verify, 1);
    SSL_SESSION_free(next);
    SSL_SESSION_free(s);
    SSL_CTX_free(c);
    SSL_CTX_free(srv);
}

static void set_session_refuses_what_the_connection_would_not_verify(void)
{
    SSL_CTX *srv = tp_server_ctx(TP_RSA, TLS1_2_VERSION);
    SSL_CTX *insecure = tp_client_ctx(TLS1_2_VERSION);
    SSL_CTX *secure = verifying(TLS1_2_VERSION, SSL_CTX_get0_certificate(srv),
                                "localhost");
    SSL_SESSION *bad = connect_captured(srv, insecure);
    SSL_SESSION *good = connect_captured(srv, secure);
    SSL_SESSION *plain = tp_connect(srv, insecure, NULL, NULL);
    struct tlsr_error err;
    SSL *ssl = SSL_new(secure), *loose = SSL_new(insecure);

    CHECK(bad != NULL && good != NULL && plain != NULL && ssl != NULL);
    SSL_set_connect_state(ssl);
    SSL_set_connect_state(loose);
    CHECK_CODE(tlsr_ssl_set_session(ssl, bad, &err), TLSR_ETRUST, &err);
    /* Record-less bytes (a file): judged by their own verify result. */
    CHECK_CODE(tlsr_ssl_set_session(ssl, plain, &err), TLSR_ETRUST, &err);
    CHECK_CODE(tlsr_ssl_set_session(ssl, good, &err), 0, &err);
    CHECK_CODE(tlsr_ssl_set_session(loose, bad, &err), 0, &err);
    SSL_free(loose);
    SSL_free(ssl);
    SSL_SESSION_free(plain);
    SSL_SESSION_free(good);
    SSL_SESSION_free(bad);
    SSL_CTX_free(secure);
    SSL_CTX_free(insecure);
    SSL_CTX_free(srv);
}

static void labels_match_only_their_own(void)
{
    struct tlsr_trust made, policy;
    struct tlsr_error err;

    memset(&made, 0, sizeof(made));
    memset(&policy, 0, sizeof(policy));
    made.verify = policy.verify = 1;
    CHECK_CODE(tlsr_trust_set_label(&made, "ca-a", &err), 0, &err);
    CHECK_CODE(tlsr_trust_set_label(&policy, "ca-a", &err), 0, &err);
    CHECK_CODE(tlsr_trust_check(&made, &policy, NULL, &err), 0, &err);
    CHECK_CODE(tlsr_trust_set_label(&policy, "ca-b", &err), 0, &err);
    CHECK_CODE(tlsr_trust_check(&made, &policy, NULL, &err), TLSR_ETRUST,
               &err);
    CHECK_CODE(tlsr_trust_check(NULL, &policy, NULL, &err), TLSR_ETRUST,
               &err);
    policy.verify = 0;
    CHECK_CODE(tlsr_trust_check(NULL, &policy, NULL, &err), 0, &err);
}

static void setup(void)
{
    if (mkdtemp(dir) == NULL)
        abort();
}

static void cleanup(void)
{
    char cmd[160];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        abort();
}

static void run_setup(void) { setup(); }
static void run_cleanup(void) { cleanup(); }

TESTS(T(run_setup),
      T(regression_unverified_session_not_resumed_by_verifying_ctx),
      T(regression_session_of_one_private_ca_not_resumed_under_another),
      T(regression_session_without_host_check_not_resumed_with_one),
      T(other_verify_flags_never_mix),
      T(record_survives_the_store_sealed_and_cached),
      T(resumed_connection_inherits_the_record),
      T(set_session_refuses_what_the_connection_would_not_verify),
      T(labels_match_only_their_own),
      T(run_cleanup))
