"""100,000 dumps / loads / inspect keep RSS flat: no session, context or
buffer leaks in the binding (CPython's own sock.session getter leaks a copy
in 3.10-3.12.6, gh-116810, so the loop never calls it)."""
import gc
import ssl

import tlsresume
from conftest import VECTORS


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def round_trip(ctx, data, n):
    for _ in range(n):
        s = tlsresume.loads(data, ctx)
        out = tlsresume.dumps(s)
        tlsresume.inspect(s)
        tlsresume.inspect(out)
        try:
            tlsresume.loads(data[:-1], ctx)      # an error path too
        except tlsresume.Error:
            pass


def loose():
    """A client context that does not verify: the vectors come from
    unverified handshakes (the trust rule keeps them from verifying ones)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def run(data, batches, per_batch):
    # A fresh context per batch: contexts must be freed with their sessions.
    round_trip(loose(), data, per_batch)
    gc.collect()
    before = rss_kb()
    for _ in range(batches - 1):
        round_trip(loose(), data, per_batch)
    gc.collect()
    return rss_kb() - before


def test_rss_flat_over_100k_round_trips():
    full = (VECTORS / "sessions" / "openssl-tls13-rsa.der").read_bytes()
    ctx = loose()
    # Without the certificate (d2i_X509 is 80 us) 100k loops take seconds.
    lean = tlsresume.dumps(tlsresume.loads(full, ctx), lean=True)
    assert not tlsresume.inspect(lean).has_peer
    grown = run(lean, 20, 5000)
    # One leaked session per iteration would be tens of MB.
    assert grown < 2048, "RSS grew by %d KB over 95,000 round trips" % grown


def test_rss_flat_with_peer_certificate():
    full = (VECTORS / "sessions" / "openssl-tls13-rsa.der").read_bytes()
    grown = run(full, 10, 1000)
    # A leaked session + certificate per iteration would be > 10 MB.
    assert grown < 2048, "RSS grew by %d KB over 9,000 round trips" % grown
