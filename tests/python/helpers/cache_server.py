"""TLS server for the shared session cache tests: one of several processes
on one port (SO_REUSEPORT), tickets off, its session cache in a store.

Prints "PORT n", then one JSON line per connection with what ITS OWN
SSLSocket says ({"pid", "reused", "version"}); the client gets the same
line.  usage: cache_server.py CERT KEY MODE STORE|- [PORT]
(MODE: tls12, tls13; STORE "-": no shared cache, OpenSSL's own)
"""
import json
import os
import socket
import ssl
import sys

import tlsresume
import tlsresume.server

cert, key, mode, store = sys.argv[1:5]
port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.options |= ssl.OP_NO_TICKET
if mode == "tls12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
if store != "-":
    tlsresume.server.session_cache(ctx, tlsresume.SessionStore(store))

lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
lsock.bind(("127.0.0.1", port))
lsock.listen(64)
print("PORT %d" % lsock.getsockname()[1], flush=True)
while True:
    raw, _ = lsock.accept()
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print(json.dumps({"pid": os.getpid(), "error": str(e)}), flush=True)
        raw.close()
        continue
    report = json.dumps({"pid": os.getpid(), "reused": conn.session_reused,
                         "version": conn.version()})
    print(report, flush=True)
    try:
        conn.sendall(report.encode() + b"\n")
        conn.recv(1)            # the client closes first
        conn.unwrap()           # close_notify: a clean TLS close
    except (ssl.SSLError, OSError):
        pass
    conn.close()
