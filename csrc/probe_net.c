/*
 * The probe's sockets: resolve, connect and wait, nonblocking with a
 * deadline per operation so that no server (one that accepts and never
 * answers, a filtered port) holds the probe past its timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static int add_addr(struct tlsr_probe *p, const struct sockaddr *sa,
                    socklen_t len)
{
    struct probe_addr *a;
    int i;

    if (p->n_addrs >= TLSR_PROBE_MAX_ADDRS || len > sizeof(a->sa))
        return 0;
    for (i = 0; i < p->n_addrs; i++)
        if (p->addrs[i].len == len && memcmp(&p->addrs[i].sa, sa, len) == 0)
            return 0;
    a = &p->addrs[p->n_addrs++];
    memcpy(&a->sa, sa, len);
    a->len = len;
    if (getnameinfo(sa, len, a->text, sizeof(a->text), NULL, 0,
                    NI_NUMERICHOST) != 0)
        snprintf(a->text, sizeof(a->text), "?");
    return 1;
}

static int lookup(struct tlsr_probe *p, const char *name, int numeric,
                  int all, struct tlsr_error *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = numeric ? AI_NUMERICHOST : AI_ADDRCONFIG;
    snprintf(port, sizeof(port), "%d", p->o.port);
    rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0)
        return tlsri_error_set(err, numeric ? TLSR_EINVAL : TLSR_ECONNECT,
                               numeric ? "%s is not an IP address"
                                       : "cannot resolve %s: %s",
                               name, gai_strerror(rc));
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (add_addr(p, ai->ai_addr, ai->ai_addrlen) && !all)
            break;
    }
    freeaddrinfo(res);
    return TLSR_OK;
}

int tlsri_probe_resolve(struct tlsr_probe *p, struct tlsr_error *err)
{
    size_t i;
    int rc;

    if (p->o.n_ips > TLSR_PROBE_MAX_ADDRS)
        return tlsri_error_set(err, TLSR_EINVAL, "more than %d addresses",
                               TLSR_PROBE_MAX_ADDRS);
    for (i = 0; i < p->o.n_ips; i++) {
        if (p->o.ips[i] == NULL)
            return tlsri_error_set(err, TLSR_EINVAL, "address %zu is NULL",
                                   i);
        if ((rc = lookup(p, p->o.ips[i], 1, 0, err)) != TLSR_OK)
            return rc;
    }
    if (p->o.n_ips == 0
        && (rc = lookup(p, p->host, 0, p->o.all_ips, err)) != TLSR_OK)
        return rc;
    if (p->n_addrs == 0)
        return tlsri_error_set(err, TLSR_ECONNECT,
                               "%s has no IPv4 or IPv6 address", p->host);
    return TLSR_OK;
}

int tlsri_probe_wait(int fd, short events, int64_t deadline,
                     struct tlsr_error *err)
{
    struct pollfd pfd;
    int64_t left;
    int rc;

    for (;;) {
        left = deadline - tlsri_mono_ms();
        if (left <= 0)
            return 0;
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (rc > 0)
            return 1;
        /* A signal (Ctrl-C in a binding) ends the probe, not a retry. */
        if (rc < 0)
            return tlsri_error_set(err, TLSR_ECONNECT, "%s",
                                   errno == EINTR ? "interrupted"
                                                  : strerror(errno));
    }
}

int tlsri_probe_connect(struct tlsr_probe *p, int addr,
                        struct tlsr_error *err)
{
    const struct probe_addr *a = &p->addrs[addr];
    int fd, rc, soerr = 0;
    socklen_t sl = sizeof(soerr);
    int64_t start = tlsri_mono_ms();

    fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        tlsri_error_set(err, TLSR_ECONNECT, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) != 0) {
        if (errno != EINPROGRESS) {
            soerr = errno;
            goto fail;
        }
        rc = tlsri_probe_wait(fd, POLLOUT, start + p->o.timeout_ms, err);
        if (rc < 0) {
            close(fd);
            return -1;
        }
        if (rc == 0) {
            close(fd);
            tlsri_error_set(err, TLSR_ECONNECT,
                            "connect to %s port %d: timed out after %d ms",
                            a->text, p->o.port, p->o.timeout_ms);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr != 0)
            goto fail;
    }
    if (p->rtt_ms < 0)
        p->rtt_ms = (int)(tlsri_mono_ms() - start);
    return fd;
fail:
    close(fd);
    tlsri_error_set(err, TLSR_ECONNECT, "connect to %s port %d: %s",
                    a->text, p->o.port, strerror(soerr));
    return -1;
}
