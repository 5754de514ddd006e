"""attach(context, store): connections made by unchanged application code
(wrap_socket, http.client, urllib3, requests, asyncio, wrap_bio, httpx
sync and async) resume
from the store in a NEW process and save what they get.  Resumption is
checked by the server's own report (its SSLSocket.session_reused)."""
import ssl

import pytest

import tlsresume
from conftest import HELPERS, run_py, server_reports

VIAS = ["wrap_socket", "http_client", "urllib3", "requests", "asyncio",
        "wrap_bio", "httpx", "httpx_async"]


@pytest.mark.parametrize("mode", ["tls12-sid", "tls12-ticket", "tls13"])
@pytest.mark.parametrize("via", VIAS)
def test_attach_resumes_in_new_process(py_server, certs, tmp_path, via, mode):
    srv = py_server(mode)
    store = tmp_path / "store"
    args = [HELPERS / "attach_client.py", via, srv.port, certs[0], store]
    first = run_py(args)
    second = run_py(args)
    third = run_py(args)
    assert first["reused"] is False
    assert second["reused"] is True, (second, srv.output())
    assert third["reused"] is True      # TLS 1.3: new tickets were saved
    assert [r["reused"] for r in server_reports(srv)] == [False, True, True]
    assert first["entries"] >= 1
    if "client_reused" in second:
        assert second["client_reused"] is True


def test_attach_keys_by_port(py_server, certs, tmp_path):
    # A session from one server is never offered to another port.
    a, b = py_server("tls13"), py_server("tls13")
    store = tmp_path / "store"
    run_py([HELPERS / "attach_client.py", "wrap_socket", a.port, certs[0],
            store])
    r = run_py([HELPERS / "attach_client.py", "wrap_socket", b.port,
                certs[0], store])
    assert r["reused"] is False
    entries = {(e.host, e.port) for e in tlsresume.SessionStore(store)}
    assert entries == {("localhost", a.port), ("localhost", b.port)}


def test_attach_argument_checks(tmp_path):
    store = tlsresume.SessionStore(tmp_path / "s")
    with pytest.raises(TypeError):
        tlsresume.attach(object(), store)
    with pytest.raises(TypeError):
        tlsresume.attach(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), "path")
    with pytest.raises(tlsresume.Error):
        tlsresume.attach(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), store)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert tlsresume.attach(ctx, store) is ctx
    assert ctx.sslsocket_class is not ssl.SSLSocket
    tlsresume.attach(ctx, store)        # twice: still one layer
    assert ctx.sslsocket_class.__bases__[-1] is ssl.SSLSocket
    tlsresume.detach(ctx)
    assert ctx.sslsocket_class is ssl.SSLSocket
    assert ctx.sslobject_class is ssl.SSLObject


def test_detached_context_saves_nothing(py_server, certs, tmp_path):
    import json
    import subprocess
    import sys
    srv = py_server("tls13")
    code = r"""
import socket, ssl, sys, tlsresume
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
st = tlsresume.SessionStore(path)
tlsresume.attach(ctx, st)
tlsresume.detach(ctx)
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                     server_hostname="localhost") as c:
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while c.recv(65536):
        pass
print(len(st))
"""
    p = subprocess.run([sys.executable, "-c", code, str(srv.port),
                        str(certs[0]), str(tmp_path / "st")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "0"


def test_unusable_store_does_not_break_connections(py_server, certs,
                                                   tmp_path):
    # Entries sealed under another key cannot be read: the connection still
    # works (full handshake), with a warning, and saves a new entry.
    import json
    import subprocess
    import sys
    srv = py_server("tls12-ticket")
    code = r"""
import json, os, socket, ssl, sys, warnings, tlsresume
port, ca, path, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
tlsresume.attach(ctx, tlsresume.SessionStore(path, seal_key=bytes.fromhex(key)))
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                         server_hostname="localhost") as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while c.recv(65536):
            pass
        print(json.dumps({"reused": c.session_reused,
                          "warnings": [str(x.message) for x in w]}))
"""
    path = str(tmp_path / "st")
    outs = []
    for key in ("11" * 32, "22" * 32, "22" * 32):
        p = subprocess.run([sys.executable, "-c", code, str(srv.port),
                            str(certs[0]), path, key],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == {"reused": False, "warnings": []}
    assert outs[1]["reused"] is False
    assert any("TLSR_ESEAL" in m or "seal" in m.lower()
               for m in outs[1]["warnings"]), outs[1]
    assert outs[2]["reused"] is True


def test_threads_share_an_attached_context(py_server, certs, tmp_path):
    # The capture callback runs inside SSL_read without the GIL, on many
    # threads at once; the store is locked.  Then a new process resumes.
    import concurrent.futures
    import json
    import socket
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    store = tlsresume.SessionStore(tmp_path / "st", max_tickets=64)
    tlsresume.attach(ctx, store)

    def one(i):
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1",
                                                       srv.port)),
                             server_hostname="localhost") as c:
            c.sendall(b"GET /t%d HTTP/1.0\r\n\r\n" % i)
            data = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            return json.loads(data.split(b"\r\n\r\n", 1)[1])

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(32)))
    assert len(results) == 32
    assert len(store) >= 1
    r = run_py([HELPERS / "attach_client.py", "wrap_socket", srv.port,
                certs[0], tmp_path / "st"])
    assert r["reused"] is True


def test_store_closed_or_dropped_while_context_lives(py_server, certs,
                                                     tmp_path):
    # The SSL_CTX keeps its own reference to the C store: closing or
    # dropping the Python store never leaves the callback a freed store.
    import gc
    import socket
    srv = py_server("tls13")
    path = tmp_path / "st"
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    store = tlsresume.SessionStore(path)
    tlsresume.attach(ctx, store)
    store.close()
    del store
    gc.collect()
    for _ in range(2):
        # Offering needs the (closed) Python store: a warning, no failure.
        with pytest.warns(RuntimeWarning, match="store is closed"):
            c = ctx.wrap_socket(socket.create_connection(("127.0.0.1",
                                                          srv.port)),
                                server_hostname="localhost")
        with c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
    assert tlsresume.flush(ctx, timeout=10) is True   # written by C
    assert len(tlsresume.SessionStore(path)) >= 1     # still captured
    del ctx
    gc.collect()
