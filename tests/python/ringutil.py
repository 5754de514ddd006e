"""Shared by the ticket key ring tests: openssl s_client runs, in-memory
handshakes through Python's ssl module, and ASGI servers."""
import concurrent.futures
import os
import socket
import ssl
import subprocess
import sys
import threading

from conftest import HELPERS, wait_for

REQUEST = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"


def s_client(port, version, sess_in=None, sess_out=None, extra=()):
    """One connection: True if it resumed (s_client's "Reused")."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", "localhost", "-tls" + version.replace(".", "_"),
            "-ign_eof"] + list(extra)
    if sess_in:
        argv += ["-sess_in", str(sess_in)]
    if sess_out:
        argv += ["-sess_out", str(sess_out)]
    p = subprocess.run(argv, input=REQUEST, capture_output=True, timeout=30)
    out = p.stdout.decode("latin-1")
    if "Reused, TLS" in out:
        return True
    if "New, TLS" in out:
        return False
    raise AssertionError("s_client failed: %s" % p.stderr[-400:])


def resumed(port, version, tmp, n=100, jobs=8):
    """How many of n connections resumed.  TLS 1.2: all offer one saved
    session.  TLS 1.3 (single-use tickets): `jobs` chains, each
    connection offers the ticket the previous one got."""
    tmp.mkdir(parents=True, exist_ok=True)
    if version == "1.2":
        first = tmp / "s12.pem"
        s_client(port, version, sess_out=first)
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            return sum(ex.map(lambda i: s_client(port, version, first),
                              range(n)))

    def chain(j):
        cur = tmp / ("c%d-0.pem" % j)
        s_client(port, version, sess_out=cur)
        hits = 0
        for i in range(n // jobs + (j < n % jobs)):
            nxt = tmp / ("c%d-%d.pem" % (j, i + 1))
            hits += s_client(port, version, cur, nxt)
            cur = nxt
        return hits

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        return sum(ex.map(chain, range(jobs)))


def asgi_server(start_server, kind, certs, workers, ring=None):
    """uvicorn or hypercorn (or gunicorn, a WSGI server with sync workers)
    with `workers` workers on a free port, ring given through
    TLSRESUME_TICKET_KEYS (or not at all)."""
    cert, key = certs
    env = dict(os.environ)
    env.pop("TLSRESUME_TICKET_KEYS", None)
    if ring is not None:
        env["TLSRESUME_TICKET_KEYS"] = str(ring)
    env["PYTHONPATH"] = str(HELPERS)
    if kind == "uvicorn":
        argv = [sys.executable, "-m", "uvicorn", "asgi_app:app",
                "--workers", str(workers), "--host", "127.0.0.1",
                "--port", "0", "--ssl-keyfile", str(key),
                "--ssl-certfile", str(cert), "--log-level", "info"]
        ready = "Application startup complete"
    elif kind == "gunicorn":
        # A sync worker builds an SSLContext per connection.
        argv = [sys.executable, "-m", "gunicorn", "wsgi_app:app",
                "--workers", str(workers), "-b", "127.0.0.1:%d" % free_port(),
                "--keyfile", str(key), "--certfile", str(cert)]
        ready = "Booting worker"
    else:
        argv = [sys.executable, "-m", "hypercorn", "asgi_app:app",
                "--workers", str(workers), "-b", "127.0.0.1:0",
                "--keyfile", str(key), "--certfile", str(cert)]
        ready = "Running on"
    srv = start_server(argv, r"https?://127\.0\.0\.1:(\d+)", env=env)
    ok = wait_for(lambda: sum(ready in l for l in srv.lines) >= workers, 30)
    assert ok, srv.output()
    return srv


class MemPair:
    """Handshakes over socketpairs between a server and a client
    ssl.SSLContext, in this process (the server side in a thread)."""

    def __init__(self, client_ctx):
        self.client = client_ctx

    def connect(self, server_ctx, session=None):
        """(resumed, client session) after one byte of data."""
        a, b = socket.socketpair()
        err = []

        def serve():
            try:
                with server_ctx.wrap_socket(b, server_side=True) as s:
                    s.sendall(b"x")
                    s.recv(1)
            except (OSError, ssl.SSLError) as e:
                err.append(e)

        t = threading.Thread(target=serve)
        t.start()
        with self.client.wrap_socket(a, server_hostname="localhost",
                                     session=session) as c:
            c.recv(1)
            reused, sess = c.session_reused, c.session
            c.sendall(b"y")
        t.join(10)
        assert not err, err
        return reused, sess


def server_ctx(certs, version, ring=None, **kw):
    import tlsresume
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs)
    ctx.maximum_version = ctx.minimum_version = version
    if ring is not None:
        tlsresume.server.ticket_keys(ctx, ring, **kw)
    return ctx


def client_ctx(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ctx.minimum_version = version
    return ctx


class PyTLSServer:
    """A Python TLS server in a thread of this process (one connection
    at a time): reads a request, answers "ok", closes."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.errors = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as s:
                    s.recv(4096)
                    s.sendall(b"HTTP/1.0 200 OK\r\n\r\nok\n")
            except (OSError, ssl.SSLError) as e:
                self.errors.append(e)

    def close(self):
        self.sock.close()


def free_port():
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]
