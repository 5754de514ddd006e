/* Private state of the probe (probe_net.c, probe_conn.c, probe_run.c,
 * probe_json.c). */
#ifndef TLSR_PROBE_H
#define TLSR_PROBE_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "internal.h"

enum {
    PROBE_MAX_TICKETS = 8,          /* NewSessionTickets kept per connection */
    PROBE_MAX_CONNS = 4096
};

/* What a connection was for. */
enum probe_mech {
    MECH_SESSION_ID = 0,
    MECH_TICKET12 = 1,
    MECH_TLS13 = 2,
    MECH_EARLY = 3,
    MECH_REUSE13 = 4,       /* an already used TLS 1.3 ticket offered again */
    MECH_REPLAY = 5,        /* early data with an already used ticket */
    MECH_CROSS12 = 6,
    MECH_CROSS13 = 7,
    MECH_CROSSID = 8,       /* a session ID from one address at another */
    MECH_COUNT = 9
};

/* RFC 5077 section 3.1 patterns of a TLS 1.2 connection. */
enum probe_pattern {
    PAT_NONE = 0,               /* not TLS 1.2, or no ticket involved */
    PAT_FULL_NEW_TICKET,        /* full handshake, a ticket issued */
    PAT_FULL_NO_TICKET,         /* no ticket offered, none issued */
    PAT_ABBREV_RENEWED,         /* resumed with a renewed ticket */
    PAT_ABBREV,                 /* resumed, no new ticket */
    PAT_REFUSED_NO_TICKET,      /* ticket refused: full, no new ticket */
    PAT_REFUSED_NEW_TICKET      /* ticket refused: full, a new ticket */
};

struct probe_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[64];              /* "127.0.0.1" or "::1" */
};

struct probe_ticket {
    uint32_t lifetime;
    uint32_t max_early;         /* TLS 1.3 early_data extension, 0 if none */
    uint32_t len;
    uint8_t name[16];
    int layout_ok;              /* tlsr_ticket_parse accepts it */
};

struct probe_conn {
    int mech;                   /* enum probe_mech */
    int addr;                   /* index of the address connected to */
    int from_addr;              /* cross: address the session came from */
    int version;                /* negotiated, 0x0303 / 0x0304 */
    int offered;                /* a session was offered */
    int resumed;
    int n_tickets;              /* NewSessionTicket messages received */
    struct probe_ticket t[PROBE_MAX_TICKETS];
    int pattern;                /* enum probe_pattern */
    int early;                  /* -1 not tried, 0 rejected, 1 accepted */
    int sent_request;           /* tickets came only after a request */
    double ms;                  /* wall time of the connection */
};

/* Live sessions of one connection, from the new-session callback. */
struct probe_live {
    struct probe_conn *rec;
    SSL_SESSION *sess[PROBE_MAX_TICKETS];
    int n_sess;
};

struct tlsr_probe {
    struct tlsr_probe_opts o;   /* strings point into the copies below */
    char host[256];
    char sni[256];
    char *request;
    size_t request_len;
    struct probe_addr addrs[TLSR_PROBE_MAX_ADDRS];
    int n_addrs;
    int tls12_ok, tls13_ok;     /* the server speaks it (-1: not probed) */
    int want12, want13;
    int mechs;
    int rtt_ms;                 /* connect time of the first connection */
    int needs_request;          /* TLS 1.3 tickets come only after data */
    int silent13;               /* no TLS 1.3 ticket even after data */
    SSL_CTX *ctx_id, *ctx12, *ctx13;
    struct probe_conn *conns;
    int n_conns, cap_conns;
    int attempts[MECH_COUNT], resumed[MECH_COUNT];
    int noted[MECH_COUNT];      /* its failure is already explained */
    int fail_kind;              /* PROBE_FAIL_* of the last failure */
    char *warn[32];             /* warnings, each with its reason */
    int n_warn;
    char *fails[16];            /* what did not resume, and why */
    int n_fails;
    char *notes[16];            /* facts that are neither (unsupported...) */
    int n_notes;
};

enum {
    PROBE_FAIL_CONNECT = 1,     /* resolve, socket, connect */
    PROBE_FAIL_TIMEOUT = 2,
    PROBE_FAIL_TLS = 3,         /* the server's TLS said no (an alert) */
    PROBE_FAIL_CLOSED = 4,      /* reset or closed mid-handshake */
    PROBE_FAIL_VERIFY = 5
};

/* probe_net.c */
int tlsri_probe_resolve(struct tlsr_probe *p, struct tlsr_error *err);
/* A nonblocking socket connected to addr, or -1 and err. */
int tlsri_probe_connect(struct tlsr_probe *p, int addr,
                        struct tlsr_error *err);
/* Wait until fd is readable (events POLLIN) or writable (POLLOUT):
 * 1 ready, 0 deadline passed, < 0 error (interrupted). */
int tlsri_probe_wait(int fd, short events, int64_t deadline,
                     struct tlsr_error *err);

/* probe_conn.c */
SSL_CTX *tlsri_probe_ctx(struct tlsr_probe *p, int min_v, int max_v,
                         int no_ticket, struct tlsr_error *err);
/* One connection: offer sess (may be NULL); on success rec is filled and
 * live holds the sessions received (TLS 1.3 tickets; TLS 1.2: the
 * connection's session).  Returns 0 or TLSR_ECONNECT. */
int tlsri_probe_connection(struct tlsr_probe *p, SSL_CTX *ctx, int addr,
                           SSL_SESSION *sess, int early,
                           struct probe_conn *rec, struct probe_live *live,
                           struct tlsr_error *err);
void tlsri_probe_live_clear(struct probe_live *live);

/* probe_json.c */
const char *tlsri_probe_mech_name(int mech);
const char *tlsri_probe_pattern_name(int pattern);

#endif
