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
    assert store.get("localhost", srv.port, "other") is None


def test_tls13_tickets_are_single_use(store, s_server, certs, tmp_path):
    srv, s = live_session(s_server, certs, tmp_path, "tls13")
    store.put("localhost", srv.port, s)
    assert store.take("localhost", srv.port).id == s.id
    assert store.take("localhost", srv.port) is None
    assert len(store) == 0


def test_iteration_remove_and_permissions(store, s_server, certs, tmp_path):
    srv, s = live_session(s_server, certs, tmp_path, "tls12-sid")
    store.put("localhost", srv.port, s, context="a")
    store.put("example.org", 443, s)
    entries = sorted(store, key=lambda e: e.host)
    assert [(e.host, e.port, e.context) for e in entries] == [
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
        assert st.get("localhost", srv.port, ssl_context=CTX).id == s.id
    with tlsresume.SessionStore(tmp_path / "sealed",
                                seal_key=os.urandom(32)) as st:
        with pytest.raises(tlsresume.Error) as ei:
            st.get("localhost", srv.port, ssl_context=CTX)
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
    with tlsresume.SessionStore(tmp_path / "st", max_lifetime=1,
                                ssl_context=CTX) as st:
        st.put("localhost", srv.port, s)
        assert st.get("localhost", srv.port) is not None
        time.sleep(2.1)
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
