"""The pytest plugin's server for tls_server(ticket_keys=RING): openssl
s_server cannot seal tickets with a TicketKeyRing, so this one serves with
Python's ssl and tlsresume.server.ticket_keys().

    TLSRESUME_TESTSERVER_RING=RING python -m tlsresume._testserver CERT KEY
                                    [--tls 1.2|1.3] [--num-tickets N]

RING (a directory or a redis:// URL) comes through the environment: a URL's
password stays out of the process list.

Listens on 127.0.0.1 (a free port) and prints "ACCEPT 127.0.0.1:PORT" (as
s_server does), then one JSON line per completed handshake, in handshake
order: {"n": accept order from 0, "resumed": bool, "version": "TLSv1.3"}
(threads may print out of order: sort by n); a failed handshake is a plain
"handshake failed: ..." line.  Each connection gets a short HTTP
answer to whatever it sends (like s_server -www) and is closed.
"""
import argparse
import itertools
import json
import os
import socket
import ssl
import sys
import threading

from . import server
from ._redis_ring import redact

RING_ENV = "TLSRESUME_TESTSERVER_RING"

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
_print_lock = threading.Lock()


def _say(line):
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _serve(ctx, raw, n):
    raw.settimeout(10)      # a stalled client costs a thread, not the server
    try:
        s = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError) as e:
        _say("handshake failed: %s" % e)
        raw.close()
        return
    _say(json.dumps({"n": n, "resumed": s.session_reused,
                     "version": s.version()}))
    try:
        if s.recv(4096):
            body = b"resumed: %s\n" % str(s.session_reused).lower().encode()
            s.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            s.settimeout(1)
            s.unwrap()      # close_notify: the client keeps its tickets
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        s.close()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tlsresume._testserver")
    p.add_argument("cert")
    p.add_argument("key")
    p.add_argument("--tls", choices=sorted(VERSIONS))
    p.add_argument("--num-tickets", type=int)
    a = p.parse_args(argv)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.tls:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[a.tls]
    if a.num_tickets is not None:
        ctx.num_tickets = a.num_tickets
    ring = os.environ.get(RING_ENV, "")
    try:
        if not ring:
            raise ValueError("%s is not set" % RING_ENV)
        server.ticket_keys(ctx, ring)
    except (ValueError, TypeError) as e:
        sys.stderr.write("tlsresume: ticket key ring %s: %s\n"
                         % (redact(ring), e))
        return 2
    ls = socket.create_server(("127.0.0.1", 0))
    _say("ACCEPT 127.0.0.1:%d" % ls.getsockname()[1])
    for n in itertools.count():
        raw, _ = ls.accept()
        threading.Thread(target=_serve, args=(ctx, raw, n),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
