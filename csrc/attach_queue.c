/*
 * Captures waiting for a binding: an attach without a store (a network
 * store such as Redis) has the new-session callback queue the session and
 * its key here, so no network I/O ever runs inside OpenSSL's callback; the
 * binding's own thread pops them (tlsr_attach_pop) and writes them.  Full
 * queue: the capture is dropped (a store is an optimization).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "attach_queue.h"

struct tlsri_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    unsigned max, head, n;
    struct tlsri_capture *slots;
};

struct tlsri_queue *tlsri_queue_new(unsigned max)
{
    struct tlsri_queue *q = calloc(1, sizeof(*q));
    pthread_condattr_t ca;

    if (q == NULL || max == 0
        || (q->slots = calloc(max, sizeof(*q->slots))) == NULL) {
        free(q);
        return NULL;
    }
    q->max = max;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->ready, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void tlsri_queue_free(struct tlsri_queue *q)
{
    unsigned i;

    if (q == NULL)
        return;
    for (i = 0; i < q->n; i++)
        SSL_SESSION_free(q->slots[(q->head + i) % q->max].sess);
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
    free(q->slots);
    free(q);
}

/* Called from the new-session callback: a copy of the key and a reference
 * to the session, nothing slower. */
void tlsri_queue_push(struct tlsri_queue *q, const char *host, int port,
                      const char *context, SSL_SESSION *sess)
{
    struct tlsri_capture *c;

    pthread_mutex_lock(&q->lock);
    if (q->n < q->max && SSL_SESSION_up_ref(sess)) {
        c = &q->slots[(q->head + q->n) % q->max];
        strcpy(c->host, host);
        c->port = port;
        strcpy(c->context, context);
        c->sess = sess;
        q->n++;
        pthread_cond_signal(&q->ready);
    }
    pthread_mutex_unlock(&q->lock);
}

int tlsri_queue_pop(struct tlsri_queue *q, int timeout_ms,
                    struct tlsri_capture *out)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    while (q->n == 0 && timeout_ms > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&q->ready, &q->lock, &until);
    if (q->n == 0) {
        pthread_mutex_unlock(&q->lock);
        return 0;
    }
    *out = q->slots[q->head];
    memset(&q->slots[q->head], 0, sizeof(q->slots[q->head]));
    q->head = (q->head + 1) % q->max;
    q->n--;
    pthread_mutex_unlock(&q->lock);
    return 1;
}

unsigned tlsri_queue_len(struct tlsri_queue *q)
{
    unsigned n;

    pthread_mutex_lock(&q->lock);
    n = q->n;
    pthread_mutex_unlock(&q->lock);
    return n;
}
