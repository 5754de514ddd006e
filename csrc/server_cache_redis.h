/*
 * The server session cache's Redis backend (server_cache_redis.c), used
 * by server_cache.c in place of a store directory.
 */
#ifndef TLSR_SERVER_CACHE_REDIS_H
#define TLSR_SERVER_CACHE_REDIS_H

#include <openssl/ssl.h>

#include "store.h"

struct tlsri_scache_redis;

struct tlsri_scache_redis *tlsri_scache_redis_new(
    const struct tlsr_redis_options *ro, const struct tlsr_codec *codec,
    struct tlsr_error *err);
void tlsri_scache_redis_free(struct tlsri_scache_redis *r);
/* 1 if a and b are the same Redis, db, prefix and seal key. */
int tlsri_scache_redis_same(const struct tlsri_scache_redis *a,
                            const struct tlsri_scache_redis *b);
/* The writer thread's calls (timeout_ms each). */
int tlsri_scache_redis_put(struct tlsri_scache_redis *r,
                           const struct tlsri_key *key, SSL_SESSION *sess,
                           struct tlsr_error *err);
/* 1 removed, 0 none, < 0 error. */
int tlsri_scache_redis_remove(struct tlsri_scache_redis *r,
                              const struct tlsri_key *key,
                              struct tlsr_error *err);
/* A handshake's lookup, bounded by lookup_timeout_ms; take: GETDEL.
 * NULL and TLSR_ENOTFOUND for a miss (Redis left alone after a failure
 * too); other codes are failures. */
SSL_SESSION *tlsri_scache_redis_fetch(struct tlsri_scache_redis *r,
                                      const struct tlsri_key *key, int take,
                                      struct tlsr_error *err);

#endif
