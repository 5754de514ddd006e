/*
 * Helpers for the server session cache's C tests (test_server_cache.c on
 * a store, test_server_cache_redis.c on Redis): server contexts of a
 * fleet, and a session made on one resumed on another.
 */
#ifndef TLSR_TEST_SCACHE_PAIR_H
#define TLSR_TEST_SCACHE_PAIR_H

#include <openssl/ssl.h>

#include "tlsresume.h"

/* A server context as a process of a fleet would make it: tickets off,
 * session-id context sid. */
SSL_CTX *sc_server(int version, const char *sid);

/* Serve ctx from sc and drop the caller's reference: 0 or a TLSR_E*. */
int sc_share(struct tlsr_server_cache *sc, SSL_CTX *ctx);

/* ctx's cache's stats: 0, or -1 if it has no cache. */
int sc_stats(SSL_CTX *ctx, struct tlsr_server_cache_stats *out);

/* Write what ctx's cache has queued (as ~20 ms would); 0 if no cache. */
int sc_flush(SSL_CTX *ctx);

/* Full handshake on a, then resume on b: returns reused (or -1). */
int sc_resume_across(SSL_CTX *a, SSL_CTX *b, int version);

/* a and b resume each other's sessions n times each way, then both have
 * stored and hit at least n and failed never: 0, or -1 (said why). */
int sc_fleet_resumes(SSL_CTX *a, SSL_CTX *b, int version, int n);

#endif
