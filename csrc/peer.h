/* The peer certificate of a lean restore, kept as DER (csrc/peer.c). */
#ifndef TLSR_PEER_H
#define TLSR_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Keep a copy of der as sess's peer certificate bytes; 0 or -1. */
int tlsri_peer_keep(SSL_SESSION *sess, const uint8_t *der, size_t len);
/* The kept bytes of a session without a decoded peer, or NULL. */
const uint8_t *tlsri_peer_kept(const SSL_SESSION *sess, size_t *len);
/* New-session callback: a session received on a connection that resumed
 * a lean session gets the bytes kept on the SSL. */
void tlsri_peer_capture(const SSL *ssl, SSL_SESSION *sess);

#endif
