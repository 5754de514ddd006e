/*
 * Real TLS handshakes in memory for the C tests: a server and a client
 * SSL_CTX, joined by a BIO pair, with a self-signed certificate of its own
 * (the key is shared within a process).
 */
#ifndef TLSR_TEST_TLS_PAIR_H
#define TLSR_TEST_TLS_PAIR_H

#include <openssl/ssl.h>

enum { TP_RSA = 1, TP_EC = 2 };

/* A server context with a new self-signed "localhost" certificate.
 * max_version: TLS1_2_VERSION or TLS1_3_VERSION.  NULL on failure. */
SSL_CTX *tp_server_ctx(int key_type, int max_version);

/* A client context (verification off: the tests trust their own server). */
SSL_CTX *tp_client_ctx(int max_version);

/*
 * One connection: handshake, then one byte of application data from the
 * server so that TLS 1.3 tickets reach the client.  resume may be NULL.
 * Returns the client's session (owned) and sets *reused; NULL on failure.
 */
SSL_SESSION *tp_connect(SSL_CTX *server, SSL_CTX *client,
                        SSL_SESSION *resume, int *reused);

/* The same, also returning the server side's session (owned) if wanted. */
SSL_SESSION *tp_connect2(SSL_CTX *server, SSL_CTX *client,
                         SSL_SESSION *resume, int *reused,
                         SSL_SESSION **server_sess);

#endif
