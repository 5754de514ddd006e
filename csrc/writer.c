/*
 * Deferred store writes: a bounded ring filled by OpenSSL callbacks and a
 * writer thread per owner that writes it (see writer.h).  Factored out of
 * the client attach so the server session cache defers its writes the
 * same way.
 */
#define _GNU_SOURCE     /* PTHREAD_MUTEX_ADAPTIVE_NP, where there is one */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "writer.h"

enum {
    POLL_MS = 20,               /* the writer's look at the ring, when busy */
    IDLE_S = 2,                 /* then it sleeps until woken */
    EXIT_FLUSH_S = 2,           /* exit() writes what is queued this long */
    EXIT_WAIT_S = 3             /* and waits this much more for a write */
};

/* Every live writer, for the fork and exit handlers. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlsri_writer *registry;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

double tlsri_mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *slot(struct tlsri_writer *w, unsigned int i)
{
    return w->ring + (size_t)(i % w->capacity) * w->item_size;
}

/* A fork child drops what its parent had queued (the parent writes those:
 * never twice); qlock held. */
static void drop_stale(struct tlsri_writer *w)
{
    while (w->stale > 0 && w->count > 0) {
        w->ops->drop(w->owner, slot(w, w->head));
        w->head = (w->head + 1) % w->capacity;
        w->count--;
        w->stale--;
    }
}

/* Copy the oldest item into out (qlock held); 0 if there is none.  take:
 * remove it too; else it stays, marked as being written (find sees it). */
static int take_head(struct tlsri_writer *w, void *out, int take)
{
    drop_stale(w);
    if (w->count == 0 || w->closed)
        return 0;
    memcpy(out, slot(w, w->head), w->item_size);
    if (take) {
        w->head = (w->head + 1) % w->capacity;
        w->count--;
    } else {
        w->writing = 1;
    }
    return 1;
}

/* Write the oldest item (w->lock held): 1 if there was one.  It stays in
 * the ring while it is written, so a lookup (tlsri_writer_find) never
 * misses an item that is neither queued nor stored yet; then it is
 * removed and dropped. */
static int write_next(struct tlsri_writer *w, void *buf)
{
    int got;

    pthread_mutex_lock(&w->qlock);
    got = take_head(w, buf, 0);
    pthread_mutex_unlock(&w->qlock);
    if (!got)
        return 0;
    w->ops->write(w->owner, buf);
    pthread_mutex_lock(&w->qlock);
    w->head = (w->head + 1) % w->capacity;
    w->count--;
    w->writing = 0;
    pthread_mutex_unlock(&w->qlock);
    w->ops->drop(w->owner, buf);
    return 1;
}

int tlsri_writer_drain_locked(struct tlsri_writer *w, double until)
{
    unsigned char buf[1024];    /* items are small (init checks) */
    int empty;

    if (w->ops->write == NULL)  /* a queue: its owner pops and writes */
        return 1;
    while (write_next(w, buf)) {
        if (until >= 0 && tlsri_mono_now() >= until) {
            pthread_mutex_lock(&w->qlock);
            empty = w->count == 0;
            pthread_mutex_unlock(&w->qlock);
            return empty;
        }
    }
    return 1;
}

/* Wait on w->wake (qlock held) until the monotonic time `until`. */
static void wait_until(struct tlsri_writer *w, double until)
{
    struct timespec ts;

    ts.tv_sec = (time_t)until;
    ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&w->wake, &w->qlock, &ts);
}

/*
 * The writer looks at the ring every POLL_MS while items keep coming, so
 * a push need not wake it: waking a thread costs a system call and often a
 * cross-CPU interrupt, tens of microseconds on a virtual machine, inside
 * the handshake.  After IDLE_S without items it sleeps until a push wakes
 * it (w->idle: that push pays once).  It takes the store lock per item, so
 * a store call or a flush waits for one write at most.
 */
static void *writer_main(void *arg)
{
    struct tlsri_writer *w = arg;
    unsigned char buf[1024];
    double last = tlsri_mono_now(), now;

    pthread_mutex_lock(&w->qlock);
    for (;;) {
        if ((w->count == 0 && w->stop) || w->closed)
            break;
        if (w->count == 0) {
            now = tlsri_mono_now();
            if (now - last < IDLE_S) {
                wait_until(w, now + POLL_MS / 1000.0);
            } else {
                w->idle = 1;
                while (w->idle && !w->stop && !w->closed)
                    pthread_cond_wait(&w->wake, &w->qlock);
                w->idle = 0;
            }
            continue;
        }
        pthread_mutex_unlock(&w->qlock);
        do {
            pthread_mutex_lock(&w->lock);
            now = write_next(w, buf);
            pthread_mutex_unlock(&w->lock);
        } while (now != 0);
        last = tlsri_mono_now();
        pthread_mutex_lock(&w->qlock);
    }
    pthread_mutex_unlock(&w->qlock);
    return NULL;
}

/* Start the writer (qlock held).  Signals go to the application's threads,
 * never to ours.  On failure the queue waits for the next drain. */
static void writer_start(struct tlsri_writer *w)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    w->writer = pthread_create(&w->thread, NULL, writer_main, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int tlsri_writer_push(struct tlsri_writer *w, const void *item)
{
    int wake;

    pthread_mutex_lock(&w->qlock);
    drop_stale(w);
    if (w->ring == NULL || w->count == w->capacity || w->exiting) {
        w->dropped++;
        pthread_mutex_unlock(&w->qlock);
        return -1;
    }
    memcpy(slot(w, w->head + w->count), item, w->item_size);
    w->count++;
    if (!w->writer && w->ops->write != NULL)
        writer_start(w);
    /* Wake the writer only from its long sleep (see writer_main), and
     * after the unlock: it would wake into a held lock. */
    wake = w->idle;
    w->idle = 0;
    pthread_mutex_unlock(&w->qlock);
    if (wake)
        pthread_cond_signal(&w->wake);
    return 0;
}

/*
 * As the writer thread: while items keep coming, look at the ring every
 * POLL_MS (a push wakes no one); after IDLE_S without any, sleep until a
 * push wakes us (that push then pays once) or time is up.
 */
int tlsri_writer_pop(struct tlsri_writer *w, void *out, int timeout_ms)
{
    double now = tlsri_mono_now();
    double until = now + (timeout_ms > 0 ? timeout_ms / 1000.0 : 0);
    int got = 0;

    pthread_mutex_lock(&w->qlock);
    for (;;) {
        if (take_head(w, out, 1)) {
            w->last_pop = tlsri_mono_now();
            got = 1;
            break;
        }
        now = tlsri_mono_now();
        if (w->closed || now >= until)
            break;
        if (now - w->last_pop < IDLE_S) {
            wait_until(w, now + POLL_MS / 1000.0 < until
                              ? now + POLL_MS / 1000.0 : until);
        } else {
            w->idle = 1;
            wait_until(w, until);
            w->idle = 0;
        }
    }
    pthread_mutex_unlock(&w->qlock);
    return got;
}

int tlsri_writer_find(struct tlsri_writer *w,
                      int (*fn)(void *arg, void *item, int writing),
                      void *arg)
{
    unsigned int i;
    int rc = 0;

    pthread_mutex_lock(&w->qlock);
    drop_stale(w);
    for (i = w->count; i > 0 && rc == 0; i--)
        rc = fn(arg, slot(w, w->head + i - 1), i == 1 && w->writing);
    pthread_mutex_unlock(&w->qlock);
    return rc;
}

unsigned int tlsri_writer_pending(struct tlsri_writer *w,
                                  unsigned long *dropped)
{
    unsigned int n;

    pthread_mutex_lock(&w->qlock);
    drop_stale(w);
    n = w->count;
    if (dropped != NULL)
        *dropped = w->dropped;
    pthread_mutex_unlock(&w->qlock);
    return n;
}

/* A condition variable whose timed waits count in CLOCK_MONOTONIC. */
static int cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc;

    if (pthread_condattr_init(&a) != 0)
        return -1;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* ---- fork ---------------------------------------------------------------- */

/*
 * fork() while the writer holds a lock would leave the child a lock no one
 * releases: the parent waits for every store lock first (the current write
 * ends), and the child, which has no writer thread, starts one again at
 * its next push.  Owners register their own handlers after these
 * (tlsri_writer_atfork), so their locks are taken first.
 */
static void fork_prepare(void)
{
    struct tlsri_writer *w;

    pthread_mutex_lock(&reg_lock);
    for (w = registry; w != NULL; w = w->next) {
        pthread_mutex_lock(&w->lock);
        pthread_mutex_lock(&w->qlock);
    }
}

static void fork_parent(void)
{
    struct tlsri_writer *w;

    for (w = registry; w != NULL; w = w->next) {
        pthread_mutex_unlock(&w->qlock);
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_unlock(&reg_lock);
}

static void fork_child(void)
{
    struct tlsri_writer *w;

    for (w = registry; w != NULL; w = w->next) {
        /* The writer is not in the child; a condition variable it waited
         * on would keep its waiter count: a fresh one. */
        w->writer = 0;
        w->idle = 0;
        w->stop = 0;
        w->stale = w->count;
        cond_init(&w->wake);
        pthread_mutex_unlock(&w->qlock);
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_unlock(&reg_lock);
}

/*
 * exit() runs OpenSSL's own atexit cleanup, which frees what a store write
 * uses (a writer still writing then crashes): ours, registered after
 * OpenSSL's, runs before it.  It writes what is queued (EXIT_FLUSH_S in
 * all: a process that exits right after a connection keeps its session),
 * then closes every writer: pushes are dropped, no write starts again, and
 * the one in progress has ended (we held the store lock).
 */
static void at_exit(void)
{
    struct tlsri_writer *w;
    struct timespec abs;
    double until = tlsri_mono_now() + EXIT_FLUSH_S;

    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += EXIT_FLUSH_S + EXIT_WAIT_S;
    pthread_mutex_lock(&reg_lock);
    for (w = registry; w != NULL; w = w->next) {
        int locked;

        pthread_mutex_lock(&w->qlock);
        w->exiting = 1;
        pthread_mutex_unlock(&w->qlock);
        locked = pthread_mutex_timedlock(&w->lock, &abs) == 0;
        if (locked)
            tlsri_writer_drain_locked(w, until);
        pthread_mutex_lock(&w->qlock);
        w->closed = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->qlock);
        if (locked)
            pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_unlock(&reg_lock);
}

static void process_handlers(void)
{
    /* OpenSSL registers its atexit cleanup when it initializes: first. */
    OPENSSL_init_crypto(0, NULL);
    atexit(at_exit);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void tlsri_writer_atfork(void (*prepare)(void), void (*parent)(void),
                         void (*child)(void))
{
    pthread_once(&handlers_once, process_handlers);
    pthread_atfork(prepare, parent, child);
}

/* ---- life ---------------------------------------------------------------- */

/* The ring lock is held for a few copies: spin a little before sleeping
 * (glibc's adaptive mutex) rather than pay a wake-up in the callback. */
static int qlock_init(pthread_mutex_t *m)
{
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    pthread_mutexattr_t a;
    int rc;

    if (pthread_mutexattr_init(&a) != 0)
        return -1;
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
#else
    return pthread_mutex_init(m, NULL);
#endif
}

int tlsri_writer_init(struct tlsri_writer *w, size_t item_size,
                      unsigned int capacity,
                      const struct tlsri_writer_ops *ops, void *owner,
                      struct tlsr_error *err)
{
    memset(w, 0, sizeof(*w));
    if (item_size == 0 || item_size > 1024 || capacity == 0)
        return tlsri_error_set(err, TLSR_EINVAL, "writer item size");
    if (pthread_mutex_init(&w->lock, NULL) != 0)
        return tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
    if (qlock_init(&w->qlock) != 0) {
        pthread_mutex_destroy(&w->lock);
        return tlsri_error_set(err, TLSR_ENOMEM, "cannot create a mutex");
    }
    if (cond_init(&w->wake) != 0) {
        pthread_mutex_destroy(&w->qlock);
        pthread_mutex_destroy(&w->lock);
        return tlsri_error_set(err, TLSR_ENOMEM, "cannot create a condition");
    }
    w->item_size = item_size;
    w->capacity = capacity;
    w->ops = ops;
    w->owner = owner;
    pthread_once(&handlers_once, process_handlers);
    pthread_mutex_lock(&reg_lock);
    w->next = registry;
    if (registry != NULL)
        registry->prev = w;
    registry = w;
    pthread_mutex_unlock(&reg_lock);
    return TLSR_OK;
}

int tlsri_writer_reserve(struct tlsri_writer *w, struct tlsr_error *err)
{
    int rc = TLSR_OK;

    pthread_mutex_lock(&w->qlock);
    if (w->ring == NULL
        && (w->ring = calloc(w->capacity, w->item_size)) == NULL)
        rc = tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    pthread_mutex_unlock(&w->qlock);
    return rc;
}

void tlsri_writer_destroy(struct tlsri_writer *w)
{
    int writer;

    pthread_mutex_lock(&w->qlock);
    writer = w->writer;
    if (writer) {
        w->stop = 1;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->qlock);
    if (writer)
        pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->lock);       /* no writer (fork child, failed) */
    tlsri_writer_drain_locked(w, -1);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_lock(&reg_lock);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        registry = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&reg_lock);
    /* What is left (process exit closed the writer): given back. */
    pthread_mutex_lock(&w->qlock);
    while (w->count > 0) {
        w->ops->drop(w->owner, slot(w, w->head));
        w->head = (w->head + 1) % w->capacity;
        w->count--;
    }
    pthread_mutex_unlock(&w->qlock);
    free(w->ring);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->qlock);
    pthread_mutex_destroy(&w->lock);
}

int tlsri_writer_flush(struct tlsri_writer *w, int timeout_ms,
                       struct tlsr_error *err)
{
    struct timespec abs;
    double until = -1;
    int rc, empty;

    if (w->ops->write == NULL)  /* a queue: its owner writes */
        return TLSR_OK;
    if (timeout_ms < 0) {
        rc = pthread_mutex_lock(&w->lock);
    } else {
        until = tlsri_mono_now() + timeout_ms / 1000.0;
        /* pthread_mutex_timedlock counts in CLOCK_REALTIME. */
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_sec += timeout_ms / 1000;
        abs.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
        rc = pthread_mutex_timedlock(&w->lock, &abs);
    }
    if (rc != 0)
        return tlsri_error_set(err, TLSR_EIO,
                               "pending writes not done in %d ms (the "
                               "store is busy)", timeout_ms);
    empty = tlsri_writer_drain_locked(w, until);
    pthread_mutex_unlock(&w->lock);
    if (!empty)
        return tlsri_error_set(err, TLSR_EIO,
                               "pending writes not done in %d ms",
                               timeout_ms);
    return TLSR_OK;
}
