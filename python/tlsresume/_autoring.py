"""TLSRESUME_TICKET_KEYS=PATH: every server context of this process uses
the ticket key ring at PATH, with no change to the server's code.  PATH may
be a redis:// URL (tlsresume/_redis_ring.py): Redis unreachable or without
the ring at start-up stops the process the same way (URL shown without its
password).

Loaded at interpreter start-up by tlsresume-ticket-keys.pth (installed
next to the package), which does nothing unless the variable is set; then
install() opens the ring (a missing, unsafe or corrupt ring stops the
process with a one-line error naming the path: never random keys behind
the operator's back) and wraps ssl.SSLContext.load_cert_chain so that a
server context (PROTOCOL_TLS_SERVER, or the generic PROTOCOL_TLS that
create_default_context(Purpose.CLIENT_AUTH) makes before CPython 3.10)
gets ticket_keys() as soon as it has a certificate.  uvicorn, hypercorn and gunicorn workers, spawned or
forked, are Python processes with the same environment: each one does it.
"""
import os
import sys

ENV = "TLSRESUME_TICKET_KEYS"
_ring = None


def _fail(path, exc):
    from ._redis_ring import redact
    sys.stderr.write("tlsresume: %s=%s: %s\n" % (ENV, redact(path), exc))
    sys.stderr.flush()
    os._exit(2)     # during site start-up: a SystemExit would be a crash


def install():
    global _ring
    path = os.environ.get(ENV, "")
    if not path or _ring is not None:
        return
    try:
        import ssl

        from . import _redis_ring, server
        _ring = _redis_ring.open_ring(path)
    except Exception as exc:    # noqa: BLE001 - every failure stops start-up
        _fail(path, exc)
    original = ssl.SSLContext.load_cert_chain
    if getattr(original, "_tlsresume_ring", False):
        return

    def load_cert_chain(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        # PROTOCOL_TLS: what create_default_context(Purpose.CLIENT_AUTH)
        # makes for servers on CPython < 3.10 (hypercorn, aiohttp, ...).
        if self.protocol in (ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS):
            server.ticket_keys(self, _ring)
        return result

    load_cert_chain._tlsresume_ring = True
    load_cert_chain.__doc__ = original.__doc__
    ssl.SSLContext.load_cert_chain = load_cert_chain
