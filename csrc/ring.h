/*
 * Ticket key rings, private parts shared by ring_*.c.
 *
 * On disk (DIR, 0700; every file 0600):
 *   ring.conf                  "tlsresume-ring 1", cipher, origin, period,
 *                              keep: written once by init (never changes)
 *   <start:16 hex>.key         one key, raw bytes in the ring's layout
 *                              (aes256: OpenSSL/nginx 80 B name|hmac32|aes32;
 *                              aes128: nginx 48 B name|aes16|hmac16)
 *   .<anything>                in-flight temporary files, ignored
 * A key file is written to a temporary (O_EXCL) and link()ed to its name:
 * link never replaces, so of several processes making the same period's
 * key exactly one wins and the others adopt it.  The ring's state is the
 * set of key files and the clock:
 *   - sort keys by start; the encrypting key is the newest with start <= now
 *     (and younger than TLSR_RING_MAX_LIFE - keep);
 *   - a key with start > now is "next" (decrypts already);
 *   - an older key retired when its successor started and decrypts until
 *     successor.start + keep (never past start + TLSR_RING_MAX_LIFE).
 * Rotation makes the keys of the current and next periods (origin +
 * k * period) when missing and unlinks expired ones: a reader sees the
 * ring before or after each single link/unlink, all of which are rings.
 */
#ifndef TLSR_RING_H
#define TLSR_RING_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"
#include "ticket_keys.h"

enum {
    TLSRI_RING_KEYS_MAX = 64,
    TLSRI_RING_KEY_MAX = 80,
    TLSRI_RING_PER_KEEP_MAX = 48    /* keep / period: bounds the key count */
};

struct tlsri_ring_conf {
    int aes256;                 /* 1: 80-byte keys, 0: 48-byte keys */
    int64_t origin, period, keep;
};

struct tlsri_ring_entry {
    int64_t start;
    struct tlsri_ticket_key k;  /* name, hmac, aes */
};

/* An immutable set of keys (sorted by start) and what the files were. */
struct tlsri_ring_snap {
    size_t n;
    struct tlsri_ring_entry e[TLSRI_RING_KEYS_MAX];
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns, ctime_ns;
};

struct tlsr_ring {
    char *path;
    struct tlsri_ring_conf conf;
    pthread_mutex_t lock;       /* refs, warn, failure bookkeeping */
    int refs;
    pthread_rwlock_t rw;        /* guards snap */
    struct tlsri_ring_snap *snap;
    int64_t next_check;         /* __atomic: next second to stat the ring */
    int64_t no_rotate_until;    /* auto rotation backed off after a failure */
    int failing;                /* last refresh failed (warned once) */
    struct tlsr_ring_status st; /* counters: __atomic */
    tlsr_warn_fn warn;
    void *warn_arg;
};

/* ---- files (ring_files.c) ---- */
int tlsri_ring_conf_write(int dfd, const struct tlsri_ring_conf *conf,
                          struct tlsr_error *err);
int tlsri_ring_load(const char *path, struct tlsri_ring_conf *conf,
                    struct tlsri_ring_snap **snap, struct tlsr_error *err);
/* Publish a new key starting at start: 1 made, 0 one was there. */
int tlsri_ring_add_key(int dfd, const struct tlsri_ring_conf *conf,
                       int64_t start, struct tlsr_error *err);
int tlsri_ring_unlink_key(int dfd, int64_t start);
/* Remove temporaries left by writers that died; returns how many. */
int tlsri_ring_clean_tmp(int dfd);
size_t tlsri_ring_key_bytes(const struct tlsri_ring_conf *conf);
void tlsri_ring_snap_free(struct tlsri_ring_snap *snap);
/* stat of path: 0 and the identity fields filled, -1 on error. */
int tlsri_ring_stat(const char *path, dev_t *dev, ino_t *ino,
                    int64_t *mtime_ns, int64_t *ctime_ns);

/* ---- schedule (ring_sched.c) ---- */
int64_t tlsri_ring_now(int64_t now);
/* Role of key i at now; *end / *expires as in struct tlsr_ring_key. */
int tlsri_ring_role(const struct tlsri_ring_conf *conf,
                    const struct tlsri_ring_snap *snap, size_t i,
                    int64_t now, int64_t *end, int64_t *expires);
/* Index of the encrypting key at now, or -1 if none. */
int tlsri_ring_encrypting(const struct tlsri_ring_conf *conf,
                          const struct tlsri_ring_snap *snap, int64_t now);
/* 1 if rotation would change the ring at now. */
int tlsri_ring_due(const struct tlsri_ring_conf *conf,
                   const struct tlsri_ring_snap *snap, int64_t now);
/* A new reference to ring's current snapshot is not kept: callers hold
 * the read lock while they use ring->snap. */
void tlsri_ring_retain(struct tlsr_ring *ring);
/* Swap in a fresh load (keeps the last good one on failure). */
int tlsri_ring_refresh(struct tlsr_ring *ring, struct tlsr_error *err);

#endif
