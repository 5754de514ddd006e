/*
 * One probe connection: handshake (optionally offering a session and
 * sending early data), then, in TLS 1.3, reading until the server's
 * NewSessionTickets have arrived (a short quiet period after the last one),
 * which is what `s_client -reconnect` and rfc5077-client skip.  Tickets are
 * seen twice: the message callback reads each NewSessionTicket as it came
 * on the wire (lifetime hint, key name, max_early_data), the new-session
 * callback keeps the sessions to offer later.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "probe.h"

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8
           | b[3];
}

static uint32_t be16(const uint8_t *b)
{
    return (uint32_t)b[0] << 8 | b[1];
}

/* A NewSessionTicket body (RFC 5077 3.3 / RFC 8446 4.6.1) into t;
 * 0 if malformed or an empty (declined) TLS 1.2 ticket. */
static int parse_nst(const uint8_t *b, size_t n, int tls13,
                     struct probe_ticket *t)
{
    struct tlsr_ticket_info info;
    size_t off = 4, tlen, elen, end;

    memset(t, 0, sizeof(*t));
    if (n < 6)
        return 0;
    t->lifetime = be32(b);
    if (tls13) {
        if (n < 9 || n < 9 + (size_t)b[8] + 2)
            return 0;
        off = 9 + b[8];
    }
    tlen = be16(b + off);
    off += 2;
    if (tlen == 0 || off + tlen > n)
        return 0;
    t->len = (uint32_t)tlen;
    memcpy(t->name, b + off, tlen < 16 ? tlen : 16);
    t->layout_ok = tlsr_ticket_parse(b + off, tlen, &info, NULL) == TLSR_OK;
    off += tlen;
    if (!tls13 || off + 2 > n)
        return 1;
    elen = be16(b + off);
    off += 2;
    end = off + elen > n ? n : off + elen;
    while (off + 4 <= end) {
        uint32_t type = be16(b + off), len = be16(b + off + 2);

        off += 4;
        if (off + len > end)
            break;
        if (type == 42 && len == 4)         /* early_data */
            t->max_early = be32(b + off);
        off += len;
    }
    return 1;
}

/* Counts and decodes the NewSessionTickets received (short: no I/O). */
static void msg_cb(int write_p, int version, int content_type,
                   const void *buf, size_t len, SSL *ssl, void *arg)
{
    struct probe_live *live = SSL_get_app_data(ssl);
    const uint8_t *b = buf;
    struct probe_ticket t;

    if (write_p || content_type != SSL3_RT_HANDSHAKE || live == NULL
        || len < 4 || b[0] != SSL3_MT_NEWSESSION_TICKET)
        return;
    if (!parse_nst(b + 4, len - 4, SSL_version(ssl) >= TLS1_3_VERSION, &t))
        return;
    if (live->rec->n_tickets < PROBE_MAX_TICKETS)
        live->rec->t[live->rec->n_tickets] = t;
    live->rec->n_tickets++;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct probe_live *live = SSL_get_app_data(ssl);

    if (live == NULL || live->n_sess >= PROBE_MAX_TICKETS)
        return 0;
    live->sess[live->n_sess++] = sess;
    return 1;                   /* we keep the reference */
}

void tlsri_probe_live_clear(struct probe_live *live)
{
    int i;

    for (i = 0; i < live->n_sess; i++)
        SSL_SESSION_free(live->sess[i]);
    live->n_sess = 0;
}

SSL_CTX *tlsri_probe_ctx(struct tlsr_probe *p, int min_v, int max_v,
                         int no_ticket, struct tlsr_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        tlsri_error_ssl(err, TLSR_ENOMEM, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, min_v);
    SSL_CTX_set_max_proto_version(ctx, max_v);
    if (no_ticket)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    /* A server that closes without close_notify (Node's end()) would make
     * OpenSSL 3 fail the read fatally, and a fatal error marks the newest
     * TLS 1.3 ticket's session (held by the new-session callback) not
     * resumable: the probe would blame the server for it. */
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
                                        | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    SSL_CTX_set_msg_callback(ctx, msg_cb);
    if (!p->o.insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if ((p->o.cafile != NULL
                 ? SSL_CTX_load_verify_locations(ctx, p->o.cafile, NULL)
                 : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
            SSL_CTX_free(ctx);
            tlsri_error_ssl(err, TLSR_EINVAL, p->o.cafile != NULL
                                ? "cannot load the CA file"
                                : "cannot load the system trust store");
            return NULL;
        }
    }
    return ctx;
}

/* One line on why a handshake step failed. */
static int ssl_fail(struct tlsr_probe *p, SSL *ssl, int addr, int rc,
                    const char *step, struct tlsr_error *err)
{
    const char *where = p->addrs[addr].text;
    int e = SSL_get_error(ssl, rc), sys = errno;
    unsigned long first = 0, x;
    const char *reason;
    long vr = SSL_get_verify_result(ssl);

    while ((x = ERR_get_error()) != 0)
        if (first == 0)
            first = x;
    p->fail_kind = PROBE_FAIL_TLS;
    if (!p->o.insecure && vr != X509_V_OK && (p->fail_kind = PROBE_FAIL_VERIFY))
        return tlsri_error_set(err, TLSR_ECONNECT,
                               "%s port %d: certificate verify failed: %s"
                               " (--cafile FILE, or --insecure to probe"
                               " anyway)", where, p->o.port,
                               X509_verify_cert_error_string(vr));
    if (e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL && first == 0)) {
        p->fail_kind = PROBE_FAIL_CLOSED;
        return tlsri_error_set(err, TLSR_ECONNECT, "%s port %d: %s: %s",
                               where, p->o.port, step,
                               sys == ECONNRESET ? "connection reset by peer"
                               : sys != 0 && rc < 0 ? strerror(sys)
                               : "the server closed the connection");
    }
    reason = first != 0 ? ERR_reason_error_string(first) : NULL;
    if (first != 0 && (ERR_GET_REASON(first) == SSL_R_WRONG_VERSION_NUMBER
                       || ERR_GET_REASON(first)
                              == SSL_R_PACKET_LENGTH_TOO_LONG
                       || ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
        return tlsri_error_set(err, TLSR_ECONNECT,
                               "%s port %d: %s: %s (the port does not"
                               " speak TLS?)", where, p->o.port, step,
                               reason);
    return tlsri_error_set(err, TLSR_ECONNECT, "%s port %d: %s: %s", where,
                           p->o.port, step, reason != NULL ? reason
                                                           : "failed");
}

/* Run fn (handshake, write) to completion or the deadline. */
static int drive(struct tlsr_probe *p, SSL *ssl, int fd, int addr,
                 const char *step, int (*fn)(SSL *, void *), void *arg,
                 struct tlsr_error *err)
{
    int64_t deadline = tlsri_mono_ms() + p->o.timeout_ms;
    int rc, e, w;

    for (;;) {
        errno = 0;
        rc = fn(ssl, arg);
        if (rc > 0)
            return TLSR_OK;
        e = SSL_get_error(ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return ssl_fail(p, ssl, addr, rc, step, err);
        w = tlsri_probe_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                             deadline, err);
        if (w < 0)
            return TLSR_ECONNECT;
        p->fail_kind = PROBE_FAIL_TIMEOUT;
        if (w == 0)
            return tlsri_error_set(err, TLSR_ECONNECT,
                                   "%s port %d: %s: no answer within %d ms",
                                   p->addrs[addr].text, p->o.port, step,
                                   p->o.timeout_ms);
    }
}

static int do_handshake(SSL *ssl, void *arg)
{
    return SSL_do_handshake(ssl);
}

struct write_arg {
    const char *buf;
    size_t len;
    int early;
};

static int do_write(SSL *ssl, void *arg)
{
    struct write_arg *w = arg;
    size_t n = 0;

    if (w->early)
        return SSL_write_early_data(ssl, w->buf, w->len, &n);
    return SSL_write_ex(ssl, w->buf, w->len, &n);
}

/*
 * Read (discarding data) until tickets stop coming: at most first_ms for
 * the first one, then quiet_ms after the last; never past the timeout.
 */
static int collect(struct tlsr_probe *p, SSL *ssl, int fd,
                   struct probe_conn *rec, struct tlsr_error *err)
{
    int64_t start = tlsri_mono_ms(), end = start + p->o.timeout_ms;
    int first_ms = 200 > 4 * p->rtt_ms ? 200 : 4 * p->rtt_ms;
    /* Servers send their tickets in one flight: a short quiet period. */
    int quiet_ms = 20 > 2 * p->rtt_ms ? 20 : 2 * p->rtt_ms;
    int64_t deadline = start + (p->silent13 ? quiet_ms : first_ms);
    int seen = rec->n_tickets, rc, e, w;
    char buf[4096];

    for (;;) {
        rc = SSL_read(ssl, buf, sizeof(buf));
        if (rec->n_tickets > seen) {
            seen = rec->n_tickets;
            deadline = tlsri_mono_ms() + quiet_ms;
        }
        /* A server streaming data must not keep the probe past the wait. */
        if (tlsri_mono_ms() >= (deadline < end ? deadline : end))
            break;
        if (rc > 0)
            continue;
        e = SSL_get_error(ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            break;              /* closed: no more tickets */
        if (seen >= PROBE_MAX_TICKETS)
            break;
        w = tlsri_probe_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                             deadline < end ? deadline : end, err);
        if (w < 0)
            return TLSR_ECONNECT;
        if (w == 0)
            break;
    }
    ERR_clear_error();
    return TLSR_OK;
}

static int setup_ssl(struct tlsr_probe *p, SSL *ssl, int fd,
                     struct tlsr_error *err)
{
    struct in6_addr a6;

    SSL_set_connect_state(ssl);
    if (SSL_set_fd(ssl, fd) != 1)
        return tlsri_error_ssl(err, TLSR_ESSL, "SSL_set_fd");
    if (p->sni[0] != '\0' && SSL_set_tlsext_host_name(ssl, p->sni) != 1)
        return tlsri_error_ssl(err, TLSR_EINVAL, "bad server name");
    if (p->o.insecure)
        return TLSR_OK;
    /* Check the name asked for: the SNI (HOST unless --sni), else the
     * address literal against the certificate's IP. */
    if (p->sni[0] != '\0') {
        if (SSL_set1_host(ssl, p->sni) != 1)
            return tlsri_error_ssl(err, TLSR_EINVAL, "bad server name");
    } else if (inet_pton(AF_INET, p->host, &a6) == 1
               || inet_pton(AF_INET6, p->host, &a6) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->host) != 1)
            return tlsri_error_ssl(err, TLSR_EINVAL, "bad address");
    } else if (SSL_set1_host(ssl, p->host) != 1) {
        return tlsri_error_ssl(err, TLSR_EINVAL, "bad host name");
    }
    return TLSR_OK;
}

int tlsri_probe_connection(struct tlsr_probe *p, SSL_CTX *ctx, int addr,
                           SSL_SESSION *sess, int early,
                           struct probe_conn *rec, struct probe_live *live,
                           struct tlsr_error *err)
{
    struct write_arg req = { p->request, p->request_len, 1 };
    int64_t start = tlsri_mono_ms();
    SSL *ssl = NULL;
    SSL_SESSION *mine;
    int fd, rc;

    memset(rec, 0, sizeof(*rec));
    rec->addr = rec->from_addr = addr;
    rec->early = -1;
    live->rec = rec;
    live->n_sess = 0;
    ERR_clear_error();
    p->fail_kind = PROBE_FAIL_CONNECT;
    fd = tlsri_probe_connect(p, addr, err);
    if (fd < 0)
        return TLSR_ECONNECT;
    ssl = SSL_new(ctx);
    if (ssl == NULL) {
        close(fd);
        return tlsri_error_ssl(err, TLSR_ENOMEM, "SSL_new");
    }
    SSL_set_app_data(ssl, live);
    if ((rc = setup_ssl(p, ssl, fd, err)) != TLSR_OK)
        goto out;
    if (sess != NULL) {
        if (SSL_set_session(ssl, sess) != 1) {
            rc = tlsri_error_ssl(err, TLSR_ESSL, "SSL_set_session");
            goto out;
        }
        rec->offered = 1;
    }
    if (early && sess != NULL && SSL_SESSION_get_max_early_data(sess) > 0) {
        if ((rc = drive(p, ssl, fd, addr, "early data", do_write, &req,
                        err)) != TLSR_OK)
            goto out;
        rec->early = 0;
    }
    if ((rc = drive(p, ssl, fd, addr, "TLS handshake", do_handshake, NULL,
                    err)) != TLSR_OK)
        goto out;
    rec->version = SSL_version(ssl);
    rec->resumed = SSL_session_reused(ssl) ? 1 : 0;
    if (rec->early == 0)
        rec->early = SSL_get_early_data_status(ssl) == SSL_EARLY_DATA_ACCEPTED;
    if (rec->version >= TLS1_3_VERSION) {
        req.early = 0;
        if (p->needs_request && rec->early != 1) {
            if ((rc = drive(p, ssl, fd, addr, "request", do_write, &req,
                            err)) != TLSR_OK)
                goto out;
            rec->sent_request = 1;
        }
        if ((rc = collect(p, ssl, fd, rec, err)) != TLSR_OK)
            goto out;
        /* Some servers send tickets only once they saw application data. */
        if (rec->n_tickets == 0 && !rec->resumed && !rec->sent_request
            && rec->early != 1) {
            /* A server that closed or refuses the request sent none. */
            if (drive(p, ssl, fd, addr, "request", do_write, &req, NULL)
                != TLSR_OK) {
                rc = TLSR_OK;
                goto out;
            }
            if ((rc = collect(p, ssl, fd, rec, err)) != TLSR_OK)
                goto out;
            rec->sent_request = 1;
            if (rec->n_tickets > 0)
                p->needs_request = 1;
            else        /* none even after data: do not wait long again */
                p->silent13 = 1;
        }
    } else {
        /* TLS 1.2: the connection's own session (renewed ticket too). */
        tlsri_probe_live_clear(live);
        mine = SSL_get1_session(ssl);
        if (mine != NULL && SSL_SESSION_is_resumable(mine))
            live->sess[live->n_sess++] = mine;
        else
            SSL_SESSION_free(mine);
    }
    rc = TLSR_OK;
out:
    /* close_notify first: OpenSSL marks the session of a connection freed
     * without it as not resumable. */
    if (rc == TLSR_OK)
        SSL_shutdown(ssl);
    SSL_set_app_data(ssl, NULL);
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    if (rc != TLSR_OK)
        tlsri_probe_live_clear(live);
    rec->ms = (double)(tlsri_mono_ms() - start);
    return rc;
}
