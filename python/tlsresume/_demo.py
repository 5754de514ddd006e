"""`tlsresume demo`: a local TLS server (this process, a thread, 127.0.0.1,
free port), then client PROCESSES that each connect once through a context
attached to one store: the first is New, the next ones are Reused."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from . import SessionStore, attach


def _make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


def _serve(lsock, ctx, log):
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            return
        try:
            with ctx.wrap_socket(conn, server_side=True) as s:
                state = "Reused" if s.session_reused else "New"
                log.append(state)
                s.recv(1024)
                s.sendall(("%s %s\n" % (state, s.version())).encode())
                s.unwrap()
        except (ssl.SSLError, OSError):
            pass


def client(a):
    """One connection with an attached context; prints JSON."""
    c0, t0 = time.process_time(), time.perf_counter()
    ctx = ssl.create_default_context(cafile=a.cafile)
    attach(ctx, SessionStore(a.store))
    t1 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", a.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            hs = time.perf_counter() - t1
            s.sendall(b"hello\n")
            reply = s.recv(1024).decode().strip()
            reused = s.session_reused
    print(json.dumps({"reused": reused, "server": reply, "handshake": hs,
                      "wall": time.perf_counter() - t0,
                      "cpu": time.process_time() - c0}))
    return 0


def run(a):
    with tempfile.TemporaryDirectory(prefix="tlsresume-demo-") as d:
        cert, key = _make_cert(d)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        v = ssl.TLSVersion.TLSv1_3 if a.tls == "1.3" else ssl.TLSVersion.TLSv1_2
        ctx.minimum_version = ctx.maximum_version = v
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        port = lsock.getsockname()[1]
        log = []
        threading.Thread(target=_serve, args=(lsock, ctx, log),
                         daemon=True).start()
        store = os.path.join(d, "store")
        print("tlsresume demo: TLS %s server on 127.0.0.1:%d, store %s"
              % (a.tls, port, store))
        ok = True
        try:
            for i in range(a.runs):
                p = subprocess.run(
                    [sys.executable, "-m", "tlsresume", "_demo-client",
                     str(port), cert, store], capture_output=True, text=True,
                    timeout=60)
                if p.returncode != 0:
                    print(p.stderr, file=sys.stderr)
                    return 1
                r = json.loads(p.stdout)
                state = "Reused" if r["reused"] else "New"
                print("  process %d: %-6s  handshake %6.2f ms  "
                      "process cpu %6.1f ms  server says: %s"
                      % (i + 1, state, r["handshake"] * 1e3, r["cpu"] * 1e3,
                         r["server"]))
                ok = ok and r["reused"] == (i > 0)
        finally:
            lsock.close()
        print("entries in store: %d" % len(SessionStore(store)))
        print("OK: first New, then Reused" if ok else "UNEXPECTED result")
        return 0 if ok else 1
