/*
 * The on-disk session store, private parts shared by store*.c.
 *
 * Layout: DIR/ab/<30 hex>/ is one key's directory (ab... = the first 16
 * bytes of SHA-256 over host, port and context), so get/take read one small
 * directory whatever the store's size.  An entry's name says when it was
 * put, when it expires (a hint for prune) and its kind:
 *     <put ns:16 hex>-<expires s:16 hex>-<random:16 hex>.t12.pem
 * (t13: a TLS 1.3 ticket; .sealed instead of .pem when sealed).  Names
 * starting with '.' are in-flight: .tmp-<pid>-... (being written, renamed
 * into place when complete) and .claim-<pid>-... (a taken ticket).  The
 * entry's own header (store_entry.c) carries the key, which is what a read
 * checks; the directory and file names are only an index.
 */
#ifndef TLSR_STORE_H
#define TLSR_STORE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "internal.h"
#include "seal.h"

enum {
    TLSRI_KEY_DIR_LEN = 33,         /* "ab/" + 30 hex */
    TLSRI_NAME_MAX = 72,
    TLSRI_REL_MAX = TLSRI_KEY_DIR_LEN + 1 + TLSRI_NAME_MAX,
    TLSRI_SESS_SLOTS = 1024,        /* decoded sessions kept per store */
    TLSRI_DIR_SLOTS = 128,          /* key directory listings kept */
    TLSRI_DIR_NAMES = 16,           /* names per cached listing */
    TLSRI_ENTRY_MAX = TLSR_ENTRY_MAX  /* largest entry file read: 3 * TLSR_MAX_INPUT */
};

enum { TLSRI_KIND_T12 = 12, TLSRI_KIND_T13 = 13 };

/* Where one server's entries live, and what their headers must say. */
struct tlsri_key {
    char host[256];
    int port;
    char context[256];
    uint8_t digest[32];             /* SHA-256 over the three */
    char dir[TLSRI_KEY_DIR_LEN + 1];
};

/* What an entry's file name says. */
struct tlsri_name {
    uint64_t put_ns;
    int64_t expires;
    int kind;                       /* TLSRI_KIND_* */
    int sealed;
    char name[TLSRI_NAME_MAX];
};

struct tlsri_sess_slot {
    char rel[TLSRI_REL_MAX];        /* "" when free */
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    SSL_SESSION *sess;
    int64_t expires;
    uint8_t key_digest[32];
    int kind;
    int lean;                       /* decoded by a lean restore */
};

struct tlsri_dir_slot {
    char dir[TLSRI_KEY_DIR_LEN + 1];  /* "" when free */
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns;
    int n;
    struct tlsri_name names[TLSRI_DIR_NAMES];
};

struct tlsr_store {
    int dirfd;
    uint32_t max_tickets;
    uint32_t max_entries;
    int64_t max_lifetime;
    uint32_t flags;
    int sealed;
    uint8_t seal_key[TLSRI_SEAL_KEY_LEN];
    uint8_t key_id[TLSRI_SEAL_KEYID_LEN];
    /* Guards the two caches; every other field is set at open, so calls
     * on one handle from several threads are as safe as from several
     * processes (server_cache.c reads while its writer writes). */
    pthread_mutex_t lock;
    struct tlsri_sess_slot *sess_cache;
    struct tlsri_dir_slot *dir_cache;
};

/* Metadata from an entry's header. */
struct tlsri_entry_meta {
    char host[256];
    int port;
    char context[256];
    int kind;
    int64_t time;
    int64_t expires;
    int sealed;
    struct tlsr_trust trust;        /* all zero: unverified */
};

/* ---- keys and names (store_key.c) ---- */
int tlsri_key_init(struct tlsri_key *key, const char *host, int port,
                   const char *context, struct tlsr_error *err);
/* A server cache's key (csrc/server_cache.c): host is the session id in
 * hex, port 0 (which no client key can have: tlsri_key_init refuses it),
 * context "server:" + scope.  Client APIs never reach these entries and
 * the server cache never reaches a client's. */
int tlsri_key_init_server(struct tlsri_key *key, const uint8_t *id,
                          size_t id_len, const char *scope,
                          struct tlsr_error *err);
/* 0, or -1 if hashing failed (never a made-up digest: every key would
 * share it, and a get could be served another server's session). */
int tlsri_key_digest(const char *host, int port, const char *context,
                     uint8_t digest[32]);
/* 1 if name is an entry's name (and fills out), 0 if not. */
int tlsri_name_parse(const char *name, struct tlsri_name *out);
void tlsri_name_make(struct tlsri_name *out, uint64_t put_ns,
                     int64_t expires, int kind, int sealed);
int64_t tlsri_now(void);
uint64_t tlsri_now_ns(void);
/* Entry names of one key directory, newest first; *out is malloc'ed. */
int tlsri_list_dir(int kfd, struct tlsri_name **out, size_t *n);

/* ---- put / get / remove by a ready key (store.c) ---- */
/* evict 0: never evict inline when over max_entries (a walk of the whole
 * store); *count (if not NULL) gets the entry count after the put, or
 * -1 if unknown. */
int tlsri_store_put_key(struct tlsr_store *st, const struct tlsri_key *key,
                        SSL_SESSION *sess, int evict, long long *count,
                        struct tlsr_error *err);
SSL_SESSION *tlsri_store_fetch_key(struct tlsr_store *st,
                                   const struct tlsri_key *key, int take,
                                   const struct tlsr_trust *policy,
                                   const SSL_CTX *ctx, struct tlsr_error *err);
int tlsri_store_remove_key(struct tlsr_store *st, const struct tlsri_key *key,
                           struct tlsr_error *err);
/* A second handle on st's directory (same options and seal key, its own
 * caches and lock), for a user that must not share st's lock. */
struct tlsr_store *tlsri_store_dup(const struct tlsr_store *st,
                                   struct tlsr_error *err);
/* dev/ino of the store's directory, and whether it seals (and its key id):
 * 1 if a and b are the same store with the same key. */
int tlsri_store_same(const struct tlsr_store *a, const struct tlsr_store *b);

/* ---- entry files (store_entry.c) ---- */
/* Read the file name in directory dfd (OPENSSL_malloc'ed, wipe it with
 * OPENSSL_clear_free); TLSR_ENOTFOUND if it vanished. */
int tlsri_read_file(int dfd, const char *name, uint8_t **buf, size_t *len,
                    struct stat *sb, struct tlsr_error *err);
/* Expiry: creation + min(timeout, ticket lifetime hint, max_lifetime). */
int64_t tlsri_session_expires(const SSL_SESSION *sess, int64_t max_lifetime);
int tlsri_entry_encode(struct tlsr_store *st, const struct tlsri_key *key,
                       SSL_SESSION *sess, int kind, int64_t expires,
                       uint8_t **out, size_t *out_len,
                       struct tlsr_error *err);
/* Checks before encoding a session (store.c); its expiry and kind. */
int tlsri_entry_prepare(const struct tlsr_store *st, SSL_SESSION *sess,
                        int64_t *expires, int *kind, struct tlsr_error *err);
/* Decode a whole entry file; *sess owned by the caller. */
int tlsri_entry_decode(struct tlsr_store *st, const uint8_t *buf, size_t len,
                       struct tlsri_entry_meta *meta, SSL_SESSION **sess,
                       struct tlsr_error *err);

/* ---- entries kept elsewhere (entry_codec.c) ---- */
/* A copy of codec's options (NULL: the defaults); free with
 * tlsr_codec_free. */
struct tlsr_codec *tlsri_codec_dup(const struct tlsr_codec *codec,
                                   struct tlsr_error *err);
/* The codec as a store without a directory, for tlsri_entry_*. */
struct tlsr_store *tlsri_codec_store(struct tlsr_codec *codec);
/* The session in an entry if its header names key and it has not
 * expired (TLSR_ENOTFOUND otherwise); meta filled. */
SSL_SESSION *tlsri_entry_decode_for(struct tlsr_store *st, const uint8_t *buf,
                                    size_t len, const struct tlsri_key *key,
                                    struct tlsri_entry_meta *meta,
                                    struct tlsr_error *err);

/* ---- caches (store_cache.c) ---- */
/* A dup of the cached session for rel if its identity matches (ino 0:
 * trust the name); NULL if none. */
SSL_SESSION *tlsri_cache_get(struct tlsr_store *st, const char *rel,
                             ino_t ino, off_t size, int64_t mtime_ns,
                             int64_t *expires, uint8_t key_digest[32]);
void tlsri_cache_put(struct tlsr_store *st, const char *rel, ino_t ino,
                     off_t size, int64_t mtime_ns, SSL_SESSION *sess,
                     int64_t expires, const uint8_t key_digest[32], int kind);
void tlsri_cache_drop(struct tlsr_store *st, const char *rel);
/* Cached listing of dir if the directory is unchanged: 1 hit, 0 miss. */
int tlsri_dircache_get(struct tlsr_store *st, const char *dir,
                       const struct stat *sb, struct tlsri_name *names,
                       int *n);
void tlsri_dircache_put(struct tlsr_store *st, const char *dir,
                        const struct stat *sb, const struct tlsri_name *names,
                        size_t n);
void tlsri_dircache_drop(struct tlsr_store *st, const char *dir);
void tlsri_cache_free(struct tlsr_store *st);

/* ---- whole-store scans and the entry counter (store_scan.c) ---- */
/* Calls fn for each key directory: kfd is open on it, rel is "ab/...". */
typedef int (*tlsri_walk_fn)(void *ctx, int kfd, const char *rel);
int tlsri_walk(struct tlsr_store *st, tlsri_walk_fn fn, void *ctx,
               struct tlsr_error *err);
/* Add delta to the shared entry counter; returns the new value or < 0. */
long long tlsri_counter_add(struct tlsr_store *st, long long delta);
/* Evict down to the bound if the counter says the store is over it. */
void tlsri_maybe_evict(struct tlsr_store *st, long long count);
/* 1 if an in-flight file (.tmp-/.claim-) was left by a dead writer. */
int tlsri_stale_inflight(int kfd, const char *name, int64_t now);

#endif
