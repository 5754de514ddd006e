"""Python conventions of the public API: attach() refuses to switch stores,
a failing store's warning names the caller's line (not ssl.py), requests
stays optional."""
import socket
import ssl
import subprocess
import sys
import warnings

import pytest

import tlsresume


def test_attach_refuses_another_store_or_scope(tmp_path):
    a = tlsresume.SessionStore(tmp_path / "a")
    b = tlsresume.SessionStore(tmp_path / "b")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tlsresume.attach(ctx, a, scope="x")
    cls = ctx.sslsocket_class
    assert tlsresume.attach(ctx, a, scope="x") is ctx      # no-op
    assert ctx.sslsocket_class is cls
    for store, scope in ((b, "x"), (a, "")):
        with pytest.raises(tlsresume.Error, match="detach"):
            tlsresume.attach(ctx, store, scope=scope)
    assert ctx.sslsocket_class is cls
    tlsresume.detach(ctx)
    tlsresume.attach(ctx, b)                    # after detach(): fine
    with pytest.raises(TypeError, match="scope"):
        tlsresume.attach(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), a,
                         scope=None)
    with pytest.raises(TypeError):
        tlsresume.attach(ctx, a, store_context="x")   # the old name


def test_regression_store_warning_names_the_callers_line(py_server, certs,
                                                         tmp_path):
    srv = py_server("tls13")
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    store = tlsresume.SessionStore(tmp_path / "st")
    tlsresume.attach(ctx, store)
    store.close()                       # offering now fails: a warning
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        raw = socket.create_connection(("127.0.0.1", srv.port))
        c = ctx.wrap_socket(raw, server_hostname="localhost")
        c.close()
        import http.client
        conn = http.client.HTTPSConnection("localhost", srv.port, context=ctx)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
    found = [x for x in w if "not resuming" in str(x.message)]
    assert len(found) == 2, [str(x.message) for x in w]
    for x in found:
        assert x.filename == __file__, (x.filename, x.lineno)


def test_import_does_not_import_requests():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, tlsresume; "
         "print('requests' in sys.modules, 'urllib3' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.split() == ["False", "False"]
