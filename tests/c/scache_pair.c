/* Helpers for the server session cache's C tests (scache_pair.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scache_pair.h"
#include "tls_pair.h"

SSL_CTX *sc_server(int version, const char *sid)
{
    SSL_CTX *ctx = tp_server_ctx(TP_EC, version);

    if (ctx != NULL) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid,
                                       (unsigned int)strlen(sid));
    }
    return ctx;
}

int sc_share(struct tlsr_server_cache *sc, SSL_CTX *ctx)
{
    struct tlsr_error err;
    int rc;

    if (sc == NULL)
        return -1;
    rc = tlsr_server_cache_ctx(sc, ctx, &err);
    if (rc != 0)
        fprintf(stderr, "  share: %s\n", err.msg);
    tlsr_server_cache_free(sc);
    return rc;
}

int sc_stats(SSL_CTX *ctx, struct tlsr_server_cache_stats *out)
{
    struct tlsr_server_cache *sc = tlsr_server_cache_get(ctx);
    int rc;

    if (sc == NULL)
        return -1;
    rc = tlsr_server_cache_stats(sc, out, NULL);
    tlsr_server_cache_free(sc);
    return rc;
}

int sc_flush(SSL_CTX *ctx)
{
    struct tlsr_server_cache *sc = tlsr_server_cache_get(ctx);
    struct tlsr_error err;
    int rc;

    if (sc == NULL)
        return 0;
    rc = tlsr_server_cache_flush(sc, 5000, &err);
    if (rc != 0)
        fprintf(stderr, "  flush: %s\n", err.msg);
    tlsr_server_cache_free(sc);
    return rc;
}

int sc_resume_across(SSL_CTX *a, SSL_CTX *b, int version)
{
    SSL_CTX *cli = tp_client_ctx(version);
    SSL_SESSION *s, *s2;
    int reused = -1, r2 = -1;

    s = tp_connect(a, cli, NULL, &reused);
    if (sc_flush(a) != 0)
        reused = -1;
    if (s == NULL || reused != 0) {
        SSL_SESSION_free(s);
        SSL_CTX_free(cli);
        return -1;
    }
    s2 = tp_connect(b, cli, s, &reused);
    r2 = reused;
    SSL_SESSION_free(s);
    SSL_SESSION_free(s2);
    SSL_CTX_free(cli);
    return s2 == NULL ? -1 : r2;
}

int sc_fleet_resumes(SSL_CTX *a, SSL_CTX *b, int version, int n)
{
    struct tlsr_server_cache_stats sa, sb;
    int i;

    for (i = 0; i < n; i++)
        if (sc_resume_across(a, b, version) != 1
            || sc_resume_across(b, a, version) != 1) {
            fprintf(stderr, "  no resumption across at %d\n", i);
            return -1;
        }
    if (sc_flush(a) != 0 || sc_flush(b) != 0 || sc_stats(a, &sa) != 0
        || sc_stats(b, &sb) != 0)
        return -1;
    if (sa.stored < (uint64_t)n || sb.stored < (uint64_t)n
        || sa.hits < (uint64_t)n || sb.hits < (uint64_t)n
        || sa.failures + sb.failures != 0) {
        fprintf(stderr, "  stored %d/%d hits %d/%d failures %d: %s\n",
                (int)sa.stored, (int)sb.stored, (int)sa.hits, (int)sb.hits,
                (int)(sa.failures + sb.failures), sa.first_error);
        return -1;
    }
    return 0;
}
