/*
 * Deferred store writes (csrc/writer.c), shared by the client attach
 * (attach.c) and the server session cache (server_cache.c): OpenSSL's
 * session callbacks run on the application's handshake / SSL_read path,
 * so they only queue an item (a bounded ring, no I/O, no wait for the
 * store) and a writer thread, started at the first push, writes it under
 * the owner's store lock.  fork() and exit() have handlers (writer.c).
 *
 * A queue (ops->write NULL) has no writer thread and writes nothing: its
 * owner pops the items (tlsri_writer_pop) from a thread of its own, e.g. a
 * binding that writes them to a store across the network.  Flush, exit and
 * destroy then write nothing (destroy drops what is left); a fork child
 * drops its parent's items as for any writer.
 *
 * Locks, in this order: the owner's own (e.g. ex_data locks), the registry
 * (writer.c), w->lock (the owner's store: held during file I/O), w->qlock
 * (the ring: never held during I/O; the only lock a push takes).
 */
#ifndef TLSR_WRITER_H
#define TLSR_WRITER_H

#include <pthread.h>
#include <stddef.h>

#include "internal.h"

struct tlsri_writer_ops {
    /* Write one item, keeping what it holds (w->lock held, no qlock):
     * drop follows once the item has left the ring; NULL: a queue (see
     * above). */
    void (*write)(void *owner, void *item);
    /* Free what an item holds, written or not (qlock may be held: no
     * locks). */
    void (*drop)(void *owner, void *item);
};

struct tlsri_writer {
    pthread_mutex_t lock;       /* the owner's store calls (file I/O) */
    pthread_mutex_t qlock;      /* ring and writer state; short holds */
    pthread_cond_t wake;        /* the writer waits here (qlock) */
    const struct tlsri_writer_ops *ops;
    void *owner;
    size_t item_size;
    unsigned int capacity;      /* items the ring holds */
    unsigned char *ring;        /* capacity items (reserve) */
    unsigned int head, count;
    unsigned long dropped;      /* pushes lost to a full ring */
    int writer;                 /* 1: the writer thread runs */
    int idle;                   /* 1: the writer sleeps until woken */
    int stop;                   /* 1: the writer drains and exits */
    int exiting;                /* process exit: pushes are dropped */
    int closed;                 /* process exit, written: no more writes */
    int writing;                /* 1: the head item is being written */
    unsigned int stale;         /* fork child: the parent's, at head */
    pthread_t thread;
    double last_pop;            /* a queue: when a pop last found an item */
    struct tlsri_writer *prev, *next;   /* registry (fork / exit) */
};

/* A ring of capacity items of item_size bytes: TLSR_OK, or an error in
 * err; registers w for the fork / exit handlers. */
int tlsri_writer_init(struct tlsri_writer *w, size_t item_size,
                      unsigned int capacity,
                      const struct tlsri_writer_ops *ops, void *owner,
                      struct tlsr_error *err);
/* The writer stops after writing what is queued (joined: never call with
 * w->lock held nor from the write op), then w is unregistered. */
void tlsri_writer_destroy(struct tlsri_writer *w);
/* Allocate the ring (once), so that a push never allocates. */
int tlsri_writer_reserve(struct tlsri_writer *w, struct tlsr_error *err);
/* Copy item into the ring: 0, or -1 if dropped (full, no ring, process
 * exit): the caller then frees what the item holds.  No I/O, never waits
 * for w->lock; wakes the writer only from its long sleep. */
int tlsri_writer_push(struct tlsri_writer *w, const void *item);
/* A queue's oldest item into out, waiting up to timeout_ms for one (no
 * lock held: polls as the writer thread does, see writer.c): 1, or 0 if
 * none came (or process exit closed the queue). */
int tlsri_writer_pop(struct tlsri_writer *w, void *out, int timeout_ms);
/* Call fn on queued items, newest first, under qlock (fn must be short,
 * take no lock), until it returns non-zero; returns that value, or 0.
 * fn may change an item, but not the one being written (writing 1: the
 * oldest, until written), whose references the writer holds. */
int tlsri_writer_find(struct tlsri_writer *w,
                      int (*fn)(void *arg, void *item, int writing),
                      void *arg);
/* Write what is queued (w->lock held by the caller) until empty, or until
 * the monotonic time `until` (< 0: no limit); 1 if it emptied.  A queue:
 * nothing written, 1. */
int tlsri_writer_drain_locked(struct tlsri_writer *w, double until);
/* Lock w->lock, waiting at most timeout_ms (< 0: no limit), write what is
 * queued within that time, unlock: TLSR_OK or TLSR_EIO.  A queue: TLSR_OK
 * at once (its owner writes). */
int tlsri_writer_flush(struct tlsri_writer *w, int timeout_ms,
                       struct tlsr_error *err);
/* An owner's own fork handlers, for locks taken before the writers'
 * (registered after them: prepare handlers run in reverse order). */
void tlsri_writer_atfork(void (*prepare)(void), void (*parent)(void),
                         void (*child)(void));
/* Items queued, and pushes dropped so far. */
unsigned int tlsri_writer_pending(struct tlsri_writer *w,
                                  unsigned long *dropped);
double tlsri_mono_now(void);

#endif
