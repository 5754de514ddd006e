/*
 * The probe's plan: per mechanism one full handshake and `tries`
 * resumptions on the first address, each offering the session the last
 * connection left (TLS 1.3: the newest ticket not used yet, as a client
 * that uses tickets once); then, for a pool, a session from every address
 * offered to every address; then 0-RTT.  Findings become warnings and the
 * list of what did not resume.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

static const char DEFAULT_REQUEST[] = "HEAD / HTTP/1.1\r\nHost: %s\r\n\r\n";

struct pool {
    SSL_SESSION *s[32];
    int n;
};

static void pool_push(struct pool *pl, struct probe_live *live)
{
    int i;

    for (i = 0; i < live->n_sess; i++) {
        if (pl->n == 32) {          /* drop the oldest */
            SSL_SESSION_free(pl->s[0]);
            memmove(pl->s, pl->s + 1, 31 * sizeof(pl->s[0]));
            pl->n--;
        }
        pl->s[pl->n++] = live->sess[i];
    }
    live->n_sess = 0;
}

static SSL_SESSION *pool_pop(struct pool *pl)
{
    return pl->n > 0 ? pl->s[--pl->n] : NULL;
}

static void pool_clear(struct pool *pl)
{
    while (pl->n > 0)
        SSL_SESSION_free(pl->s[--pl->n]);
}

static char *note(char **list, int *n, int max, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static char *note(char **list, int *n, int max, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (*n >= max)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    list[*n] = strdup(buf);
    if (list[*n] != NULL)
        (*n)++;
    return list[*n - 1];
}

#define WARN(p, ...) note((p)->warn, &(p)->n_warn, 32, __VA_ARGS__)
#define FAIL(p, ...) note((p)->fails, &(p)->n_fails, 16, __VA_ARGS__)
#define NOTE(p, ...) note((p)->notes, &(p)->n_notes, 16, __VA_ARGS__)

static int pattern_of(const struct probe_conn *c)
{
    if (c->version != TLS1_2_VERSION)
        return PAT_NONE;
    if (!c->offered)
        return c->n_tickets > 0 ? PAT_FULL_NEW_TICKET : PAT_FULL_NO_TICKET;
    if (c->resumed)
        return c->n_tickets > 0 ? PAT_ABBREV_RENEWED : PAT_ABBREV;
    return c->n_tickets > 0 ? PAT_REFUSED_NEW_TICKET : PAT_REFUSED_NO_TICKET;
}

/* One connection, appended to the record. */
static int conn(struct tlsr_probe *p, SSL_CTX *ctx, int mech, int addr,
                SSL_SESSION *sess, int early, struct probe_live *live,
                struct tlsr_error *err)
{
    struct probe_conn rec, *grown;
    int rc;

    if (p->n_conns >= PROBE_MAX_CONNS)
        return tlsri_error_set(err, TLSR_EINVAL, "too many connections");
    rc = tlsri_probe_connection(p, ctx, addr, sess, early, &rec, live, err);
    if (rc != TLSR_OK)
        return rc;
    rec.mech = mech;
    if (mech == MECH_TICKET12 || mech == MECH_CROSS12)
        rec.pattern = pattern_of(&rec);
    if (p->n_conns == p->cap_conns) {
        int cap = p->cap_conns ? 2 * p->cap_conns : 32;

        grown = realloc(p->conns, (size_t)cap * sizeof(*grown));
        if (grown == NULL) {
            tlsri_probe_live_clear(live);
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        }
        p->conns = grown;
        p->cap_conns = cap;
    }
    p->conns[p->n_conns++] = rec;
    return TLSR_OK;
}

static struct probe_conn *last(struct tlsr_probe *p)
{
    return &p->conns[p->n_conns - 1];
}

/* Session IDs or TLS 1.2 tickets: offer what the last connection left. */
static int chain12(struct tlsr_probe *p, SSL_CTX *ctx, int mech,
                   struct tlsr_error *err)
{
    struct probe_live live = { 0 };
    SSL_SESSION *sess = NULL;
    int i, rc;

    if ((rc = conn(p, ctx, mech, 0, NULL, 0, &live, err)) != TLSR_OK)
        return rc;
    if (live.n_sess > 0 && (mech == MECH_SESSION_ID
                            || SSL_SESSION_has_ticket(live.sess[0]))) {
        sess = live.sess[0];
        live.n_sess = 0;
    }
    tlsri_probe_live_clear(&live);
    p->attempts[mech] = p->o.tries;
    if (sess == NULL) {
        p->noted[mech] = 1;
        FAIL(p, mech == MECH_SESSION_ID
                    ? "session IDs: 0/%d (the server sent no session ID to"
                      " resume: no session cache)"
                    : "TLS 1.2 tickets: 0/%d (the server issued no ticket)",
             p->o.tries);
        return TLSR_OK;
    }
    for (i = 0; i < p->o.tries; i++) {
        if ((rc = conn(p, ctx, mech, 0, sess, 0, &live, err)) != TLSR_OK)
            break;
        p->resumed[mech] += last(p)->resumed;
        if (live.n_sess > 0 && (mech == MECH_SESSION_ID
                                || SSL_SESSION_has_ticket(live.sess[0]))) {
            SSL_SESSION_free(sess);
            sess = live.sess[0];
            live.n_sess = 0;
        }
        tlsri_probe_live_clear(&live);
    }
    SSL_SESSION_free(sess);
    return rc;
}

/* TLS 1.3 (or 0-RTT): each attempt takes the newest unused ticket; the
 * first one is copied before use to be offered once more at the end. */
static int chain13(struct tlsr_probe *p, int mech, struct pool *pl,
                   struct tlsr_error *err)
{
    struct probe_live live = { 0 };
    SSL_SESSION *sess, *again = NULL;
    int early = mech == MECH_EARLY, i, rc = TLSR_OK, first_resumed = 0;

    p->attempts[mech] = p->o.tries;
    for (i = 0; i < p->o.tries; i++) {
        sess = pool_pop(pl);
        if (i == 0 && sess != NULL)
            again = SSL_SESSION_dup(sess);
        rc = conn(p, p->ctx13, mech, 0, sess, early, &live, err);
        SSL_SESSION_free(sess);
        if (rc != TLSR_OK)
            break;
        if (i == 0)
            first_resumed = last(p)->resumed;
        p->resumed[mech] += early ? last(p)->early == 1 : last(p)->resumed;
        pool_push(pl, &live);
    }
    /* RFC 8446 8: a ticket (and its early data) should be good once. */
    if (rc == TLSR_OK && again != NULL && first_resumed) {
        rc = conn(p, p->ctx13, early ? MECH_REPLAY : MECH_REUSE13, 0, again,
                  early, &live, err);
        if (rc == TLSR_OK)
            pool_push(pl, &live);
    }
    SSL_SESSION_free(again);
    return rc;
}

/* Every address's session offered to every address. */
static int cross(struct tlsr_probe *p, SSL_CTX *ctx, int mech,
                 struct tlsr_error *err)
{
    struct probe_live live = { 0 };
    SSL_SESSION *sess;
    int a, b, rc;

    for (a = 0; a < p->n_addrs; a++)
        for (b = 0; b < p->n_addrs; b++) {
            if ((rc = conn(p, ctx, mech, a, NULL, 0, &live, err)) != TLSR_OK)
                return rc;
            sess = live.n_sess > 0 ? live.sess[live.n_sess - 1] : NULL;
            if (sess != NULL)
                live.n_sess--;
            tlsri_probe_live_clear(&live);
            rc = conn(p, ctx, mech, b, sess, 0, &live, err);
            SSL_SESSION_free(sess);
            tlsri_probe_live_clear(&live);
            if (rc != TLSR_OK)
                return rc;
            last(p)->from_addr = a;
            if (sess == NULL)
                last(p)->offered = 0;
        }
    return TLSR_OK;
}

static int copy_opts(struct tlsr_probe *p, const struct tlsr_probe_opts *o,
                     struct tlsr_error *err)
{
    struct in6_addr a6;
    int literal;

    p->o = *o;
    if (o->host == NULL || o->host[0] == '\0'
        || strlen(o->host) >= sizeof(p->host))
        return tlsri_error_set(err, TLSR_EINVAL, "host is empty or too long");
    if (o->port < 1 || o->port > 65535)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "port %d is not in 1..65535", o->port);
    if (p->o.tries == 0)
        p->o.tries = 5;
    if (p->o.tries < 1 || p->o.tries > TLSR_PROBE_MAX_TRIES)
        return tlsri_error_set(err, TLSR_EINVAL, "tries %d is not in 1..%d",
                               o->tries, TLSR_PROBE_MAX_TRIES);
    if (p->o.timeout_ms == 0)
        p->o.timeout_ms = 5000;
    if (p->o.timeout_ms < 1 || p->o.timeout_ms > 600000)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "timeout %d ms is not in 1..600000",
                               o->timeout_ms);
    if (o->versions & ~(TLSR_PROBE_TLS12 | TLSR_PROBE_TLS13))
        return tlsri_error_set(err, TLSR_EINVAL, "bad versions %d",
                               o->versions);
    if (o->mechanisms & ~7)
        return tlsri_error_set(err, TLSR_EINVAL, "bad mechanisms %d",
                               o->mechanisms);
    if (o->request != NULL && o->request_len > 16384)
        return tlsri_error_set(err, TLSR_EINVAL,
                               "request is longer than 16384 bytes");
    memcpy(p->host, o->host, strlen(o->host) + 1);
    p->o.host = p->host;
    literal = inet_pton(AF_INET, o->host, &a6) == 1
              || inet_pton(AF_INET6, o->host, &a6) == 1;
    if (o->sni != NULL) {
        if (strlen(o->sni) >= sizeof(p->sni))
            return tlsri_error_set(err, TLSR_EINVAL, "SNI is too long");
        memcpy(p->sni, o->sni, strlen(o->sni) + 1);
    } else if (!literal) {
        memcpy(p->sni, p->host, sizeof(p->host));
    }
    p->o.sni = p->sni;
    if (o->request != NULL) {
        p->request = malloc(o->request_len + 1);
        if (p->request == NULL)
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        memcpy(p->request, o->request, o->request_len);
        p->request_len = o->request_len;
    } else {
        size_t n = sizeof(DEFAULT_REQUEST) + strlen(p->host);

        if ((p->request = malloc(n)) == NULL)
            return tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        p->request_len = (size_t)snprintf(p->request, n, DEFAULT_REQUEST,
                                          p->sni[0] ? p->sni : p->host);
    }
    p->o.request = NULL;        /* only the copy is used */
    p->want12 = o->versions == 0 || (o->versions & TLSR_PROBE_TLS12);
    p->want13 = o->versions == 0 || (o->versions & TLSR_PROBE_TLS13);
    p->mechs = o->mechanisms ? o->mechanisms : 7;
    p->rtt_ms = -1;
    p->tls12_ok = p->tls13_ok = -1;
    return TLSR_OK;
}

/* The first connection at a version: a refusal (an alert) of a version the
 * caller did not insist on is "unsupported", anything else ends the probe. */
static int first_conn_ok(struct tlsr_probe *p, int rc, int *ok, int forced)
{
    if (rc == TLSR_OK) {
        *ok = 1;
        return 1;
    }
    if (!forced && p->fail_kind == PROBE_FAIL_TLS) {
        *ok = 0;
        return 0;
    }
    return -1;
}

/* Distinct key names of mech's tickets at addr (-1: any): count, and the
 * first name in *name. */
static int key_names(const struct tlsr_probe *p, int v13, int addr,
                     uint8_t first[16])
{
    uint8_t seen[64][16];
    int n = 0, i, j, k;

    for (i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];

        if ((c->version == TLS1_3_VERSION) != v13
            || (addr >= 0 && c->addr != addr))
            continue;
        for (j = 0; j < c->n_tickets && j < PROBE_MAX_TICKETS; j++) {
            if (!c->t[j].layout_ok)
                continue;
            for (k = 0; k < n; k++)
                if (memcmp(seen[k], c->t[j].name, 16) == 0)
                    break;
            if (k == n && n < 64)
                memcpy(seen[n++], c->t[j].name, 16);
        }
    }
    if (n > 0 && first != NULL)
        memcpy(first, seen[0], 16);
    return n;
}

static void findings(struct tlsr_probe *p)
{
    static const char *const what[] = { "session IDs", "TLS 1.2 tickets",
                                        "TLS 1.3 resumptions",
                                        "0-RTT early data accepted" };
    uint32_t max_life = 0, bad_len = 0;
    int i, j, m, v, issued[2] = { 0, 0 }, bad = 0;
    uint8_t name0[16], name_a[16];

    for (i = 0; i < p->n_conns; i++)
        if (p->conns[i].mech == MECH_TICKET12
            || p->conns[i].mech == MECH_TLS13)
            issued[p->conns[i].mech == MECH_TLS13] += p->conns[i].n_tickets;
    if (p->attempts[MECH_TLS13] > 0 && issued[1] == 0) {
        p->noted[MECH_TLS13] = 1;
        FAIL(p, "TLS 1.3 resumptions: 0/%d (the server sent no tickets)",
             p->attempts[MECH_TLS13]);
    }
    for (m = 0; m <= MECH_EARLY; m++)
        if (p->attempts[m] > 0 && p->resumed[m] < p->attempts[m]
            && !p->noted[m])
            FAIL(p, "%s: %d/%d", what[m], p->resumed[m], p->attempts[m]);
    for (i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];

        for (j = 0; j < c->n_tickets && j < PROBE_MAX_TICKETS; j++) {
            if (c->t[j].lifetime > max_life)
                max_life = c->t[j].lifetime;
            if (!c->t[j].layout_ok) {
                bad = 1;
                bad_len = c->t[j].len;
            }
        }
        if (c->mech == MECH_REUSE13 && c->resumed)
            WARN(p, "a TLS 1.3 ticket resumed twice: the server accepts a"
                    " ticket more than once (RFC 8446 section 8: clients use"
                    " a ticket once; reuse links connections)");
        if (c->mech == MECH_REPLAY && c->early == 1)
            WARN(p, "0-RTT replay: the same ticket's early data was accepted"
                    " twice (RFC 8446 section 8: a server must accept 0-RTT"
                    " at most once per ticket)");
        if ((c->mech == MECH_CROSS12 || c->mech == MECH_CROSS13
             || c->mech == MECH_CROSSID)
            && c->offered && !c->resumed && c->from_addr != c->addr)
            FAIL(p, "pool: a %s session from %s did not resume at %s",
                 c->mech == MECH_CROSS12 ? "TLS 1.2 ticket"
                 : c->mech == MECH_CROSS13 ? "TLS 1.3" : "session-ID",
                 p->addrs[c->from_addr].text, p->addrs[c->addr].text);
    }
    if (p->resumed[MECH_TLS13] > 0) {
        int renewed = 0;

        for (i = 0; i < p->n_conns; i++)
            renewed += p->conns[i].mech == MECH_TLS13 && p->conns[i].resumed
                       && p->conns[i].n_tickets > 0;
        if (renewed == 0)
            WARN(p, "TLS 1.3 resumptions earn no new ticket: a client that"
                    " uses each ticket once makes a full handshake once the"
                    " tickets of the last one are spent (a server ticket"
                    " callback must return 2 to renew)");
    }
    if (max_life > 86400)
        WARN(p, "ticket lifetime hint %u s is over 24 h: a stolen ticket"
                " key decrypts that long's sessions (RFC 8446 caps it at"
                " 7 days)", max_life);
    if (issued[0] > 0 && p->attempts[MECH_TICKET12] > 0
        && p->resumed[MECH_TICKET12] == 0)
        WARN(p, "TLS 1.2 tickets issued (%d) but never accepted", issued[0]);
    if (issued[1] > 0 && p->attempts[MECH_TLS13] > 0
        && p->resumed[MECH_TLS13] == 0)
        WARN(p, "TLS 1.3 tickets issued (%d) but never accepted", issued[1]);
    for (v = 0; v < 2; v++) {
        for (i = 0; i < p->n_addrs; i++) {
            int n = key_names(p, v, i, NULL);

            if (n > 1)
                WARN(p, "TLS 1.%d ticket key name changed between"
                        " connections to %s (%d names): keys per process or"
                        " rotated during the probe", v ? 3 : 2,
                     p->addrs[i].text, n);
        }
        if (p->n_addrs > 1 && key_names(p, v, 0, name0) > 0)
            for (i = 1; i < p->n_addrs; i++)
                if (key_names(p, v, i, name_a) > 0
                    && memcmp(name0, name_a, 16) != 0) {
                    WARN(p, "TLS 1.%d ticket key names differ between %s"
                            " and %s: the addresses do not share ticket"
                            " keys", v ? 3 : 2, p->addrs[0].text,
                         p->addrs[i].text);
                    break;
                }
    }
    if (bad)
        NOTE(p, "some tickets (%u bytes) do not look like the RFC 5077 /"
                " OpenSSL layout (name16|iv16|ciphertext|hmac32), e.g."
                " stateful TLS 1.3 tickets: no key name for them", bad_len);
}

TLSR_EXPORT void tlsr_probe_opts_init(struct tlsr_probe_opts *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof(*opts));
    opts->tries = 5;
    opts->timeout_ms = 5000;
}

static int plan(struct tlsr_probe *p, struct tlsr_error *err)
{
    struct probe_live live = { 0 };
    struct pool pl = { { 0 }, 0 };
    struct tlsr_error first = { 0, "" };
    int forced12 = p->o.versions & TLSR_PROBE_TLS12;
    int forced13 = p->o.versions & TLSR_PROBE_TLS13;
    int rc = TLSR_OK, n, r, m;
    uint32_t adv = 0;

    if ((p->ctx13 = tlsri_probe_ctx(p, TLS1_3_VERSION, TLS1_3_VERSION, 0,
                                    err)) == NULL
        || (p->ctx12 = tlsri_probe_ctx(p, TLS1_2_VERSION, TLS1_2_VERSION, 0,
                                       err)) == NULL
        || (p->ctx_id = tlsri_probe_ctx(p, TLS1_2_VERSION, TLS1_2_VERSION, 1,
                                        err)) == NULL)
        return err != NULL ? err->code : TLSR_ENOMEM;
    if (p->want13 && ((p->mechs & 4) || p->o.early_data)) {
        rc = conn(p, p->ctx13, MECH_TLS13, 0, NULL, 0, &live, &first);
        r = first_conn_ok(p, rc, &p->tls13_ok, forced13);
        if (r < 0) {
            *err = first;
            return rc;
        }
        if (r == 0)
            NOTE(p, "TLS 1.3 not supported: %s", first.msg);
        pool_push(&pl, &live);
    }
    if (p->want12 && (p->mechs & 3)) {
        for (m = MECH_SESSION_ID; m <= MECH_TICKET12; m++) {
            if (!(p->mechs & (1 << m)) || p->tls12_ok == 0)
                continue;
            n = p->n_conns;
            rc = chain12(p, m == MECH_SESSION_ID ? p->ctx_id : p->ctx12, m,
                         err);
            if (rc != TLSR_OK && p->n_conns == n && p->tls12_ok < 0) {
                r = first_conn_ok(p, rc, &p->tls12_ok, forced12);
                if (r < 0 || p->tls13_ok != 1)
                    goto out;
                NOTE(p, "TLS 1.2 not supported: %s", err->msg);
                p->attempts[m] = 0;
                rc = TLSR_OK;
                continue;
            }
            if (rc != TLSR_OK)
                goto out;
            p->tls12_ok = 1;
        }
    }
    if (p->tls13_ok == 1 && (p->mechs & 4)
        && (rc = chain13(p, MECH_TLS13, &pl, err)) != TLSR_OK)
        goto out;
    for (n = 0; n < p->n_conns; n++)
        for (r = 0; r < p->conns[n].n_tickets && r < PROBE_MAX_TICKETS; r++)
            if (p->conns[n].t[r].max_early > adv)
                adv = p->conns[n].t[r].max_early;
    if (p->o.early_data) {
        if (p->tls13_ok != 1) {
            p->attempts[MECH_EARLY] = p->o.tries;
            p->noted[MECH_EARLY] = 1;
            FAIL(p, "0-RTT: needs TLS 1.3");
        } else if (adv == 0) {
            p->attempts[MECH_EARLY] = p->o.tries;
            p->noted[MECH_EARLY] = 1;
            FAIL(p, "0-RTT: the server's tickets allow no early data"
                    " (max_early_data 0)");
        } else if ((rc = chain13(p, MECH_EARLY, &pl, err)) != TLSR_OK) {
            goto out;
        }
    }
    if (p->n_addrs > 1) {
        /* Only where the first address resumed it: a pool without a
         * session cache is no news at every pair. */
        if (p->tls12_ok == 1 && (p->mechs & 1)
            && p->resumed[MECH_SESSION_ID] > 0
            && (rc = cross(p, p->ctx_id, MECH_CROSSID, err)) != TLSR_OK)
            goto out;
        if (p->tls12_ok == 1 && (p->mechs & 2)
            && (rc = cross(p, p->ctx12, MECH_CROSS12, err)) != TLSR_OK)
            goto out;
        if (p->tls13_ok == 1 && (p->mechs & 4)
            && (rc = cross(p, p->ctx13, MECH_CROSS13, err)) != TLSR_OK)
            goto out;
    }
    rc = TLSR_OK;
out:
    pool_clear(&pl);
    return rc;
}

TLSR_EXPORT struct tlsr_probe *tlsr_probe_run(const struct tlsr_probe_opts *o,
                                              struct tlsr_error *err)
{
    struct tlsr_probe *p;

    tlsri_error_clear(err);
    if (o == NULL) {
        tlsri_error_set(err, TLSR_EINVAL, "options are NULL");
        return NULL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (copy_opts(p, o, err) != TLSR_OK
        || tlsri_probe_resolve(p, err) != TLSR_OK
        || (p->o.ips = NULL, plan(p, err)) != TLSR_OK) {
        tlsr_probe_free(p);
        return NULL;
    }
    findings(p);
    tlsri_error_clear(err);
    return p;
}

TLSR_EXPORT int tlsr_probe_exit_status(const struct tlsr_probe *p)
{
    return p == NULL ? 2 : p->n_fails > 0 ? 1 : 0;
}

TLSR_EXPORT void tlsr_probe_free(struct tlsr_probe *p)
{
    int i;

    if (p == NULL)
        return;
    SSL_CTX_free(p->ctx_id);
    SSL_CTX_free(p->ctx12);
    SSL_CTX_free(p->ctx13);
    for (i = 0; i < p->n_warn; i++)
        free(p->warn[i]);
    for (i = 0; i < p->n_fails; i++)
        free(p->fails[i]);
    for (i = 0; i < p->n_notes; i++)
        free(p->notes[i]);
    free(p->request);
    free(p->conns);
    free(p);
}
