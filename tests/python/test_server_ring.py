"""Ticket key rings on Python servers: ticket_keys() in process, the
TLSRESUME_TICKET_KEYS start-up hook, and uvicorn / hypercorn with 4
workers resuming (or, without the ring, not) through openssl s_client."""
import os
import ssl
import subprocess
import sys
import time
import warnings

import pytest

import tlsresume
from conftest import wait_for
from ringutil import (MemPair, asgi_server, client_ctx, resumed, s_client,
                      server_ctx)

V12, V13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3


def key_bytes(ring_dir):
    return [p.read_bytes() for p in sorted(ring_dir.glob("*.key"))]


def test_ring_repr_and_keys_show_no_secret(tmp_path):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r", period=3600,
                                        keep=7200)
    text = repr(ring) + repr(ring.keys()) + repr(ring.status())
    for raw in key_bytes(tmp_path / "r"):
        for secret in (raw[16:48], raw[48:80]):
            assert secret.hex() not in text and repr(secret) not in text
    roles = [k.role for k in ring.keys()]
    assert roles == ["encrypt", "next"]
    assert ring.period == 3600 and ring.keep == 7200 and ring.aes256
    assert oct((tmp_path / "r").stat().st_mode & 0o777) == "0o700"
    assert all(p.stat().st_mode & 0o777 == 0o600
               for p in (tmp_path / "r").iterdir())


def test_ring_errors(tmp_path):
    with pytest.raises(tlsresume.Error, match="does not exist") as e:
        tlsresume.TicketKeyRing(tmp_path / "missing")
    assert e.value.code_name == "TLSR_ENOTFOUND"
    tlsresume.TicketKeyRing.init(tmp_path / "r")
    with pytest.raises(tlsresume.Error, match="exists"):
        tlsresume.TicketKeyRing.init(tmp_path / "r")
    with pytest.raises(tlsresume.Error, match="7 days"):
        tlsresume.TicketKeyRing.init(tmp_path / "x", keep=7 * 86400)
    with pytest.raises(TypeError):
        tlsresume.TicketKeyRing(42)
    (tmp_path / "r").chmod(0o770)
    with pytest.raises(tlsresume.Error, match="writable") as e:
        tlsresume.TicketKeyRing(tmp_path / "r")
    assert e.value.code_name == "TLSR_EPERM"
    (tmp_path / "r").chmod(0o700)
    next(iter((tmp_path / "r").glob("*.key"))).write_bytes(b"short")
    with pytest.raises(tlsresume.Error, match="5 bytes") as e:
        tlsresume.TicketKeyRing(tmp_path / "r")
    assert e.value.code_name == "TLSR_ECORRUPT"


def test_ticket_keys_refuses_client_contexts_and_bad_sid(tmp_path):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r")
    with pytest.raises(tlsresume.Error, match="server contexts"):
        tlsresume.server.ticket_keys(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
                                     ring)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(TypeError):
        tlsresume.server.ticket_keys(object(), ring)
    with pytest.raises(TypeError):
        tlsresume.server.ticket_keys(ctx, ring, session_id_context=5)
    with pytest.raises(tlsresume.Error, match="32 bytes"):
        tlsresume.server.ticket_keys(ctx, ring, session_id_context=b"x" * 33)


@pytest.mark.parametrize("version", [V12, V13])
def test_two_contexts_on_one_ring_resume_each_other(certs, tmp_path,
                                                    version):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r")
    a = server_ctx(certs, version, ring)
    b = server_ctx(certs, version, tmp_path / "r")     # a path works too
    lone = server_ctx(certs, version)                  # OpenSSL's own keys
    pair = MemPair(client_ctx(version))
    reused, sess = pair.connect(a)
    assert not reused
    assert tlsresume.ticket(sess)[:16] == ring.encrypting()
    for srv in (b, a, b):
        reused, sess = pair.connect(srv, sess)     # TLS 1.3: fresh each time
        assert reused
    assert not pair.connect(lone, sess)[0]
    info = ring.decrypt(tlsresume.ticket(sess))
    assert info["protocol_version"] == (0x0303 if version == V12 else 0x0304)


def test_regression_unreadable_ring_keeps_keys_and_warns(certs, tmp_path):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r")
    ctx = server_ctx(certs, V12, ring)
    pair = MemPair(client_ctx(V12))
    _, sess = pair.connect(ctx)
    (tmp_path / "r").chmod(0o777)
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            time.sleep(1.1)
            for _ in range(3):
                assert pair.connect(ctx, sess)[0]
        msgs = [str(x.message) for x in w
                if issubclass(x.category, RuntimeWarning)]
        assert len(msgs) == 1 and "writable" in msgs[0], msgs
        assert "last good keys" in msgs[0]
        assert ring.status()["failures"] >= 1
    finally:
        (tmp_path / "r").chmod(0o700)


def test_session_id_context_option(certs, tmp_path):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "r")
    a = server_ctx(certs, V12, ring, session_id_context="fleet")
    b = server_ctx(certs, V12, ring)                   # "Python\0"
    c = server_ctx(certs, V12, ring, session_id_context=b"fleet")
    pair = MemPair(client_ctx(V12))
    _, sess = pair.connect(a)
    assert not pair.connect(b, sess)[0]     # other sid_ctx: silently full
    assert pair.connect(c, sess)[0]


# ---- TLSRESUME_TICKET_KEYS -------------------------------------------------

def run_hooked(ring, code):
    env = dict(os.environ, TLSRESUME_TICKET_KEYS=str(ring))
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("damage", ["missing", "unsafe", "corrupt"])
def test_env_hook_refuses_a_bad_ring_at_start_up(tmp_path, damage):
    path = tmp_path / "r"
    if damage != "missing":
        tlsresume.TicketKeyRing.init(path)
    if damage == "unsafe":
        path.chmod(0o777)
    if damage == "corrupt":
        (path / "ring.conf").write_text("nonsense\n")
    p = run_hooked(path, "print('started')")
    assert p.returncode == 2 and "started" not in p.stdout
    line = p.stderr.strip()
    assert line.count("\n") == 0, line
    assert line.startswith("tlsresume: TLSRESUME_TICKET_KEYS=%s:" % path)
    assert {"missing": "does not exist", "unsafe": "writable",
            "corrupt": "malformed"}[damage] in line


def test_env_hook_attaches_server_contexts_only(tmp_path, certs):
    tlsresume.TicketKeyRing.init(tmp_path / "r")
    code = """
import socket, ssl, tlsresume
srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
srv.load_cert_chain(%r, %r)
cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cli.check_hostname = False; cli.verify_mode = ssl.CERT_NONE
cli.maximum_version = ssl.TLSVersion.TLSv1_2
a, b = socket.socketpair()
import threading
def serve():
    srv.wrap_socket(b, server_side=True).sendall(b"x")
t = threading.Thread(target=serve)
t.start()
c = cli.wrap_socket(a); c.recv(1); t.join()
print(tlsresume.ticket(c.session)[:16].hex())
""" % tuple(str(x) for x in certs)
    p = run_hooked(tmp_path / "r", code)
    assert p.returncode == 0, p.stderr
    ring = tlsresume.TicketKeyRing(tmp_path / "r")
    assert p.stdout.strip() == ring.encrypting().hex()


def test_regression_generic_protocol_contexts_get_the_ring(tmp_path, certs):
    """create_default_context(Purpose.CLIENT_AUTH) is PROTOCOL_TLS (both
    sides) before CPython 3.10: hypercorn's workers resumed 30/100 there."""
    tlsresume.TicketKeyRing.init(tmp_path / "r")
    code = """
import socket, ssl, threading, warnings, tlsresume
warnings.simplefilter("ignore", DeprecationWarning)
for srv in (ssl.SSLContext(ssl.PROTOCOL_TLS),
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)):
    srv.load_cert_chain(%r, %r)
    cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cli.check_hostname = False; cli.verify_mode = ssl.CERT_NONE
    cli.maximum_version = ssl.TLSVersion.TLSv1_2
    a, b = socket.socketpair()
    def serve():
        srv.wrap_socket(b, server_side=True).sendall(b"x")
    t = threading.Thread(target=serve)
    t.start()
    c = cli.wrap_socket(a); c.recv(1); t.join()
    print(tlsresume.ticket(c.session)[:16].hex())
""" % tuple(str(x) for x in certs)
    p = run_hooked(tmp_path / "r", code)
    assert p.returncode == 0, p.stderr
    want = tlsresume.TicketKeyRing(tmp_path / "r").encrypting().hex()
    assert p.stdout.split() == [want, want]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tlsresume.server.ticket_keys(ctx, tmp_path / "r")


# ---- uvicorn and hypercorn with 4 workers ----------------------------------

@pytest.mark.parametrize("kind", ["uvicorn", "hypercorn"])
def test_asgi_workers_share_the_ring(start_server, certs, tmp_path, kind):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "ring")
    srv = asgi_server(start_server, kind, certs, 4, ring=ring.path)
    for version in ("1.2", "1.3"):
        hits = resumed(srv.port, version, tmp_path / version, n=100)
        print("%s 4 workers, ring, TLS %s: %d/100 resumed"
              % (kind, version, hits))
        assert hits >= 99, (kind, version, hits)
    srv.stop()
    assert "Traceback" not in srv.output(), srv.output()
    # The same server with OpenSSL's per-process random keys: about 1/4.
    srv = asgi_server(start_server, kind, certs, 4)
    for version in ("1.2", "1.3"):
        hits = resumed(srv.port, version, tmp_path / ("no" + version), n=40)
        print("%s 4 workers, no ring, TLS %s: %d/40 resumed"
              % (kind, version, hits))
        assert hits < 24, (kind, version, hits)


def _descendants(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return []
    return kids + [d for k in kids for d in _descendants(k)]


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_regression_server_workers_do_not_outlive_their_test(
        start_server, certs, kind):
    # Killing only the server's parent process left its workers running:
    # 432 of them after a few runs, each polling, slowing later tests.
    if kind == "gunicorn":
        pytest.importorskip("gunicorn")
    srv = asgi_server(start_server, kind, certs, 2)
    workers = _descendants(srv.proc.pid)
    assert len(workers) >= 2, workers
    srv.stop()

    def alive():        # a killed worker is gone once init reaps it
        out = []
        for w in workers:
            try:
                with open("/proc/%d/stat" % w) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        out.append(w)
            except OSError:
                pass
        return out
    assert wait_for(lambda: not alive(), 5), alive()


def test_gunicorn_sync_workers_share_the_ring(start_server, certs, tmp_path):
    pytest.importorskip("gunicorn")
    ring = tlsresume.TicketKeyRing.init(tmp_path / "ring")
    srv = asgi_server(start_server, "gunicorn", certs, 2, ring=ring.path)
    for version in ("1.2", "1.3"):
        hits = resumed(srv.port, version, tmp_path / version, n=20, jobs=4)
        print("gunicorn 2 sync workers, ring, TLS %s: %d/20 resumed"
              % (version, hits))
        assert hits >= 19, (version, hits)
    srv.stop()
    assert "Traceback" not in srv.output(), srv.output()
    # Without the ring each connection's new context has random keys.
    srv = asgi_server(start_server, "gunicorn", certs, 2)
    hits = resumed(srv.port, "1.2", tmp_path / "no", n=10, jobs=2)
    assert hits == 0, hits


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_rotation_while_serving(start_server, certs, tmp_path, version):
    ring = tlsresume.TicketKeyRing.init(tmp_path / "ring", keep=4)
    srv = asgi_server(start_server, "uvicorn", certs, 2, ring=ring.path)
    old = tmp_path / "old.pem"
    assert not s_client(srv.port, version, sess_out=old)
    old_name = tlsresume.ticket(old.read_bytes())[:16]
    assert old_name == ring.encrypting()
    cli = [sys.executable, "-m", "tlsresume", "keys", "rotate",
           str(ring.path), "--force"]
    subprocess.run(cli, check=True, capture_output=True, timeout=30)
    time.sleep(2.2)     # the new key starts within a second; servers stat
    assert s_client(srv.port, version, sess_in=old)       # within keep
    new = tmp_path / "new.pem"
    assert not s_client(srv.port, version, sess_out=new)
    new_name = tlsresume.ticket(new.read_bytes())[:16]
    ring.reload()
    assert new_name == ring.encrypting() and new_name != old_name
    time.sleep(4)       # the old key is past keep
    assert not s_client(srv.port, version, sess_in=old)
    fresh = tmp_path / "fresh.pem"      # keep is the tickets' lifetime too
    s_client(srv.port, version, sess_out=fresh)
    assert s_client(srv.port, version, sess_in=fresh)
