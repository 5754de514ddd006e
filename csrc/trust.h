/* The trust rule's private parts, shared with the store (csrc/trust.c). */
#ifndef TLSR_TRUST_H
#define TLSR_TRUST_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "tlsresume.h"

/* 1 if the session's own verify result is X509_V_OK. */
int tlsri_session_verify_ok(const SSL_SESSION *sess);
/* Attach to sess (a new session of ssl) the record of what verified it,
 * unless it inherited one: offered's when ssl resumed the session the
 * binding offered (NULL: none known); failures leave it without
 * (unverified). */
void tlsri_trust_capture(const SSL *ssl, SSL_SESSION *sess,
                         const struct tlsr_trust *offered);
/* tlsr_trust_check for a session's own record; a session with none
 * passes only on its own verify result. */
int tlsri_trust_check_session(const SSL_SESSION *sess,
                              const struct tlsr_trust *policy,
                              const SSL_CTX *ctx, struct tlsr_error *err);
/* "trust 1 ...\n" for a store entry's header: its length, or -1. */
int tlsri_trust_encode(const struct tlsr_trust *t, char *out, size_t cap);
/* The value of a "trust" line, [s, e) without "trust " and the newline. */
int tlsri_trust_decode(const char *s, const char *e, struct tlsr_trust *t);

#endif
