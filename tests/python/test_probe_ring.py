"""tlsresume probe against servers sharing (or not) a ticket key ring
(issue 11's last items): uvicorn with 4 workers, a fraction without a ring
and everything with TLSRESUME_TICKET_KEYS; the plugin's
tls_server(ticket_keys=...), whose servers resume each other's tickets."""
import functools
import json
import socket
import ssl
import subprocess
import sys

import pytest

import tlsresume
from ringutil import asgi_server
from redis_support import redis_server  # noqa: F401
from tlsresume.testing import assert_resumes

TRIES = 20
TICKETS = ["--mechanism", "ticket_tls12", "--mechanism", "tls13"]


def probe_cli(port, certs, *extra):
    p = subprocess.run([sys.executable, "-m", "tlsresume", "probe",
                        "127.0.0.1:%d" % port, "--cafile", str(certs[0]),
                        "--tries", str(TRIES), "--json"] + list(extra),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout)


def test_probe_uvicorn_4_workers_without_and_with_ring(start_server, certs,
                                                       tmp_path):
    srv = asgi_server(start_server, "uvicorn", certs, 4)
    rc, d = probe_cli(srv.port, certs)
    srv.stop()
    # Each worker seals tickets under its own random keys: a ticket resumes
    # only when the next connection meets the worker that issued it (the
    # probe's connections, one after the other, mostly do not: 0-3/20).
    shares = {k: d[k]["resumed"] / TRIES
              for k in ("session_id", "ticket_tls12", "tls13")}
    print("uvicorn 4 workers, no ring:", shares)
    assert rc == 1 and d["verdict"] == "does not always resume"
    assert shares["ticket_tls12"] < 0.6 and shares["tls13"] < 0.6, shares
    assert d["ticket_tls12"]["attempts"] == d["tls13"]["attempts"] == TRIES
    kn = d["ticket_key_names"]
    assert kn["same_across_connections"] is False
    assert 2 <= len(kn["tls1.2"]) <= 4, kn       # a name per worker
    assert any(f.startswith("TLS 1.2 tickets: ") for f in d["failures"])
    assert any(f.startswith("TLS 1.3 resumptions: ") for f in d["failures"])
    assert any("keys per process" in w for w in d["warnings"])

    ring = tlsresume.TicketKeyRing.init(tmp_path / "ring")
    srv = asgi_server(start_server, "uvicorn", certs, 4, ring=ring.path)
    rc, d = probe_cli(srv.port, certs, *TICKETS)
    assert rc == 0 and d["verdict"] == "resumes", d["failures"]
    assert d["session_id"] is None      # IDs are per worker: not asked
    for k in ("ticket_tls12", "tls13"):
        assert (d[k]["attempts"], d[k]["resumed"]) == (TRIES, TRIES), d[k]
    assert d["ticket_key_names"]["tls1.3"] == [ring.encrypting().hex()]
    assert d["ticket_key_names"]["same_across_connections"] is True
    # Asked for session IDs too, the probe says which part fails.
    rc, d = probe_cli(srv.port, certs, "--tls1.2")
    assert rc == 1 and d["ticket_tls12"]["resumed"] == TRIES
    assert [f for f in d["failures"] if f.startswith("session IDs")]
    assert "Traceback" not in srv.output()


# ---- the plugin: tls_server(ticket_keys=...) -------------------------------

@functools.lru_cache(None)
def client_ctx(cafile, tls):
    """One per CA and version: a session resumes only through the
    SSLContext that made it."""
    ctx = ssl.create_default_context(cafile=cafile)
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[tls]
    ctx.minimum_version = ctx.maximum_version = v
    return ctx


def connect(srv, session=None, tls="1.3"):
    """One HTTP request through Python's ssl: (resumed, session)."""
    ctx = client_ctx(srv.cafile, tls)
    with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=session) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = b""
            while True:       # to EOF: TLS 1.3 tickets come with the data
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
            assert body.startswith(b"HTTP/1.0 200"), body
            return s.session_reused, s.session


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_probe_plugin_tls_server_ticket_keys_shared(tls_server, tmp_path,
                                                    tls):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "ring")
    a = tls_server(tls=tls, ticket_keys=ring)
    b = tls_server(tls=tls, ticket_keys=tmp_path / "ring")   # a path too
    lone = tls_server(tls=tls)                # s_server, its own keys
    for srv in (a, b):
        r = assert_resumes(srv.host, srv.port, cafile=srv.cafile, tries=2,
                           mechanisms=["ticket_tls12" if tls == "1.2"
                                       else "tls13"])
        v = "tls" + tls
        assert r.ticket_key_names[v] == [ring.encrypting().hex()]
        # The probe's verdicts, connection by connection, are the server's.
        seen = srv.wait_connections(len(r.connections))
        assert [c["resumed"] for c in r.connections] == \
            [c["resumed"] for c in seen]
    # A session from a resumed on b, and back; s_server refuses it.
    n_a, n_b = len(a.connections()), len(b.connections())
    reused, sess = connect(a, tls=tls)
    assert not reused
    for srv in (b, a, b):
        reused, sess = connect(srv, sess, tls)
        assert reused
    assert not connect(lone, sess, tls)[0]
    seen_a, seen_b = a.wait_connections(n_a + 2), b.wait_connections(n_b + 2)
    assert [c["resumed"] for c in seen_a[n_a:]] == [False, True]
    assert [c["resumed"] for c in seen_b[n_b:]] == [True, True]
    assert b.resumed_count() == len(b.connections()) - 1


def test_probe_plugin_tls_server_ticket_keys_own_ring_each(tls_server,
                                                           tmp_path):
    a = tls_server(tls="1.3", ticket_keys=tlsresume.TicketKeyRing.init(
        tmp_path / "a"))
    b = tls_server(tls="1.3", ticket_keys=tlsresume.TicketKeyRing.init(
        tmp_path / "b"))
    _, sess = connect(a)
    assert connect(a, sess)[0] and not connect(b, sess)[0]
    assert [c["resumed"] for c in b.wait_connections(1)] == [False]


def test_probe_plugin_tls_server_ticket_keys_refusals(tls_server, tmp_path):
    with pytest.raises(tlsresume.Error, match="does not exist"):
        tls_server(ticket_keys=tmp_path / "missing")
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r")
    for kw in ({"tickets": False}, {"cache": False}, {"early_data": True}):
        with pytest.raises(tlsresume.Error, match="cannot be combined"):
            tls_server(ticket_keys=ring, **kw)
    with pytest.raises(TypeError, match="TicketKeyRing"):
        tls_server(ticket_keys=42)
    with pytest.raises(ValueError, match="tls must be"):
        tls_server(tls="1.1", ticket_keys=ring)


def test_probe_plugin_tls_server_ticket_keys_on_a_redis_ring(
        tls_server, redis_server, tmp_path, monkeypatch):
    """tls_server(ticket_keys="redis://...") (issue 11's note: untested):
    two servers on one Redis ring resume each other's tickets."""
    pytest.importorskip("redis")
    run = tmp_path / "run"          # the servers' private ring copies
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    url = redis_server.url + "?prefix=plugin:ring:"
    p = subprocess.run([sys.executable, "-m", "tlsresume", "keys", "init",
                        url], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    a = tls_server(tls="1.3", ticket_keys=url)
    b = tls_server(tls="1.3", ticket_keys=url)
    reused, sess = connect(a)
    assert not reused
    for srv in (b, a):
        reused, sess = connect(srv, sess)
        assert reused
    assert [c["resumed"] for c in b.wait_connections(1)] == [True]
