/* The capture queue of an attach without a store (attach_queue.c). */
#ifndef TLSR_ATTACH_QUEUE_H
#define TLSR_ATTACH_QUEUE_H

#include <openssl/ssl.h>

struct tlsri_capture {
    char host[256];
    int port;
    char context[256];
    SSL_SESSION *sess;          /* a reference, owned by whoever pops it */
};

struct tlsri_queue;

struct tlsri_queue *tlsri_queue_new(unsigned max);
void tlsri_queue_free(struct tlsri_queue *q);
void tlsri_queue_push(struct tlsri_queue *q, const char *host, int port,
                      const char *context, SSL_SESSION *sess);
/* 1 and *out if a capture came within timeout_ms, 0 if none. */
int tlsri_queue_pop(struct tlsri_queue *q, int timeout_ms,
                    struct tlsri_capture *out);
unsigned tlsri_queue_len(struct tlsri_queue *q);

#endif
