/* The probe's report as JSON (schema: docs/probe.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

struct jbuf {
    char *b;
    size_t n, cap;
    int oom;
};

static void put(struct jbuf *j, const char *s, size_t len)
{
    if (j->oom)
        return;
    if (j->n + len + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        char *nb;

        while (cap < j->n + len + 1)
            cap *= 2;
        if ((nb = realloc(j->b, cap)) == NULL) {
            j->oom = 1;
            return;
        }
        j->b = nb;
        j->cap = cap;
    }
    memcpy(j->b + j->n, s, len);
    j->n += len;
    j->b[j->n] = '\0';
}

#define PUTS(j, s) put((j), (s), strlen(s))

static void putf(struct jbuf *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct jbuf *j, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(j, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void str(struct jbuf *j, const char *s)
{
    PUTS(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            putf(j, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            putf(j, "\\u%04x", c);
        else
            put(j, s, 1);
    }
    PUTS(j, "\"");
}

static void hex16(struct jbuf *j, const uint8_t *b)
{
    char h[33];
    int i;

    for (i = 0; i < 16; i++)
        snprintf(h + 2 * i, 3, "%02x", b[i]);
    str(j, h);
}

const char *tlsri_probe_mech_name(int mech)
{
    static const char *const n[] = { "session_id", "ticket_tls12", "tls13",
                                     "early_data", "tls13_reuse",
                                     "early_data_replay", "cross_tls12",
                                     "cross_tls13", "cross_session_id" };

    return mech >= 0 && mech < MECH_COUNT ? n[mech] : "?";
}

const char *tlsri_probe_pattern_name(int pat)
{
    static const char *const n[] = { NULL, "full_new_ticket",
                                     "full_no_ticket", "abbreviated_renewed",
                                     "abbreviated", "refused_full_no_ticket",
                                     "refused_full_new_ticket" };

    return pat > 0 && pat <= PAT_REFUSED_NEW_TICKET ? n[pat] : NULL;
}

static void strings(struct jbuf *j, char *const *list, int n)
{
    int i;

    PUTS(j, "[");
    for (i = 0; i < n; i++) {
        if (i)
            PUTS(j, ", ");
        str(j, list[i]);
    }
    PUTS(j, "]");
}

static void counts(struct jbuf *j, const struct tlsr_probe *p, int m)
{
    if (p->attempts[m] == 0 && !(m == MECH_EARLY && p->o.early_data))
        PUTS(j, "null");
    else
        putf(j, "{\"attempts\": %d, \"resumed\": %d", p->attempts[m],
             p->resumed[m]);
}

static int is_v(const struct probe_conn *c, int v13)
{
    return c->version == (v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
}

/* Distinct key names (or lifetimes) of version v13's tickets, at addr
 * (-1: all); -> returns how many. */
static int distinct(struct jbuf *j, const struct tlsr_probe *p, int v13,
                    int addr, int lifetimes)
{
    uint8_t names[64][16];
    uint32_t lives[64];
    int n = 0, i, t, k;

    PUTS(j, "[");
    for (i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];

        if (!is_v(c, v13) || (addr >= 0 && c->addr != addr))
            continue;
        for (t = 0; t < c->n_tickets && t < PROBE_MAX_TICKETS && n < 64;
             t++) {
            if (!lifetimes && !c->t[t].layout_ok)
                continue;       /* not a key name: an id or another layout */
            for (k = 0; k < n; k++)
                if (lifetimes ? lives[k] == c->t[t].lifetime
                              : memcmp(names[k], c->t[t].name, 16) == 0)
                    break;
            if (k < n)
                continue;
            if (n)
                PUTS(j, ", ");
            lives[n] = c->t[t].lifetime;
            memcpy(names[n++], c->t[t].name, 16);
            if (lifetimes)
                putf(j, "%u", c->t[t].lifetime);
            else
                hex16(j, c->t[t].name);
        }
    }
    PUTS(j, "]");
    return n;
}

static void per_conn_tickets(struct jbuf *j, const struct tlsr_probe *p,
                             int mech)
{
    int i, n = 0;

    PUTS(j, "[");
    for (i = 0; i < p->n_conns; i++)
        if (p->conns[i].mech == mech)
            putf(j, "%s%d", n++ ? ", " : "", p->conns[i].n_tickets);
    PUTS(j, "]");
}

static void matrix(struct jbuf *j, const struct tlsr_probe *p, int mech)
{
    int a, b, i, found;

    PUTS(j, "[");
    for (a = 0; a < p->n_addrs; a++) {
        PUTS(j, a ? ", [" : "[");
        for (b = 0; b < p->n_addrs; b++) {
            found = -1;
            for (i = 0; i < p->n_conns; i++) {
                const struct probe_conn *c = &p->conns[i];

                if (c->mech == mech && c->offered && c->from_addr == a
                    && c->addr == b)
                    found = c->resumed;
            }
            putf(j, "%s%s", b ? ", " : "",
                 found < 0 ? "null" : found ? "true" : "false");
        }
        PUTS(j, "]");
    }
    PUTS(j, "]");
}

static void connection(struct jbuf *j, const struct tlsr_probe *p,
                       const struct probe_conn *c)
{
    const char *pat = tlsri_probe_pattern_name(c->pattern);
    int t, n = c->n_tickets < PROBE_MAX_TICKETS ? c->n_tickets
                                                : PROBE_MAX_TICKETS;

    PUTS(j, "{\"mechanism\": ");
    str(j, tlsri_probe_mech_name(c->mech));
    PUTS(j, ", \"address\": ");
    str(j, p->addrs[c->addr].text);
    PUTS(j, ", \"from_address\": ");
    str(j, p->addrs[c->from_addr].text);
    putf(j, ", \"version\": \"%s\", \"offered\": %s, \"resumed\": %s, "
            "\"tickets\": %d, \"lifetime_hints\": [",
         c->version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2",
         c->offered ? "true" : "false", c->resumed ? "true" : "false",
         c->n_tickets);
    for (t = 0; t < n; t++)
        putf(j, "%s%u", t ? ", " : "", c->t[t].lifetime);
    PUTS(j, "], \"key_names\": [");
    for (t = 0; t < n; t++) {
        if (t)
            PUTS(j, ", ");
        if (c->t[t].layout_ok)
            hex16(j, c->t[t].name);
        else
            PUTS(j, "null");
    }
    PUTS(j, "], \"ticket_lengths\": [");
    for (t = 0; t < n; t++)
        putf(j, "%s%u", t ? ", " : "", c->t[t].len);
    PUTS(j, "], \"max_early_data\": [");
    for (t = 0; t < n; t++)
        putf(j, "%s%u", t ? ", " : "", c->t[t].max_early);
    PUTS(j, "], \"pattern\": ");
    if (pat != NULL)
        str(j, pat);
    else
        PUTS(j, "null");
    putf(j, ", \"early_data\": %s, \"sent_request\": %s, \"ms\": %.1f}",
         c->early < 0 ? "null" : c->early ? "true" : "false",
         c->sent_request ? "true" : "false", c->ms);
}

static const char *tri(int v)
{
    return v < 0 ? "null" : v ? "true" : "false";
}

static void body(struct jbuf *j, const struct tlsr_probe *p)
{
    int i, v, pat, n, layout = -1, same_conn = -1, same_addr = -1, replay = -1,
               reuse = -1, renewed = 0, resumed13 = 0;
    uint32_t adv = 0;

    for (i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];
        int t;

        for (t = 0; t < c->n_tickets && t < PROBE_MAX_TICKETS; t++) {
            layout = (layout != 0) && c->t[t].layout_ok;
            if (c->t[t].max_early > adv)
                adv = c->t[t].max_early;
        }
        if (c->mech == MECH_REPLAY)
            replay = c->early == 1;
        if (c->mech == MECH_REUSE13)
            reuse = c->resumed;
        if (c->mech == MECH_TLS13 && c->resumed) {
            resumed13++;
            renewed += c->n_tickets > 0;
        }
    }
    PUTS(j, "{\n  \"schema\": \"tlsresume-probe/1\",\n  \"target\": {\"host\": ");
    str(j, p->host);
    putf(j, ", \"port\": %d, \"sni\": ", p->o.port);
    if (p->sni[0])
        str(j, p->sni);
    else
        PUTS(j, "null");
    PUTS(j, "},\n  \"addresses\": [");
    for (i = 0; i < p->n_addrs; i++) {
        if (i)
            PUTS(j, ", ");
        str(j, p->addrs[i].text);
    }
    putf(j, "],\n  \"tries\": %d,\n  \"versions\": {\"tls1.2\": %s, "
            "\"tls1.3\": %s},\n  \"session_id\": ", p->o.tries,
         tri(p->tls12_ok), tri(p->tls13_ok));
    counts(j, p, MECH_SESSION_ID);
    if (p->attempts[MECH_SESSION_ID])
        PUTS(j, "}");
    PUTS(j, ",\n  \"ticket_tls12\": ");
    counts(j, p, MECH_TICKET12);
    if (p->attempts[MECH_TICKET12]) {
        PUTS(j, ", \"patterns\": {");
        for (pat = PAT_FULL_NEW_TICKET, n = 0; pat <= PAT_REFUSED_NEW_TICKET;
             pat++) {
            int k = 0;

            for (i = 0; i < p->n_conns; i++)
                k += p->conns[i].mech == MECH_TICKET12
                     && p->conns[i].pattern == pat;
            if (k == 0)
                continue;
            if (n++)
                PUTS(j, ", ");
            str(j, tlsri_probe_pattern_name(pat));
            putf(j, ": %d", k);
        }
        PUTS(j, "}}");
    }
    PUTS(j, ",\n  \"tls13\": ");
    counts(j, p, MECH_TLS13);
    if (p->attempts[MECH_TLS13])
        putf(j, ", \"resumptions_with_new_ticket\": %d, "
                "\"reused_ticket_resumed\": %s}", renewed, tri(reuse));
    (void)resumed13;
    PUTS(j, ",\n  \"tickets_per_connection\": {\"tls1.2\": ");
    per_conn_tickets(j, p, MECH_TICKET12);
    PUTS(j, ", \"tls1.3\": ");
    per_conn_tickets(j, p, MECH_TLS13);
    PUTS(j, "},\n  \"ticket_lifetime_hint\": {\"tls1.2\": ");
    distinct(j, p, 0, -1, 1);
    PUTS(j, ", \"tls1.3\": ");
    distinct(j, p, 1, -1, 1);
    PUTS(j, "},\n  \"ticket_key_names\": {");
    for (v = 0; v < 2; v++) {
        struct jbuf scratch = { 0 };
        int a, per;

        putf(j, "%s\"tls1.%d\": ", v ? ", " : "", v ? 3 : 2);
        n = distinct(j, p, v, -1, 0);
        if (n > 0) {
            per = 0;
            for (a = 0; a < p->n_addrs; a++)
                per |= distinct(&scratch, p, v, a, 0) > 1;
            same_conn = (same_conn != 0) && !per;
            if (p->n_addrs > 1)
                same_addr = (same_addr != 0) && n == 1;
        }
        free(scratch.b);
    }
    PUTS(j, ", \"by_address\": {");
    for (i = 0; i < p->n_addrs; i++) {
        if (i)
            PUTS(j, ", ");
        str(j, p->addrs[i].text);
        PUTS(j, ": {\"tls1.2\": ");
        distinct(j, p, 0, i, 0);
        PUTS(j, ", \"tls1.3\": ");
        distinct(j, p, 1, i, 0);
        PUTS(j, "}");
    }
    putf(j, "}, \"rfc5077_layout\": %s, \"same_across_connections\": %s, "
            "\"same_across_addresses\": %s},\n", tri(layout), tri(same_conn),
         tri(same_addr));
    putf(j, "  \"early_data\": {\"advertised_max\": %u, \"attempted\": %s, "
            "\"attempts\": %d, \"accepted\": %d, \"replay_accepted\": %s},\n",
         adv, p->o.early_data && p->attempts[MECH_EARLY] > 0
                  && !p->noted[MECH_EARLY] ? "true" : "false",
         p->attempts[MECH_EARLY], p->resumed[MECH_EARLY], tri(replay));
    PUTS(j, "  \"cross_address\": ");
    if (p->n_addrs < 2) {
        PUTS(j, "null");
    } else {
        PUTS(j, "{\"session_id\": ");
        matrix(j, p, MECH_CROSSID);
        PUTS(j, ", \"tls1.2\": ");
        matrix(j, p, MECH_CROSS12);
        PUTS(j, ", \"tls1.3\": ");
        matrix(j, p, MECH_CROSS13);
        PUTS(j, "}");
    }
    PUTS(j, ",\n  \"connections\": [");
    for (i = 0; i < p->n_conns; i++) {
        PUTS(j, i ? ",\n    " : "\n    ");
        connection(j, p, &p->conns[i]);
    }
    PUTS(j, "],\n  \"notes\": ");
    strings(j, p->notes, p->n_notes);
    PUTS(j, ",\n  \"warnings\": ");
    strings(j, p->warn, p->n_warn);
    PUTS(j, ",\n  \"failures\": ");
    strings(j, p->fails, p->n_fails);
    PUTS(j, ",\n  \"verdict\": ");
    str(j, p->n_fails == 0 ? "resumes" : "does not always resume");
    putf(j, ",\n  \"exit_status\": %d\n}\n", tlsr_probe_exit_status(p));
}

TLSR_EXPORT int tlsr_probe_json(const struct tlsr_probe *p, char *buf,
                                size_t *len, struct tlsr_error *err)
{
    struct jbuf j = { 0 };
    int rc = TLSR_OK;

    tlsri_error_clear(err);
    if (p == NULL || len == NULL)
        return tlsri_error_set(err, TLSR_EINVAL, "probe or len is NULL");
    body(&j, p);
    if (j.oom)
        rc = tlsri_error_set(err, TLSR_ENOMEM, "out of memory");
    else if (buf == NULL)
        *len = j.n;
    else if (*len < j.n + 1) {
        *len = j.n;
        rc = tlsri_error_set(err, TLSR_EBUFSIZE, "buffer too small");
    } else {
        memcpy(buf, j.b, j.n + 1);
        *len = j.n;
    }
    free(j.b);
    return rc;
}
