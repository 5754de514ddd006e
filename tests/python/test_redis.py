"""RedisStore: client sessions shared through a real redis-server (started
by the test on a free port, with a password), in the entry format of the
disk store, with single-use TLS 1.3 tickets taken atomically."""
import hashlib
import socket
import ssl
import subprocess
import sys
import warnings

import pytest

import tlsresume
from conftest import HELPERS, run_py, server_reports
from redis_support import https_get, redis_server  # noqa: F401 (fixture)

redis = pytest.importorskip("redis")


def session_from(port, cafile, host="localhost"):
    """A fresh client session from a full handshake (and one response)."""
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
            return c.session, ctx


def resumes(port, ctx, sess):
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=sess) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
            return c.session_reused


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
@pytest.mark.parametrize("sealed", [False, True])
def test_put_get_take_round_trip(redis_server, py_server, certs, mode,
                                 sealed):
    srv = py_server(mode)
    sess, ctx = session_from(srv.port, certs[0])
    store = tlsresume.RedisStore(redis_server.url, ssl_context=ctx,
                                 seal_key=b"k" * 32 if sealed else None)
    assert store.put("localhost", srv.port, sess) is True
    assert len(store) == 1
    got = store.get("localhost", srv.port)
    assert got is not None and resumes(srv.port, ctx, got)
    taken = store.take("localhost", srv.port)
    assert taken is not None and resumes(srv.port, ctx, taken)
    again = store.take("localhost", srv.port)
    if mode == "tls13":
        assert again is None            # single use
    else:
        assert again is not None        # a TLS 1.2 session is reused
    assert store.get("localhost", srv.port + 1) is None
    assert store.get("localhost", srv.port, scope="other") is None
    store.close()


def test_value_is_the_store_file_and_openssl_reads_it(redis_server,
                                                      py_server, certs,
                                                      tmp_path):
    srv = py_server("tls12-ticket")
    sess, ctx = session_from(srv.port, certs[0])
    store = tlsresume.RedisStore(redis_server.url, prefix="t:")
    store.put("localhost", srv.port, sess)
    key = "t:" + tlsresume._core.entry_key("localhost", srv.port, "")
    raw = redis_server.cli("GET", key + ":s")
    assert raw.startswith(b"tlsresume-store-entry 1\nhost localhost\n")
    # the disk store's key directory is a prefix of the same hash
    disk = tlsresume.SessionStore(tmp_path / "d")
    disk.put("localhost", srv.port, sess)
    (d,) = [p for p in (tmp_path / "d").glob("*/*") if p.is_dir()]
    assert key[2:].startswith(d.parent.name + d.name)
    text = subprocess.run(["openssl", "sess_id", "-noout", "-text"],
                          input=raw, capture_output=True, check=True).stdout
    assert b"TLSv1.2" in text
    # TTL is the entry's expiry
    ttl = int(redis_server.cli("TTL", key + ":s"))
    assert 0 < ttl <= 7 * 86400
    # and the disk store's file holds the same kind of bytes
    (f,) = d.glob("*.pem")
    assert f.read_bytes().split(b"\ncheck ")[0].split(b"\ntime ")[0] \
        == raw.split(b"\ncheck ")[0].split(b"\ntime ")[0]


@pytest.mark.parametrize("mode", ["tls12-sid", "tls13"])
def test_two_machines_share_sessions_and_resume(redis_server, py_server,
                                                certs, mode):
    srv = py_server(mode)
    args = [HELPERS / "redis_client.py", srv.port, certs[0],
            redis_server.url]
    a = run_py(args)
    b = run_py(args)
    a2 = run_py(args)
    assert a["reused"] == [False]
    assert b["reused"] == [True], srv.output()
    assert a2["reused"] == [True]
    assert [r["reused"] for r in server_reports(srv)] == [False, True, True]


TAKER = r"""
import hashlib, json, ssl, sys, tlsresume
url, port, cafile, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=cafile)
store = tlsresume.RedisStore(url, ssl_context=ctx, timeout=2)
sys.stdin.readline()            # all start together
got = []
for _ in range(n):
    s = store.take("localhost", port)
    if s is not None:
        got.append(hashlib.sha256(tlsresume.ticket(s)).hexdigest())
print(json.dumps(got))
"""


def test_take_once_8_processes_50_each(redis_server, py_server, certs):
    srv = py_server("tls13")
    store = tlsresume.RedisStore(redis_server.url, max_tickets=400,
                                 timeout=2)
    for _ in range(100):        # 100 distinct tickets from full handshakes
        sess, _ = session_from(srv.port, certs[0])
        assert store.put("localhost", srv.port, sess)
    supply = len(store)
    assert supply == 100
    procs = [subprocess.Popen(
        [sys.executable, "-c", TAKER, redis_server.url, str(srv.port),
         str(certs[0]), "50"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True) for _ in range(8)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    import json
    taken = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        taken += json.loads(out)
    assert len(taken) == supply           # 400 takes: every ticket went
    assert len(set(taken)) == len(taken)    # never the same ticket twice
    store.close()


def test_attach_accepts_redis_store_and_detach(redis_server, py_server,
                                               certs):
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(redis_server.url)
    assert tlsresume.attach(ctx, store) is ctx
    assert https_get(srv.port, ctx)["reused"] is False
    assert store.flush(5)
    assert https_get(srv.port, ctx)["reused"] is True
    tlsresume.detach(ctx)
    assert https_get(srv.port, ctx)["reused"] is False
    assert "password" not in repr(store).lower()
    assert redis_server.password not in repr(store)
    store.close()


def _peercerts(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
            return (c.session_reused, c.getpeercert(),
                    c.getpeercert(binary_form=True))


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
def test_attach_restores_lean_and_keeps_getpeercert(redis_server, py_server,
                                                    certs, mode):
    srv = py_server(mode)
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(redis_server.url)
    tlsresume.attach(ctx, store)
    reused, cert, der = _peercerts(srv.port, ctx)
    assert not reused and cert["subject"] == ((("commonName", "localhost"),),)
    assert store.flush(5)
    assert _peercerts(srv.port, ctx) == (True, cert, der)
    tlsresume.detach(ctx)
    # What attach() took came back without a decoded certificate; the
    # public take() and decode_peer=True decode it.
    assert store.flush(5)
    for st, has_peer in ((store, False), (tlsresume.RedisStore(
            redis_server.url, decode_peer=True), True)):
        sess = st._take_lean("localhost", srv.port, ctx, "")
        assert sess is not None
        assert tlsresume._core.peer_decoded(sess) is has_peer
        assert tlsresume.inspect(sess).has_peer     # the bytes are kept
        if mode == "tls13":
            break
    store.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://h:port/",
                                 "nonsense"])
def test_unusable_url_is_error_at_construction(url):
    with pytest.raises(tlsresume.Error) as e:
        tlsresume.RedisStore(url)
    assert "Redis URL" in str(e.value)


def test_argument_checks(redis_server):
    with pytest.raises(TypeError):
        tlsresume.RedisStore(42)
    with pytest.raises(TypeError):
        tlsresume.RedisStore(redis_server.url, prefix=b"x")
    with pytest.raises(tlsresume.Error):
        tlsresume.RedisStore(redis_server.url, seal_key=b"short")
    for bad in ("1", 0, -1, float("nan"), True):
        with pytest.raises(TypeError):
            tlsresume.RedisStore(redis_server.url, timeout=bad)
    store = tlsresume.RedisStore(redis_server.url)
    with pytest.raises(TypeError):
        store.get("h", 1)                 # no context to bind to
    with pytest.raises(TypeError):
        store.get("h", "1", ssl.create_default_context())
    with pytest.raises(tlsresume.Error):
        store.get("", 1, ssl.create_default_context())


def test_client_object_is_accepted(redis_server, py_server, certs):
    srv = py_server("tls12-ticket")
    sess, ctx = session_from(srv.port, certs[0])
    client = redis.Redis(port=redis_server.port,
                         password=redis_server.password)
    store = tlsresume.RedisStore(client, prefix="mine:", ssl_context=ctx)
    store.put("localhost", srv.port, sess)
    assert client.keys("mine:*")
    assert store.remove("localhost", srv.port) == 1
    assert store.get("localhost", srv.port) is None


def test_forked_child_writes_its_captures(redis_server, py_server, certs):
    # Threads do not survive fork(): the child starts a writer of its own.
    import os
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=certs[0])
    store = tlsresume.RedisStore(redis_server.url)
    tlsresume.attach(ctx, store)
    https_get(srv.port, ctx)
    assert store.flush(5)
    store.remove("localhost", srv.port)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            https_get(srv.port, ctx)
            import time
            time.sleep(0.5)             # the writer, not flush, writes
            code = 0 if len(store) >= 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert https_get(srv.port, ctx)["reused"] is True
    store.close()
