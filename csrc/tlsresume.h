/*
 * tlsresume: save, restore and inspect TLS sessions (OpenSSL SSL_SESSION).
 *
 * The one public header.  Everything between TLSR_CDEF_BEGIN and
 * TLSR_CDEF_END is plain C that LuaJIT's ffi.cdef reads verbatim: no
 * preprocessor lines, no function-like macros, no varargs, no bitfields, no
 * structs passed by value; OpenSSL types appear only as opaque pointers.
 *
 * Conventions (as in libtls):
 *   - functions return 0 on success, a negative TLSR_E* code on failure, or
 *     NULL; on failure the caller's struct tlsr_error (if not NULL) holds the
 *     code and a message.  Messages never contain secret material.
 *   - _new / _parse / _dup / _take results are owned by the caller; get0_ is
 *     borrowed.  tlsr_*_free(NULL) is a no-op.
 *   - variable-size output goes to a caller buffer: pass buf = NULL to learn
 *     the size in *len, then call again with a buffer of that size.  A buffer
 *     that is too small gives TLSR_EBUFSIZE and the needed size in *len.
 *   - no global state; every function is thread-safe for distinct objects.
 */
#ifndef TLSRESUME_H
#define TLSRESUME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TLSR_CDEF_BEGIN */

struct ssl_session_st;
struct ssl_ctx_st;
struct ssl_st;

enum {
    TLSR_VERSION_NUMBER = 0x00010000 /* 0.1.0 */
};

/* Error codes: 0 is success, every failure is negative. */
enum {
    TLSR_OK = 0,
    TLSR_EINVAL = -1,       /* bad argument (misuse by the caller) */
    TLSR_ENOMEM = -2,       /* out of memory */
    TLSR_ETOOBIG = -3,      /* input larger than TLSR_MAX_INPUT */
    TLSR_EEMPTY = -4,       /* empty input */
    TLSR_ETRUNCATED = -5,   /* input ends before its encoding does */
    TLSR_ETRAILING = -6,    /* bytes after the encoded object */
    TLSR_EPEMLABEL = -7,    /* PEM block is not "SSL SESSION PARAMETERS" */
    TLSR_EBASE64 = -8,      /* PEM body is not valid base64 */
    TLSR_ENOTSESSION = -9,  /* DER that is not an SSL_SESSION */
    TLSR_EUNSUPPORTED = -10,/* protocol or cipher unknown to this OpenSSL */
    TLSR_EBUFSIZE = -11,    /* caller buffer too small (*len has the size) */
    TLSR_ETICKET = -12,     /* malformed session ticket */
    TLSR_EKEYNAME = -13,    /* no ticket key with the ticket's key name */
    TLSR_EMAC = -14,        /* ticket HMAC does not verify */
    TLSR_EDECRYPT = -15,    /* ticket decrypts to garbage */
    TLSR_EKEY = -16,        /* malformed ticket key or sealing key */
    TLSR_ENOTFOUND = -17,   /* store: no usable entry */
    TLSR_EIO = -18,         /* file system or network error */
    TLSR_EPERM = -19,       /* store: unsafe ownership or permissions */
    TLSR_ESEAL = -20,       /* store: sealed under another key, or tampered */
    TLSR_ECORRUPT = -21,    /* store: entry unreadable */
    TLSR_ENOTRESUMABLE = -22, /* session cannot be resumed (e.g. no ticket) */
    TLSR_ESSL = -23,        /* other OpenSSL failure */
    TLSR_ETRUST = -24,      /* session made under a weaker trust policy */
    TLSR_ECONNECT = -25     /* probe, Redis: cannot resolve, connect, log in */
};

enum {
    TLSR_MAX_INPUT = 65536,     /* largest session or ticket accepted */
    TLSR_ERRMSG_SIZE = 256
};

/* Caller-provided error report. */
struct tlsr_error {
    int code;                       /* a TLSR_E* code, 0 when cleared */
    char msg[256];                  /* NUL-terminated, no secrets */
};

/* Version of this library and of the OpenSSL it runs against. */
const char *tlsr_version(void);
unsigned long tlsr_openssl_version_num(void);
/* Path of the libssl this library is linked with, as the loader found it. */
int tlsr_libssl_path(char *buf, size_t *len, struct tlsr_error *err);
/* Constant name of an error code ("TLSR_EMAC"), "TLSR_E?" if unknown. */
const char *tlsr_error_name(int code);

/* ---- sessions: serialize, restore, normalize ---------------------------- */

enum {
    TLSR_FORMAT_DER = 0,    /* i2d_SSL_SESSION: Node getSession(), nginx */
    TLSR_FORMAT_PEM = 1     /* "SSL SESSION PARAMETERS": openssl sess_id */
};

enum {
    TLSR_SERIALIZE_LEAN = 1 /* leave out the peer certificate */
};

/* Encode a session; flags is 0 or TLSR_SERIALIZE_LEAN. */
int tlsr_session_serialize(const struct ssl_session_st *sess, int format,
                           unsigned int flags, uint8_t *buf, size_t *len,
                           struct tlsr_error *err);

/* Decode a session from PEM or DER (detected).  Owned by the caller. */
struct ssl_session_st *tlsr_session_parse(const uint8_t *data, size_t len,
                                          struct tlsr_error *err);
/*
 * tlsr_session_parse without decoding the peer certificate (d2i_X509 is
 * almost the whole cost of a restore): the session has no peer X509, and
 * its certificate's DER is kept with it (copied by SSL_SESSION_dup and
 * into the sessions a connection resuming it receives) and put back by
 * tlsr_session_serialize unless TLSR_SERIALIZE_LEAN.
 */
struct ssl_session_st *tlsr_session_parse_lean(const uint8_t *data,
                                               size_t len,
                                               struct tlsr_error *err);
/* DER of the session's peer certificate, decoded or kept; *len 0: none. */
int tlsr_session_get_peer_der(const struct ssl_session_st *sess,
                              uint8_t *buf, size_t *len,
                              struct tlsr_error *err);
/*
 * For a binding that sets a copy of sess on ssl (CPython's setter copies
 * through i2d/d2i, dropping what a lean session keeps): keep sess's
 * certificate bytes on ssl.  tlsr_ssl_get_peer_der then answers for a
 * resumed connection, and the sessions it receives keep the bytes.
 */
int tlsr_ssl_keep_peer(struct ssl_st *ssl, const struct ssl_session_st *sess,
                       struct tlsr_error *err);
/* 1 if SSL_get_app_data(ssl) is app_data (a binding that found ssl by
 * layout checks it so), else 0. */
int tlsr_ssl_check_app_data(const struct ssl_st *ssl, const void *app_data);
/* DER of the server's certificate on a client connection: the decoded
 * one, or after a lean resumption the kept bytes; *len 0: none. */
int tlsr_ssl_get_peer_der(const struct ssl_st *ssl, uint8_t *buf,
                          size_t *len, struct tlsr_error *err);


/* SSL_SESSION_up_ref / SSL_SESSION_free for bindings (FFI, Lua, Python). */
int tlsr_session_up_ref(struct ssl_session_st *sess);
void tlsr_session_free(struct ssl_session_st *sess);

/*
 * Set the session-id context a client context expects, so OpenSSL accepts
 * the session there (CPython <= 3.12 clients: "Python\0", 7 bytes; CPython
 * >= 3.13, OpenSSL, Node and nginx clients: empty).  len <= 32.
 */
int tlsr_session_set1_id_context(struct ssl_session_st *sess,
                                 const uint8_t *sid_ctx, size_t len,
                                 struct tlsr_error *err);

/* ---- files -------------------------------------------------------------- */

/*
 * Write a secret (e.g. a serialized session) to path, mode 0600: the bytes
 * go to a new temporary file (O_EXCL, O_NOFOLLOW) in path's directory,
 * fsync'd, then renamed over path; nothing already at path is ever opened.
 * TLSR_EPERM if path exists and is not a regular file owned by this user
 * with one link (a file, FIFO, symlink or hard link someone planted).
 */
int tlsr_file_write_private(const char *path, const uint8_t *data,
                            size_t len, struct tlsr_error *err);
/*
 * Read a session file into buf (capacity *len; *len gets the bytes read).
 * TLSR_EPERM unless it is a regular file owned by this user or root that
 * group and others cannot write (a session someone else planted would
 * resume with them); never blocks on a FIFO.  TLSR_ETOOBIG above
 * TLSR_MAX_INPUT; TLSR_EBUFSIZE (and the size in *len) if buf is smaller.
 */
int tlsr_file_read_private(const char *path, uint8_t *buf, size_t *len,
                           struct tlsr_error *err);

/* ---- live connections (bindings that hold an SSL*, e.g. LuaSec) --------- */

/*
 * Check that ssl is a live OpenSSL connection on socket fd, in client mode
 * (want_server 0) or server mode (1), with an SSL_CTX.  Bindings that found
 * the SSL* by layout call this before anything else.
 */
int tlsr_ssl_check(struct ssl_st *ssl, int fd, int want_server,
                   struct tlsr_error *err);
/* The connection's session (SSL_get1_session), owned by the caller, with
 * the record of what verified it (tlsr_trust_from_ssl) attached. */
struct ssl_session_st *tlsr_ssl_get1_session(struct ssl_st *ssl,
                                             struct tlsr_error *err);
/* Offer sess for resumption; call before the handshake.  Client only.
 * TLSR_ETRUST if ssl verifies more than what verified sess (a session
 * with no record: unless its own verify result is OK). */
int tlsr_ssl_set_session(struct ssl_st *ssl, struct ssl_session_st *sess,
                         struct tlsr_error *err);
/* 1 if the handshake resumed a session, 0 if not, < 0 on error. */
int tlsr_ssl_session_reused(struct ssl_st *ssl, struct tlsr_error *err);

/* ---- trust: a session is offered only where it was verified as well -- */

/*
 * A session records what verified its server (struct tlsr_trust, "made");
 * a connection about to resume has a policy of the same shape.  Resuming
 * skips the certificate check, so tlsr_trust_check allows a session only
 * when the policy does not verify at all, or when the session was verified
 * (verify on, result OK) with the same verification parameters, by a trust
 * anchor the policy's context still trusts, and, if the policy checks a
 * host name, for that name.  Stores keep the record with each entry.
 */
enum {
    TLSR_ANCHOR_NONE = 0,       /* unknown: only a non-verifying policy */
    TLSR_ANCHOR_CERT = 1,       /* anchor = SHA-256 of the anchor's DER */
    TLSR_ANCHOR_LABEL = 2       /* anchor = SHA-256 of a caller's label */
};

struct tlsr_trust {
    int verify;                 /* made: verified OK; policy: will verify */
    int check_host;             /* host below is matched to the certificate */
    char host[256];
    uint64_t flags;             /* X509_V_FLAG_* in force */
    int depth;                  /* verify depth in force */
    int anchor_kind;            /* TLSR_ANCHOR_* */
    uint8_t anchor[32];
    uint32_t anchor_subject_len;
    uint8_t anchor_subject[512];    /* DER of the anchor's subject name */
};

/* What verified ssl's server: call after the handshake.  A resumed
 * connection inherits the record of the session it resumed. */
int tlsr_trust_from_ssl(const struct ssl_st *ssl, struct tlsr_trust *made,
                        struct tlsr_error *err);
/* What ssl will verify (its verify mode, parameters and host name):
 * call before the handshake. */
int tlsr_trust_policy_ssl(const struct ssl_st *ssl, struct tlsr_trust *policy,
                          struct tlsr_error *err);
/* What connections of ctx will verify; check_host is the name they match
 * against the certificate, or NULL when they match none. */
int tlsr_trust_policy_ctx(const struct ssl_ctx_st *ctx, const char *check_host,
                          struct tlsr_trust *policy, struct tlsr_error *err);
/* For a session made by ctx that ctx's connections verified against
 * check_host (NULL: none), rebuilt from the session's own peer
 * certificate: used when the connection is gone.  An anchor that needs an
 * intermediate the context does not hold stays TLSR_ANCHOR_NONE. */
int tlsr_trust_from_session(const struct ssl_session_st *sess,
                            const struct ssl_ctx_st *ctx,
                            const char *check_host, struct tlsr_trust *made,
                            struct tlsr_error *err);
/* A label in place of an anchor (OpenResty: lua_ssl_trusted_certificate
 * cannot be read back), as a TLSR_ANCHOR_LABEL of policy or made. */
int tlsr_trust_set_label(struct tlsr_trust *trust, const char *label,
                         struct tlsr_error *err);
/* 0 if a session made under made may be offered under policy, whose
 * trust anchors are those of ctx (NULL for label policies); TLSR_ETRUST
 * with the reason otherwise.  made NULL: a record-less session. */
int tlsr_trust_check(const struct tlsr_trust *made,
                     const struct tlsr_trust *policy,
                     const struct ssl_ctx_st *ctx, struct tlsr_error *err);
/* The record a session carries in memory (stores attach it on reads,
 * tlsr_ssl_get1_session on capture): 0, or TLSR_ENOTFOUND if none. */
int tlsr_session_get_trust(const struct ssl_session_st *sess,
                           struct tlsr_trust *made, struct tlsr_error *err);
int tlsr_session_set1_trust(struct ssl_session_st *sess,
                            const struct tlsr_trust *made,
                            struct tlsr_error *err);

/* ---- sessions: inspect --------------------------------------------------- */

struct tlsr_session_info {
    int protocol_version;           /* 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
    char protocol_name[16];         /* "TLSv1.2" */
    uint32_t cipher_id;             /* IANA id, e.g. 0x1302 */
    char cipher_name[64];           /* OpenSSL name */
    char cipher_rfc_name[96];       /* RFC / IANA name */
    uint8_t session_id[32];
    uint32_t session_id_len;
    uint8_t sid_ctx[32];
    uint32_t sid_ctx_len;
    int64_t time;                   /* creation, Unix seconds */
    int64_t timeout;                /* seconds */
    /* When the session stops being usable: time + the smaller of timeout
     * and, for a ticket, a nonzero ticket_lifetime_hint (as the store). */
    int64_t expires;
    int64_t remaining;              /* expires - "now", >= 0 */
    int resumable;                  /* SSL_SESSION_is_resumable */
    int has_ticket;
    uint32_t ticket_len;            /* bytes: see tlsr_session_get_ticket */
    uint32_t ticket_lifetime_hint;  /* seconds */
    uint32_t ticket_age_add;        /* RFC 8446 4.6.1 age mask: not printed */
    int has_ticket_age_add;
    uint32_t max_early_data;
    char alpn[256];                 /* selected protocol, "" if none */
    char sni[256];                  /* stored hostname, "" if none */
    int has_peer;
    char peer_subject[256];         /* RFC 2253 */
    char peer_issuer[256];
    int64_t peer_not_after;         /* Unix seconds, 0 if unreadable */
    uint8_t peer_sha256[32];
    int64_t verify_result;          /* X509_V_OK == 0 */
    int extended_master_secret;
    uint32_t master_key_len;        /* length only, never the bytes */
};

/* Fill info; now is the Unix time for "remaining" (0: current time). */
int tlsr_session_inspect(const struct ssl_session_st *sess, int64_t now,
                         struct tlsr_session_info *info,
                         struct tlsr_error *err);

/* Copy the ticket the server sent (empty if none). */
int tlsr_session_get_ticket(const struct ssl_session_st *sess, uint8_t *buf,
                            size_t *len, struct tlsr_error *err);

/* SECRET: the master secret (TLS 1.2) or resumption PSK (TLS 1.3). */
int tlsr_session_get_master_key_secret(const struct ssl_session_st *sess,
                                       uint8_t *buf, size_t *len,
                                       struct tlsr_error *err);

/* ---- tickets (server side: RFC 5077 / OpenSSL layout) ------------------- */

struct tlsr_ticket_info {
    uint8_t key_name[16];
    uint8_t iv[16];
    uint32_t ciphertext_len;
    uint8_t mac[32];                /* HMAC-SHA256 over name|iv|ciphertext */
};

/* Split a ticket into its parts (no keys needed). */
int tlsr_ticket_parse(const uint8_t *ticket, size_t len,
                      struct tlsr_ticket_info *info, struct tlsr_error *err);

enum {
    TLSR_KEYS_OPENSSL80 = 1,   /* name16|hmac32|aes32, AES-256-CBC (OpenSSL, nginx 80) */
    TLSR_KEYS_NGINX48 = 2,     /* name16|aes16|hmac16, AES-128-CBC */
    TLSR_KEYS_NODE48 = 3       /* name16|hmac16|aes16, AES-128-CBC */
};

/* A set of server ticket keys (rotation: several may be added). */
struct tlsr_ticket_keys;

struct tlsr_ticket_keys *tlsr_ticket_keys_new(struct tlsr_error *err);
void tlsr_ticket_keys_free(struct tlsr_ticket_keys *keys);
/* Add one key file's bytes; format is a TLSR_KEYS_* value. */
int tlsr_ticket_keys_add(struct tlsr_ticket_keys *keys, const uint8_t *data,
                         size_t len, int format, struct tlsr_error *err);
/* Fill buf with a fresh random key in format (80 or 48 bytes). */
int tlsr_ticket_keys_generate(int format, uint8_t *buf, size_t *len,
                              struct tlsr_error *err);
/* Verify (constant time) and decrypt a ticket to the server-side session. */
struct ssl_session_st *tlsr_ticket_decrypt(const struct tlsr_ticket_keys *keys,
                                           const uint8_t *ticket, size_t len,
                                           struct tlsr_error *err);

/* ---- the on-disk session store ------------------------------------------ */

struct tlsr_store;

enum {
    TLSR_STORE_LEAN = 1,        /* store entries without the peer certificate */
    TLSR_STORE_RESTORE_LEAN = 2 /* get/take decode no peer certificate: its
                                   DER stays with the session (see
                                   tlsr_session_parse_lean) */
};

struct tlsr_store_options {
    uint32_t max_tickets;       /* TLS 1.3 tickets kept per key (0: 8) */
    uint32_t max_entries;       /* bound on all entries (0: 100000) */
    int64_t max_lifetime;       /* seconds, cap on any entry (0: 7 days) */
    const uint8_t *seal_key;    /* NULL, or 32 bytes: AES-256-GCM sealing */
    size_t seal_key_len;
    uint32_t flags;             /* TLSR_STORE_* */
};

struct tlsr_store_entry {
    char host[256];
    int port;
    char context[256];          /* the key's scope ("" if none) */
    int sealed;
    struct tlsr_session_info info;
};

void tlsr_store_options_init(struct tlsr_store_options *opts);
struct tlsr_store *tlsr_store_open(const char *path,
                                   const struct tlsr_store_options *opts,
                                   struct tlsr_error *err);
void tlsr_store_free(struct tlsr_store *store);
/*
 * Keys are (host, port, context): context is the key's scope, the name the
 * bindings use (Python and Lua scope=), a free string separating sessions
 * of one server made under different settings; NULL or "" is none.
 * tlsr_store_open creates missing parent directories (0700) and refuses a
 * directory that others can write or another user owns; one that others
 * cannot write (0755) is used as it is.  The entry keeps sess's trust
 * record; a session with none is kept as unverified.
 */
int tlsr_store_put(struct tlsr_store *store, const char *host, int port,
                   const char *context, struct ssl_session_st *sess,
                   struct tlsr_error *err);
/*
 * The newest usable session for the key that policy allows (see
 * tlsr_trust_check; ctx holds the policy's trust anchors), left in the
 * store (peek).  policy NULL: the caller will not verify the server, so
 * any session will do.  Sessions come back with their trust record.
 */
struct ssl_session_st *tlsr_store_get(struct tlsr_store *store,
                                      const char *host, int port,
                                      const char *context,
                                      const struct tlsr_trust *policy,
                                      const struct ssl_ctx_st *ctx,
                                      struct tlsr_error *err);
/* The session to resume with: a TLS 1.3 ticket is removed (single use).
 * Entries the policy refuses are left in the store. */
struct ssl_session_st *tlsr_store_take(struct tlsr_store *store,
                                       const char *host, int port,
                                       const char *context,
                                       const struct tlsr_trust *policy,
                                       const struct ssl_ctx_st *ctx,
                                       struct tlsr_error *err);
/* Switch TLSR_STORE_RESTORE_LEAN for the calls that follow (a binding
 * that restores lean for some callers only; serialize with them). */
int tlsr_store_set_restore_lean(struct tlsr_store *store, int lean);
/* Remove every entry for the key; returns the number removed. */
int tlsr_store_remove(struct tlsr_store *store, const char *host, int port,
                      const char *context, struct tlsr_error *err);
/* Remove expired and surplus entries; returns the number removed. */
int tlsr_store_prune(struct tlsr_store *store, struct tlsr_error *err);
/* Number of entries (usable or not) in the store. */
int tlsr_store_count(struct tlsr_store *store, struct tlsr_error *err);

struct tlsr_store_iter;
struct tlsr_store_iter *tlsr_store_iter_new(struct tlsr_store *store,
                                            struct tlsr_error *err);
/* 1: entry filled, 0: end, < 0: error. */
int tlsr_store_iter_next(struct tlsr_store_iter *iter,
                         struct tlsr_store_entry *entry,
                         struct tlsr_error *err);
void tlsr_store_iter_free(struct tlsr_store_iter *iter);

/* ---- store entries without a directory (Redis and other stores) -------- */

/*
 * A codec reads and writes the store's entries as bytes (the same bytes as
 * a store file: a text header with the key, expiry and trust record, then
 * the PEM block, or the sealed form), for stores kept elsewhere.  Options
 * as for tlsr_store_open: seal_key, flags (TLSR_STORE_LEAN; with
 * TLSR_STORE_RESTORE_LEAN decode restores lean), max_lifetime.
 */
struct tlsr_codec;

enum {
    TLSR_ENTRY_T12 = 12,        /* a TLS 1.2 session: reused until it expires */
    TLSR_ENTRY_T13 = 13,        /* a TLS 1.3 ticket: single use */
    TLSR_ENTRY_MAX = 196608     /* no entry is larger (3 * TLSR_MAX_INPUT) */
};

struct tlsr_codec *tlsr_codec_new(const struct tlsr_store_options *opts,
                                  struct tlsr_error *err);
void tlsr_codec_free(struct tlsr_codec *codec);
/* The entry for sess under (host, port, scope) into buf (caller buffer;
 * TLSR_ENTRY_MAX always suffices); its expiry (Unix seconds) and kind
 * (TLSR_ENTRY_*).  Sealed entries differ on each call (a fresh nonce). */
int tlsr_entry_encode(struct tlsr_codec *codec, const char *host, int port,
                      const char *scope, struct ssl_session_st *sess,
                      uint8_t *buf, size_t *len, int64_t *expires, int *kind,
                      struct tlsr_error *err);
/* The entry's session, with its trust record, if its header names (host,
 * port, scope), it has not expired and policy allows it (as for
 * tlsr_store_get; policy NULL: any).  TLSR_ENOTFOUND: another key's or
 * expired; TLSR_ETRUST: refused; TLSR_ESEAL / TLSR_ECORRUPT: unreadable. */
struct ssl_session_st *tlsr_entry_decode(struct tlsr_codec *codec,
                                         const uint8_t *buf, size_t len,
                                         const char *host, int port,
                                         const char *scope,
                                         const struct tlsr_trust *policy,
                                         const struct ssl_ctx_st *ctx,
                                         struct tlsr_error *err);
/* The key's name: SHA-256 of (host, port, scope) as the store's layout
 * hashes it, 64 lowercase hex digits and a NUL (buf NULL: *len = 65;
 * filled: *len = 64). */
int tlsr_entry_key(const char *host, int port, const char *scope, char *buf,
                   size_t *len, struct tlsr_error *err);

/* ---- automatic persistence: client contexts save into a store ----------- */

/*
 * A store shared by connections (csrc/attach.c): reference counted, its
 * mutex serializes store calls.  The new-session callback (inside
 * SSL_read/SSL_do_handshake, on any thread) never writes nor waits for the
 * store: it queues a reference to the session (at most 128 waiting; more are
 * dropped) for a writer thread the attach starts at its first capture.
 * exit() writes what is still queued (2 s at most) before OpenSSL's own
 * cleanup; _exit() and crashes lose it.  After fork() the child drops
 * what the parent had queued (the parent writes it) and starts its own
 * writer when needed; do not fork between tlsr_attach_lock() and
 * tlsr_attach_unlock().
 */
struct tlsr_attach;

/* Takes ownership of store on success (freed with the last reference). */
struct tlsr_attach *tlsr_attach_new(struct tlsr_store *store,
                                    struct tlsr_error *err);
/*
 * An attach without a store, for stores across the network (Redis): the
 * new-session callback only queues each capture (as above; no writer
 * thread), and the binding pops them from a thread of its own.
 * tlsr_attach_lock gives NULL; tlsr_attach_flush has nothing to write.
 */
struct tlsr_attach *tlsr_attach_new_queue(struct tlsr_error *err);
/* Wait up to timeout_ms for a capture: 1 with its key (host and context:
 * 256-byte buffers) and *sess (owned by the caller), 0 if none came. */
int tlsr_attach_pop(struct tlsr_attach *att, int timeout_ms, char *host,
                    int *port, char *context, struct ssl_session_st **sess,
                    struct tlsr_error *err);
/* Captures waiting in the queue. */
int tlsr_attach_pending(struct tlsr_attach *att);
/* Drops the caller's reference.  The last one writes what is still queued
 * and joins the writer: never call it with the store locked. */
void tlsr_attach_free(struct tlsr_attach *att);
/* Lock and return the store; every store call on it goes between these.
 * Queued sessions are written first: calls see every session captured
 * before them. */
struct tlsr_store *tlsr_attach_lock(struct tlsr_attach *att);
void tlsr_attach_unlock(struct tlsr_attach *att);
/* Write every queued session now, waiting at most timeout_ms (< 0: no
 * limit) for the store: TLSR_EIO if some are still queued at the end. */
int tlsr_attach_flush(struct tlsr_attach *att, int timeout_ms,
                      struct tlsr_error *err);
/* A new reference to the attach ctx saves into (free it with
 * tlsr_attach_free), or NULL if ctx is not attached. */
struct tlsr_attach *tlsr_attach_get(const struct ssl_ctx_st *ctx);
/*
 * Save every new client session of ctx into att's store (new-session
 * callback, client cache mode, no internal cache); ctx keeps a reference.
 * att NULL detaches.  Fails if ctx has another new-session callback.
 * For client contexts: the internal cache is off for server use too.
 */
int tlsr_attach_ctx(struct tlsr_attach *att, struct ssl_ctx_st *ctx,
                    struct tlsr_error *err);
/*
 * Key under which ssl's sessions are saved; call before the handshake.
 * app_data, if not NULL, must equal SSL_get_app_data(ssl) (bindings that
 * found the SSL* by layout check it so).  context is the key's scope (see
 * tlsr_store_put).  A connection without a key is
 * never saved: the binding decides the key, or that there is none (a
 * tunnel, a socket without a port).  The key holds a reference to the
 * context's attach until the connection is freed, so detaching while it
 * is live is safe.
 */
int tlsr_attach_ssl(struct ssl_st *ssl, const void *app_data,
                    const char *host, int port, const char *context,
                    struct tlsr_error *err);
/*
 * Tell the capture which session the binding offered ssl (after
 * tlsr_attach_ssl, before the handshake): if the connection resumes it,
 * its new tickets keep that session's trust record even when the binding's
 * language copied the session on the way (CPython's session setter).
 */
int tlsr_attach_offer(struct ssl_st *ssl, const void *app_data,
                      const struct ssl_session_st *sess,
                      struct tlsr_error *err);
/* SSL_CTX_get_options: lets a binding check it found the right SSL_CTX. */
uint64_t tlsr_ctx_get_options(const struct ssl_ctx_st *ctx);
/* A private deep copy of sess (SSL_SESSION_dup), owned by the caller. */
struct ssl_session_st *tlsr_session_dup(const struct ssl_session_st *sess,
                                        struct tlsr_error *err);
/* Cheap facts for bindings to check a session they found by layout. */
struct tlsr_session_brief {
    int protocol_version;
    uint8_t session_id[32];
    uint32_t session_id_len;
    uint32_t sid_ctx_len;
    int64_t time;
    int64_t timeout;
    int has_ticket;
};
int tlsr_session_get_brief(const struct ssl_session_st *sess,
                           struct tlsr_session_brief *brief,
                           struct tlsr_error *err);

/* ---- servers: a session-ID cache shared through a store ----------------- */

/*
 * A server's session cache kept in a store, so every process (and machine
 * sharing the directory) resumes the others' TLS 1.2 session IDs and TLS
 * 1.3 stateful tickets (SSL_OP_NO_TICKET, or early data with anti-replay).
 * OpenSSL's server new/get/remove session callbacks keep entries; its
 * internal cache is off.  The new and remove callbacks only queue (at most
 * 1024 waiting; more are dropped): the cache's writer thread writes within
 * ~20 ms, so another process sees a new session that much later (this one
 * at once: lookups read the queue first, then the store).  exit() and fork()
 * are handled as for tlsr_attach.  Entries are keyed by session id
 * (and scope) apart from every client key: client lookups never see them.
 * They hold the server's session (its master secret): sealed when the
 * store is, expiring with the session's timeout.  OpenSSL compares the
 * session-id context itself (a different one is a miss).  A failing store
 * is a miss, never a failed handshake; its first failure goes to the warn
 * hook.  The store's eviction never runs in a handshake: a store at
 * max_entries keeps no new sessions (warned once) until it is pruned
 * (tlsr_store_prune, `tlsresume store prune`).  With an SNI callback that switches contexts, give every context
 * the same cache.
 */
struct tlsr_server_cache;

struct tlsr_server_cache_stats {
    uint64_t stored;            /* new sessions written (by the writer) */
    uint64_t hits;              /* lookups that found a session */
    uint64_t misses;            /* lookups that did not */
    uint64_t removed;           /* entries the remove callback deleted */
    uint64_t failures;          /* store calls that failed */
    uint64_t full;              /* new sessions not kept: store full */
    uint64_t dropped;           /* sessions / removals lost: queue full */
    int first_error_code;       /* of the first failure, 0 if none */
    char first_error[256];
};

/* Called once per kind of failure (store failure, full store, full
 * queue), on a handshake's thread (a callback's) or a flush's: never on the
 * writer thread, with no lock held. */
typedef void (*tlsr_warn_fn)(void *arg, int code, const char *msg);

/* A cache on store's directory (its own handle: store stays the caller's,
 * same options and seal key).  scope separates fleets sharing a store. */
struct tlsr_server_cache *tlsr_server_cache_new(const struct tlsr_store *store,
                                                const char *scope,
                                                struct tlsr_error *err);
/* Drops the caller's reference (contexts keep theirs).  The last one
 * writes what is still queued and joins the writer. */
void tlsr_server_cache_free(struct tlsr_server_cache *sc);
/* Write every queued session / removal now, waiting at most timeout_ms
 * (< 0: no limit) for the store: TLSR_EIO if some are still queued. */
int tlsr_server_cache_flush(struct tlsr_server_cache *sc, int timeout_ms,
                            struct tlsr_error *err);
int tlsr_server_cache_set_warn(struct tlsr_server_cache *sc, tlsr_warn_fn fn,
                               void *arg, struct tlsr_error *err);
/*
 * Serve ctx's session cache from sc (ctx keeps a reference); sc NULL
 * detaches (OpenSSL's internal cache is back).  Again with the same store
 * and scope: nothing changes.  TLSR_EINVAL if ctx has session callbacks of
 * its own or another cache.
 */
int tlsr_server_cache_ctx(struct tlsr_server_cache *sc, struct ssl_ctx_st *ctx,
                          struct tlsr_error *err);
/*
 * The same cache kept in Redis, for a fleet across machines: entries are
 * the store's (codec: seal key, lean, max_lifetime; NULL: defaults) under
 * prefix + SHA-256 of the server key as hex, with the session's expiry as
 * their TTL.  Writes are the writer thread's (timeout_ms each).  A lookup
 * runs in the handshake: it waits at most lookup_timeout_ms (connecting
 * included), then is a miss.  After a failure Redis is left alone for
 * retry_after_ms: lookups are instant misses, new sessions are not kept.
 * The host is resolved here, once; Redis is first reached on use (a
 * Redis that is down or refuses the password is a warning then, never a
 * failed handshake).  Plain TCP or a Unix socket: no TLS to Redis.
 */
struct tlsr_redis_options {
    const char *host;           /* name or address; NULL with unix_path */
    int port;                   /* 0: 6379 */
    const char *unix_path;      /* a Unix socket instead of host:port */
    const char *username;       /* ACL user; NULL: none (AUTH password) */
    const char *password;       /* NULL: no AUTH */
    int db;                     /* SELECTed when not 0 */
    const char *prefix;         /* of every key; NULL: "tlsresume:" */
    int timeout_ms;             /* each write; 0: 200 */
    int lookup_timeout_ms;      /* each handshake's lookup; 0: 10 */
    int retry_after_ms;         /* rest after a failure; 0: 1000 */
};

void tlsr_redis_options_init(struct tlsr_redis_options *opts);
struct tlsr_server_cache *tlsr_server_cache_new_redis(
    const struct tlsr_redis_options *redis, const struct tlsr_codec *codec,
    const char *scope, struct tlsr_error *err);
/* A new reference to ctx's cache (free it), or NULL if it has none. */
struct tlsr_server_cache *tlsr_server_cache_get(const struct ssl_ctx_st *ctx);
int tlsr_server_cache_stats(struct tlsr_server_cache *sc,
                            struct tlsr_server_cache_stats *stats,
                            struct tlsr_error *err);

/* ---- probe: how a server (or a pool of servers) resumes ------------------ */

/*
 * tlsr_probe_run connects to a server as a client, many times, and records
 * whether it resumes: session IDs (tickets off), TLS 1.2 tickets, TLS 1.3
 * PSK (sessions taken only after the server's tickets arrived), across the
 * addresses of a pool, and 0-RTT.  Blocking, but every socket operation
 * (connect, handshake, read) ends within timeout_ms; name resolution uses
 * getaddrinfo.  The result is a JSON document (schema: docs/probe.md).
 */
enum {
    TLSR_PROBE_TLS12 = 1,
    TLSR_PROBE_TLS13 = 2,
    TLSR_PROBE_MAX_ADDRS = 16,
    TLSR_PROBE_MAX_TRIES = 100
};

struct tlsr_probe_opts {
    const char *host;           /* name (resolved, verified) or an address */
    int port;
    const char *sni;            /* NULL: host unless an address; "": none */
    const char *const *ips;     /* n_ips address literals to probe, or NULL */
    size_t n_ips;
    int all_ips;                /* every address host resolves to */
    int tries;                  /* resumption attempts per mechanism (5) */
    int versions;               /* TLSR_PROBE_* bits; 0: both, as supported */
    int mechanisms;             /* 0: all; bits 1 session id, 2 tickets 1.2,
                                   4 TLS 1.3 */
    int early_data;             /* try 0-RTT with request */
    const uint8_t *request;     /* NULL: HEAD / HTTP/1.1 with Host */
    size_t request_len;
    int timeout_ms;             /* per operation (0: 5000) */
    int insecure;               /* do not verify the certificate */
    const char *cafile;         /* NULL: the system's trust store */
};

struct tlsr_probe;

void tlsr_probe_opts_init(struct tlsr_probe_opts *opts);
/* NULL and err (TLSR_ECONNECT: one line saying what failed; TLSR_EINVAL
 * for bad options) when the target cannot be probed at all. */
struct tlsr_probe *tlsr_probe_run(const struct tlsr_probe_opts *opts,
                                  struct tlsr_error *err);
/* The report as JSON (buf NULL: size in *len, NUL not counted). */
int tlsr_probe_json(const struct tlsr_probe *probe, char *buf, size_t *len,
                    struct tlsr_error *err);
/* 0: every mechanism probed resumed in every try; 1: some did not. */
int tlsr_probe_exit_status(const struct tlsr_probe *probe);
void tlsr_probe_free(struct tlsr_probe *probe);

/* ---- ticket key rings: shared, rotated server ticket keys ---------------- */

/*
 * A ring is a directory (0700, files 0600) of server ticket keys and their
 * schedule, shared by every server process (and, copied, machine) that must
 * resume each other's tickets.  Time is cut into periods from the ring's
 * origin; the key of a period starts encrypting at its start, is published
 * one period ahead ("next": peers that rotate a little apart still accept
 * it), and decrypts for "keep" seconds after its successor takes over.
 * Roles are a function of the key files and the clock; rotating (making
 * the missing current and next keys, deleting expired ones) is idempotent,
 * and any number of processes may do it at once.  See docs in csrc/ring.h.
 */
struct tlsr_ring;

enum {
    TLSR_RING_ENCRYPT = 1,      /* encrypts new tickets (and decrypts) */
    TLSR_RING_NEXT = 2,         /* published ahead: decrypts only */
    TLSR_RING_DECRYPT = 3,      /* retired: decrypts until it expires */
    TLSR_RING_EXPIRED = 4       /* past its keep: used for nothing */
};

enum {
    TLSR_RING_MAX_LIFE = 7 * 86400  /* RFC 8446 4.6.1: no key decrypts longer */
};

struct tlsr_ring_options {
    int64_t period;             /* seconds a key encrypts (0: 3600) */
    int64_t keep;               /* seconds it decrypts afterwards (0: 43200) */
    int format;                 /* TLSR_KEYS_OPENSSL80 (0: this), NGINX48 or
                                   NODE48 (AES-128 keys, for Node / nginx 48) */
};

struct tlsr_ring_key {
    uint8_t name[16];           /* the key name tickets carry (not secret) */
    int role;                   /* TLSR_RING_* at "now" */
    int64_t start;              /* starts encrypting, Unix seconds */
    int64_t end;                /* stops encrypting (0: not yet known) */
    int64_t expires;            /* stops decrypting (0: not yet known) */
};

void tlsr_ring_options_init(struct tlsr_ring_options *opts);
/* Create a ring at path (its current and next keys); TLSR_EINVAL if one
 * is there already. */
int tlsr_ring_init(const char *path, const struct tlsr_ring_options *opts,
                   struct tlsr_error *err);
/* Open (load) a ring: TLSR_ENOTFOUND missing, TLSR_EPERM unsafe,
 * TLSR_ECORRUPT unreadable.  Reference counted: tlsr_ring_free drops one. */
struct tlsr_ring *tlsr_ring_open(const char *path, struct tlsr_error *err);
void tlsr_ring_free(struct tlsr_ring *ring);
int tlsr_ring_get_options(struct tlsr_ring *ring,
                          struct tlsr_ring_options *opts,
                          struct tlsr_error *err);
/*
 * Rotate as of now (0: the clock): make the current and next periods' keys
 * if missing, delete expired keys; force: a new key encrypting from now.
 * Returns 1 if the ring changed, 0 if nothing was due, < 0 on error.  The
 * ring object is reloaded afterwards.
 */
int tlsr_ring_rotate(struct tlsr_ring *ring, int64_t now, int force,
                     struct tlsr_error *err);
/* Re-read the ring's files (tlsr_ring_rotate and the callback do it). */
int tlsr_ring_reload(struct tlsr_ring *ring, struct tlsr_error *err);
/* The idx-th key (oldest first) with its role at now (0: the clock):
 * 1 filled, 0 past the end, < 0 error.  Never a secret. */
int tlsr_ring_key_get(struct tlsr_ring *ring, size_t idx, int64_t now,
                      struct tlsr_ring_key *key, struct tlsr_error *err);
/* The ring's usable keys as a ticket key set (encrypting key first), for
 * tlsr_ticket_decrypt.  Owned by the caller. */
struct tlsr_ticket_keys *tlsr_ring_ticket_keys(struct tlsr_ring *ring,
                                               int64_t now,
                                               struct tlsr_error *err);

enum {
    TLSR_EXPORT_NGINX80 = 1,    /* DIR/0.key (encrypts), 1.key, ...: 80 B */
    TLSR_EXPORT_NGINX48 = 2,    /* the same, 48 B (AES-128 rings) */
    TLSR_EXPORT_HAPROXY = 3,    /* DIR/haproxy.keys: base64 lines */
    TLSR_EXPORT_NODE48 = 4      /* DIR/node.key: the encrypting key, 48 B */
};

/*
 * Write the usable keys to dir (created 0700 if missing) in the order the
 * server expects (files 0600, written by temporary file + rename; stale
 * N.key files from a longer export are removed).  Returns the number of
 * keys written.
 */
int tlsr_ring_export(struct tlsr_ring *ring, int format, const char *dir,
                     int64_t now, struct tlsr_error *err);

enum {
    TLSR_RING_NO_AUTO_ROTATE = 1    /* servers never rotate the ring */
};

struct tlsr_ring_attach_options {
    const uint8_t *session_id_context;  /* NULL: leave ctx's as it is */
    size_t session_id_context_len;      /* <= 32 */
    uint32_t flags;                     /* TLSR_RING_* above */
};

/*
 * Serve ctx's tickets from ring (SSL_CTX_set_tlsext_ticket_key_evp_cb): the
 * encrypting key seals new tickets; a ticket under another known key, and
 * every TLS 1.3 resumption, gets a fresh one.  The ring is checked for
 * changes at most once a second (a stat), and rotated when due unless
 * TLSR_RING_NO_AUTO_ROTATE; a reload that fails keeps the last good keys
 * and is counted in tlsr_ring_status.  ctx holds a reference to ring.
 * Sets ctx's session timeout to keep (the ticket lifetime hint).
 */
int tlsr_ring_attach_ctx(struct tlsr_ring *ring, struct ssl_ctx_st *ctx,
                         const struct tlsr_ring_attach_options *opts,
                         struct tlsr_error *err);

struct tlsr_ring_status {
    uint64_t reloads;           /* successful reloads */
    uint64_t failures;          /* failed reloads or rotations */
    int last_code;              /* code of the last failure, 0 if none */
    char last_msg[256];         /* its message (no secrets) */
    uint64_t encrypted;         /* tickets issued */
    uint64_t decrypted;         /* tickets accepted */
    uint64_t renewed;           /* of those, answered with a fresh ticket */
    uint64_t unknown;           /* tickets under no usable key */
};

/* Counters; clear: reset failures/last_* after reading them. */
int tlsr_ring_status(struct tlsr_ring *ring, struct tlsr_ring_status *status,
                     int clear, struct tlsr_error *err);
/* A hook called (from a handshake, any thread, no locks held) when a
 * reload or rotation fails after having worked; arg is the caller's. */
int tlsr_ring_set_warn(struct tlsr_ring *ring, tlsr_warn_fn fn,
                       void *arg, struct tlsr_error *err);

/* ---- TLS 1.3 early data (0-RTT), client side ---------------------------- */

enum {
    TLSR_EARLY_NOT_SENT = 0,    /* no early data, or the handshake is on */
    TLSR_EARLY_ACCEPTED = 1,    /* the server took the early data */
    TLSR_EARLY_REJECTED = 2,    /* sent and discarded: send it again */
    TLSR_EARLY_WANT_READ = 3,   /* non-blocking: retry the same write */
    TLSR_EARLY_WANT_WRITE = 4
};

/*
 * Bytes of early data ssl may send: its session's max_early_data when the
 * session is a resumable TLS 1.3 one, the handshake has not started, its
 * SNI is the connection's and its ALPN (if any) is in alpn (the client's
 * list in wire format, NULL: none); 0 otherwise.  An attempt OpenSSL would
 * turn into a fatal alert (SNI or ALPN inconsistent) gives 0.
 */
uint32_t tlsr_ssl_early_data_max(const struct ssl_st *ssl,
                                 const uint8_t *alpn, size_t alpn_len);
/*
 * SSL_write_early_data: before the handshake, send data with the
 * ClientHello; then complete the handshake as usual.  Returns TLSR_OK with
 * *written, TLSR_EARLY_WANT_READ / _WRITE on a non-blocking socket (call
 * again with the same arguments), or a TLSR_E* code.  Early data can be
 * replayed by an attacker: send only what is safe to repeat.
 */
int tlsr_ssl_write_early_data(struct ssl_st *ssl, const uint8_t *data,
                              size_t len, size_t *written,
                              struct tlsr_error *err);
/* After the handshake: a TLSR_EARLY_NOT_SENT/ACCEPTED/REJECTED value. */
int tlsr_ssl_get_early_data_status(const struct ssl_st *ssl);

/* TLSR_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* TLSRESUME_H */
