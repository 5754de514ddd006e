"""TLS 1.3 early data (attach(..., early_data=True)) and lean restores,
judged by the servers: nginx reports $ssl_early_data in a response header
and logs every request it served; openssl s_server -early_data prints
what arrived early."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

import tlsresume
from conftest import HELPERS, stop_group
from delay_proxy import DelayProxy

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX),
                                reason="nginx not installed")

CONF = """
{user}
worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 32; }}
http {{
    log_format early "$request_method $ssl_early_data $ssl_session_reused";
    access_log {dir}/access.log early;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_ticket_key {dir}/ticket.key;
        ssl_early_data {early};
        location / {{
            add_header X-Early "$ssl_early_data" always;
            return 200 "early=$ssl_early_data reused=$ssl_session_reused\\n";
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx on 127.0.0.1:port; clients go through a 10 ms delaying proxy
    (proxy_port, see delay_proxy.py) when proxied."""

    def __init__(self, d, certs, port, early):
        cert, key = certs
        self.dir, self.port = d, port
        if not os.path.exists(d / "ticket.key"):
            (d / "ticket.key").write_bytes(os.urandom(80))
        (d / "access.log").write_text("")
        (d / "nginx.conf").write_text(CONF.format(
            user="user root;" if os.getuid() == 0 else "", dir=d, port=port,
            cert=cert, key=key, early="on" if early else "off"))
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(d), "-c", str(d / "nginx.conf"), "-e",
             str(d / "error.log")], stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError((d / "error.log").read_text())

    def log(self):
        return (self.dir / "access.log").read_text().split("\n")[:-1]

    def stop(self):
        stop_group(self.proc, signal.SIGTERM)


@pytest.fixture
def nginx(tmp_path, certs):
    started = []

    proxies = {}

    def start(early=True, port=None):
        n = Nginx(tmp_path, certs, port or free_port(), early)
        started.append(n)
        if n.port not in proxies:
            proxies[n.port] = DelayProxy(n.port, 0.01)
        n.proxy_port = proxies[n.port].port
        return n
    yield start
    for n in started:
        n.stop()
    for p in proxies.values():
        p.close()


def fetch(lib, port, ca, store, method="GET"):
    """One request from a fresh process to https://localhost:port/."""
    r = subprocess.run([sys.executable, str(HELPERS / "early_client.py"),
                        lib, "https://localhost:%d/" % port, str(ca),
                        str(store), method],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("lib", ["http.client", "requests", "httpx",
                                 "httpx-async"])
def test_get_goes_early_from_the_second_process(lib, nginx, certs, tmp_path):
    pytest.importorskip("httpx" if lib.startswith("httpx") else "ssl")
    pytest.importorskip("requests" if lib == "requests" else "ssl")
    srv = nginx()
    store = tmp_path / "store"
    first = fetch(lib, srv.proxy_port, certs[0], store)
    assert first["status"] == 200 and not first["early"]
    for _ in range(2):
        r = fetch(lib, srv.proxy_port, certs[0], store)
        assert r["status"] == 200
        assert r["early"] == "1", r            # the server's word
    assert srv.log() == ["GET - .", "GET 1 r", "GET 1 r"]


def test_post_never_goes_early(nginx, certs, tmp_path):
    srv = nginx()
    store = tmp_path / "store"
    fetch("http.client", srv.proxy_port, certs[0], store)
    for lib in ("http.client", "httpx"):
        r = fetch(lib, srv.proxy_port, certs[0], store, "POST")
        assert r["status"] == 200 and not r["early"]
    assert srv.log() == ["GET - .", "POST - r", "POST - r"]


def test_rejected_early_data_is_sent_again_once(nginx, certs, tmp_path):
    # The ticket allows early data; the server restarted with it off (same
    # ticket key) resumes the session and rejects the early data.
    srv = nginx()
    store = tmp_path / "store"
    fetch("http.client", srv.proxy_port, certs[0], store)
    srv.stop()
    srv = nginx(early=False, port=srv.port)
    r = fetch("http.client", srv.proxy_port, certs[0], store)
    assert r["status"] == 200 and not r["early"]
    assert r["body"] == "early= reused=r\n"
    assert srv.log() == ["GET - r"]       # reached the server once


def test_session_without_early_data_sends_nothing_early(nginx, certs,
                                                        tmp_path):
    srv = nginx(early=False)
    store = tmp_path / "store"
    for lib in ("http.client", "httpx", "http.client"):
        r = fetch(lib, srv.proxy_port, certs[0], store)
        assert r["status"] == 200 and not r["early"]
    assert srv.log() == ["GET - .", "GET - r", "GET - r"]


def test_getpeercert_after_lean_resumption_equals_full(nginx, certs,
                                                       tmp_path):
    srv = nginx()
    store = tmp_path / "store"
    full = fetch("http.client", srv.proxy_port, certs[0], store)
    resumed = fetch("http.client", srv.proxy_port, certs[0], store)
    assert resumed["early"] == "1"          # resumed, from a lean restore
    assert resumed["peercert"] == full["peercert"]
    assert resumed["peercert_der"] == full["peercert_der"]
    assert full["peercert"]["subject"] == [[["commonName", "localhost"]]]


def test_send_early_with_s_server(start_server, certs, tmp_path):
    cert, key = certs
    srv = start_server(["openssl", "s_server", "-accept", "127.0.0.1:0",
                        "-cert", str(cert), "-key", str(key), "-tls1_3",
                        "-early_data"], r"ACCEPT 127\.0\.0\.1:(\d+)")
    code = r"""
import socket, ssl, sys, tlsresume
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = tlsresume.attach(ssl.create_default_context(cafile=ca),
                       tlsresume.SessionStore(path))
raw = socket.create_connection(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost",
                    do_handshake_on_connect=False)
print(tlsresume.send_early(s, b"hello early\n"))
s.settimeout(0.5)       # s_server answers nothing: read only the tickets
try:
    s.recv(100)
except socket.timeout:      # TimeoutError on 3.10+
    pass
# A clean close: s_server drops the session of a connection that ends
# without close_notify, and its anti-replay then rejects the ticket.
s.unwrap()
s.close()
"""
    outs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code, str(srv.port),
                            str(cert), str(tmp_path / "st")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.split("\n"))
    assert outs[0][0] == "not sent" and outs[1][0] == "accepted"
    for _ in range(50):
        if "Early data received" in srv.output():
            break
        time.sleep(0.1)
    assert "hello early" in srv.output()
    assert "Early data received" in srv.output()


def test_replay_safe_requests():
    from tlsresume._early import replay_safe
    assert replay_safe(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert replay_safe(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n")
    assert replay_safe(b"OPTIONS * HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert not replay_safe(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert not replay_safe(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody")
    assert not replay_safe(b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n")
    assert not replay_safe(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked"
                           b"\r\n\r\n")
    assert not replay_safe(b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert not replay_safe(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")


def test_regression_resumed_tickets_keep_certificate_and_trust(
        s_server, certs, tmp_path):
    # CPython's session setter copies the session through i2d/d2i: the
    # tickets a resumed connection received were saved without the trust
    # record (refused from then on by verifying contexts) and, after a lean
    # restore, without the certificate.  Four processes: all but the first
    # resume, and every entry keeps the certificate.
    from test_trust import trust_client
    srv = s_server("tls13")
    store = tmp_path / "store"
    runs = [trust_client(srv.port, store, "ca", certs[0]) for _ in range(4)]
    assert [r["server_reused"] for r in runs] == [False, True, True, True]
    entries = list(tlsresume.SessionStore(store))
    assert entries and all(e.info.has_peer for e in entries)


def test_regression_lean_restore_keeps_the_trust_rule(s_server, certs,
                                                      tmp_path):
    # The rule reads the record's anchor, never the certificate: a lean
    # restore is refused under a context that does not trust the anchor.
    from test_trust import trust_client
    srv = s_server("tls13")
    store = tmp_path / "store"
    assert trust_client(srv.port, store, "ca", certs[0])["ok"]
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "other.key"), "-out",
                    str(other), "-days", "1", "-subj", "/CN=other"],
                   check=True, capture_output=True)
    refused = trust_client(srv.port, store, "ca", other)
    assert refused["ok"] is False          # no resumption, then no trust
    ok = trust_client(srv.port, store, "ca", certs[0])
    assert ok["reused"] is True and ok["server_reused"] is True


DEFERRED = r"""
import socket, ssl, sys, tlsresume
port, ca, path, call = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = tlsresume.attach(ssl.create_default_context(cafile=ca),
                       tlsresume.SessionStore(path), early_data=True)
raw = socket.create_connection(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost")   # deferred
if call == "version":
    print(s.version())              # needs the handshake: completes it
elif call == "do_handshake":
    s.do_handshake()                # explicit: never deferred
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
page = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    page += d
print(page.split(b"\r\n\r\n", 1)[1].decode().strip())
print(tlsresume.early_data_status(s))
"""


def test_deferred_handshake_completes_for_calls_that_need_it(nginx, certs,
                                                              tmp_path):
    srv = nginx()
    outs = {}
    for call in ("version", "do_handshake", "none"):
        store = tmp_path / call
        fetch("http.client", srv.proxy_port, certs[0], store)   # 2 tickets
        r = subprocess.run([sys.executable, "-c", DEFERRED,
                            str(srv.proxy_port), str(certs[0]), str(store),
                            call], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        outs[call] = r.stdout.split("\n")
    assert outs["version"][:3] == ["TLSv1.3", "early= reused=r", "not sent"]
    assert outs["do_handshake"][:2] == ["early= reused=r", "not sent"]
    assert outs["none"][:2] == ["early=1 reused=r", "accepted"]
