"""One TLS client connection in its own process; prints a JSON report.

Connects to 127.0.0.1:PORT (SNI / check: --host-name, default localhost),
optionally offering a session from --session-in (tlsresume.loads), sends a
GET, reads the whole reply (TLS 1.3 tickets arrive then), optionally saves
the session with tlsresume.dumps to --session-out.
"""
import argparse
import json
import socket
import ssl
import time

import tlsresume

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--cafile", required=True)
ap.add_argument("--host-name", default="localhost")
ap.add_argument("--session-in")
ap.add_argument("--session-out")
ap.add_argument("--format", default="der")
ap.add_argument("--tls", choices=["1.2", "1.3"])
ap.add_argument("--bio", action="store_true", help="use wrap_bio")
a = ap.parse_args()

t0 = time.perf_counter()
c0 = time.process_time()
ctx = ssl.create_default_context(cafile=a.cafile)
if a.tls == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
elif a.tls == "1.3":
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
sess = None
if a.session_in:
    with open(a.session_in, "rb") as f:
        sess = tlsresume.loads(f.read(), ctx)

request = b"GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % a.host_name.encode()
raw = socket.create_connection(("127.0.0.1", a.port), timeout=20)
if a.bio:
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=a.host_name, session=sess)

    def pump():
        data = out.read()
        if data:
            raw.sendall(data)

    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump()
            data = raw.recv(65536)
            if not data:
                raise SystemExit("EOF during handshake")
            inc.write(data)
    pump()
    obj.write(request)
    pump()
    body = b""
    while True:
        try:
            d = obj.read(65536)
            if not d:
                break
            body += d
        except ssl.SSLWantReadError:
            data = raw.recv(65536)
            if not data:
                break
            inc.write(data)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    conn = obj
else:
    conn = ctx.wrap_socket(raw, server_hostname=a.host_name, session=sess)
    conn.sendall(request)
    body = b""
    while True:
        try:
            d = conn.recv(65536)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        if not d:
            break
        body += d

report = {"reused": conn.session_reused, "version": conn.version(),
          "server_says_reused": b"Reused," in body,
          "body": body.decode("latin-1")[-400:]}
if a.session_out:
    data = tlsresume.dumps(conn.session, format=a.format)
    with open(a.session_out, "wb") as f:
        f.write(data)
report["wall"] = time.perf_counter() - t0
report["cpu"] = time.process_time() - c0
raw.close()
print(json.dumps(report))
