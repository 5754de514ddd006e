"""tlsresume.SessionStore over the C store: put/get/take/remove/prune,
len and iteration, sealing, permissions, bound contexts; and a session
taken from the store in a NEW process resumes against a real server."""
import os
import ssl
import stat

import pytest

import tlsresume
from conftest import VECTORS, client

CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
# Not verifying: these vectors come from unverified handshakes, and the
# trust rule (test_trust.py) keeps them from verifying contexts.
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def vec(name):
    return tlsresume.loads((VECTORS / "sessions" / name).read_bytes(), CTX)


def fresh(name):
    """A vector session with a current creation time (vectors are old)."""
    return vec(name)


@pytest.fixture
def store(tmp_path):
    with tlsresume.SessionStore(tmp_path / "st", ssl_context=CTX) as s:
        yield s


def live_session(s_server, certs, tmp_path, mode):
    srv = s_server(mode)
    f = tmp_path / ("live-%s.der" % mode)
    client(srv.port, certs[0], session_out=f)
    return srv, tlsresume.loads(f.read_bytes(), CTX)


def test_put_get_take_tls12(store, s_server, certs, tmp_path):
    srv, s = live_session(s_server, certs, tmp_path, "tls12-ticket")
    assert store.get("localhost", srv.port) is None
    store.put("localhost", srv.port, s)
    assert len(store) == 1
    g = store.get("localhost", srv.port)
    assert isinstance(g, ssl.SSLSession) and g.id == s.id
    t = store.take("localhost", srv.port)
    assert t.id == s.id
    assert len(store) == 1             # a TLS 1.2 session stays
    assert store.get("localhost", srv.port + 1) is None
    assert store.get("localhost", srv.port, scope="other") is None


def test_tls13_tickets_are_single_use(store, s_server, certs, tmp_path):
    srv, s = live_session(s_server, certs, tmp_path, "tls13")
    store.put("localhost", srv.port, s)
    assert store.take("localhost", srv.port).id == s.id
    assert store.take("localhost", srv.port) is None
    assert len(store) == 0


def test_iteration_remove_and_permissions(store, s_server, certs, tmp_path):
    srv, s = live_session(s_server, certs, tmp_path, "tls12-sid")
    store.put("localhost", srv.port, s, scope="a")
    store.put("example.org", 443, s)
    entries = sorted(store, key=lambda e: e.host)
    assert [(e.host, e.port, e.scope) for e in entries] == [
        ("example.org", 443, ""), ("localhost", srv.port, "a")]
    assert entries[0].info.session_id == s.id
    assert not entries[0].sealed
    assert "SessionInfo(" in repr(entries[0])
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode & 0o077 == 0
    assert store.remove("example.org", 443) == 1
    assert len(store) == 1
    assert store.prune() >= 0


def test_sealed_store(tmp_path, s_server, certs):
    srv, s = live_session(s_server, certs, tmp_path, "tls12-ticket")
    key = os.urandom(32)
    with tlsresume.SessionStore(tmp_path / "sealed", seal_key=key) as st:
        st.put("localhost", srv.port, s)
        assert next(iter(st)).sealed
        assert st.get("localhost", srv.port, CTX).id == s.id
    with tlsresume.SessionStore(tmp_path / "sealed",
                                seal_key=os.urandom(32)) as st:
        with pytest.raises(tlsresume.Error) as ei:
            st.get("localhost", srv.port, CTX)
        assert ei.value.code == tlsresume.codes["TLSR_ESEAL"]
    with pytest.raises(tlsresume.Error) as ei:
        tlsresume.SessionStore(tmp_path / "bad", seal_key=b"short")
    assert ei.value.code in (tlsresume.codes["TLSR_EKEY"],
                             tlsresume.codes["TLSR_EINVAL"])


def test_store_argument_errors(store, tmp_path):
    with pytest.raises(TypeError):
        store.get(b"host", 1)
    with pytest.raises(TypeError):
        store.get("host", "443")
    with pytest.raises(TypeError):
        store.put("host", 443, b"not a session")
    with tlsresume.SessionStore(tmp_path / "noctx") as st:
        with pytest.raises(TypeError):
            st.get("host", 443)             # no context to bind to
    with pytest.raises(TypeError):
        tlsresume.SessionStore(tmp_path / "x", seal_key="text")
    with pytest.raises(TypeError):
        tlsresume.SessionStore(None)
    os.makedirs(tmp_path / "open", mode=0o777)
    os.chmod(tmp_path / "open", 0o777)
    with pytest.raises(tlsresume.Error) as ei:
        tlsresume.SessionStore(tmp_path / "open")
    assert ei.value.code == tlsresume.codes["TLSR_EPERM"]
    store.close()
    with pytest.raises(ValueError):
        len(store)


def test_expired_entries_are_not_offered_and_pruned(tmp_path, s_server,
                                                    certs):
    import time
    srv, s = live_session(s_server, certs, tmp_path, "tls12-sid")
    # 3 s: the session was made by another process, which a slow machine
    # may take more than a second to start and end.
    with tlsresume.SessionStore(tmp_path / "st", max_lifetime=3,
                                ssl_context=CTX) as st:
        st.put("localhost", srv.port, s)
        assert st.get("localhost", srv.port) is not None
        time.sleep(4.1)
        assert st.get("localhost", srv.port) is None
        with pytest.raises(tlsresume.Error) as ei:
            st.put("localhost", srv.port, s)     # capped lifetime is over
        assert ei.value.code == tlsresume.codes["TLSR_ENOTRESUMABLE"]
        st.prune()              # get() may have dropped it already
        assert len(st) == 0


STORE_CLIENT = r"""
import json, socket, ssl, sys, tlsresume
port, cafile, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
st = tlsresume.SessionStore(path, ssl_context=ctx)
sess = st.take("localhost", port)
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                     server_hostname="localhost", session=sess) as c:
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while c.recv(65536):
        pass
    st.put("localhost", port, c.session)
    print(json.dumps({"offered": sess is not None,
                      "reused": c.session_reused}))
"""


@pytest.mark.parametrize("mode", ["tls12-sid", "tls13"])
def test_store_across_processes(s_server, certs, tmp_path, mode):
    import json
    import subprocess
    import sys
    srv = s_server(mode)
    runs = []
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", STORE_CLIENT,
                            str(srv.port), str(certs[0]),
                            str(tmp_path / "st")],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        runs.append(json.loads(p.stdout))
    assert runs[0] == {"offered": False, "reused": False}
    assert runs[1] == {"offered": True, "reused": True}
    assert runs[2] == {"offered": True, "reused": True}


def test_regression_store_dir_parents_and_tilde(tmp_path, monkeypatch):
    # The README's SessionStore("/var/cache/myapp/tls") and "~/.cache/x":
    # missing parents are made 0700 whatever the umask, "~" is expanded.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.mkdir(tmp_path / "home", 0o755)
    old = os.umask(0o002)
    try:
        with tlsresume.SessionStore("~/.cache/myapp/tls") as st:
            assert st.path == str(tmp_path / "home/.cache/myapp/tls")
            assert len(st) == 0
    finally:
        os.umask(old)
    for d in (".cache", ".cache/myapp", ".cache/myapp/tls"):
        assert stat.S_IMODE(os.stat(tmp_path / "home" / d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "home").st_mode) == 0o755


def test_regression_store_dir_rule_is_sshs(tmp_path):
    # One that others cannot write is used and left as it is; one that the
    # group or others can write (os.makedirs under umask 002) is refused.
    d = tmp_path / "shared"
    os.mkdir(d)
    os.chmod(d, 0o755)
    tlsresume.SessionStore(d).close()
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o755
    os.chmod(d, 0o775)
    with pytest.raises(tlsresume.Error, match=r"mode 0775\): chmod go-w"):
        tlsresume.SessionStore(d)


@pytest.mark.parametrize("shared", ["/tmp", "sticky"])
def test_regression_store_in_tmp_says_use_a_subdirectory(tmp_path, shared):
    # /tmp is 1777: not "mode 777: chmod 700 it", which would break /tmp.
    if shared == "sticky":
        shared = tmp_path / "sticky"
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
    with pytest.raises(tlsresume.Error) as ei:
        tlsresume.SessionStore(shared)
    msg = str(ei.value)
    assert "shared with other users" in msg and "subdirectory" in msg
    assert "chmod" not in msg
    assert ei.value.code == tlsresume.codes["TLSR_EPERM"]


def test_get_takes_the_ssl_context_and_scope_is_a_keyword(store, tmp_path):
    # Python's convention: context is an ssl.SSLContext (as in wrap_socket,
    # urlopen); the key's discriminator is scope=.
    s = vec("python-tls13-ec.der")
    other = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(TypeError, match="scope="):
        store.get("h", 443, "a-scope")
    with pytest.raises(TypeError):
        store.put("h", 443, s, "a-scope")       # scope is keyword-only
    with pytest.raises(TypeError, match="scope must be a str"):
        store.remove("h", 443, scope=1)
    assert store.get("h", 443, other, scope="x") is None
    assert store.take("h", 443, context=other) is None
