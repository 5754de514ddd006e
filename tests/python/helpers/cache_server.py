"""TLS server for the shared session cache tests: one of several processes
on one port (SO_REUSEPORT), tickets off, its session cache in a store.

Prints "PORT n", then one JSON line per connection with what ITS OWN
SSLSocket says ({"pid", "reused", "version"}); the client gets the same
line.  usage: cache_server.py CERT KEY MODE STORE|- [PORT] [--fork]
(MODE: tls12, tls13; STORE "-": no shared cache, OpenSSL's own; a
redis:// URL: a RedisStore; --fork: set up, then fork a second worker on
the same listening socket, as pre-forking servers do).
TLSR_TEST_SEAL_KEY (hex) seals the store; TLSR_TEST_LOOKUP_TIMEOUT
(seconds) bounds a Redis lookup.
"""
import ctypes
import signal
import json
import os
import socket
import ssl
import sys

import tlsresume
import tlsresume.server

args = [a for a in sys.argv[1:] if a != "--fork"]
cert, key, mode, store = args[:4]
port = int(args[4]) if len(args) > 4 else 0
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.options |= ssl.OP_NO_TICKET
if mode == "tls12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
seal = os.environ.get("TLSR_TEST_SEAL_KEY")         # hex, 32 bytes
seal = bytes.fromhex(seal) if seal else None
if store.startswith("redis://") or store.startswith("unix://"):
    tlsresume.server.session_cache(
        ctx, tlsresume.RedisStore(store, seal_key=seal),
        lookup_timeout=float(os.environ.get("TLSR_TEST_LOOKUP_TIMEOUT",
                                            "0.01")))
elif store != "-":
    tlsresume.server.session_cache(ctx, tlsresume.SessionStore(
        store, seal_key=seal))

lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
lsock.bind(("127.0.0.1", port))
lsock.listen(64)
print("PORT %d" % lsock.getsockname()[1], flush=True)
if "--fork" in sys.argv and os.fork() == 0:
    # The worker dies with its parent (the test kills the parent).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
while True:
    raw, _ = lsock.accept()
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print(json.dumps({"pid": os.getpid(), "error": str(e)}), flush=True)
        raw.close()
        continue
    # The new session (TLS 1.3: its ticket, sent in the handshake) is
    # written by the cache's thread within ~20 ms; the client reconnects
    # sooner, maybe to the other process: write it before answering.
    tlsresume.server.flush(ctx)
    report = json.dumps({"pid": os.getpid(), "reused": conn.session_reused,
                         "version": conn.version()})
    print(report, flush=True)
    try:
        conn.sendall(report.encode() + b"\n")
    except (ssl.SSLError, OSError):
        pass
    try:
        # close_notify: OpenSSL drops the session of a connection that
        # ends without one (ssl_clear_bad_session).
        conn.unwrap()
    except (ssl.SSLError, OSError):
        pass
    conn.close()
