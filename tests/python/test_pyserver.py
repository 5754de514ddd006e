"""The Python test server itself: it must behave the same on every CPython
the suite runs on, or a failure there reads as a tlsresume bug."""
import socket
import ssl

from conftest import server_reports, wait_for


def get(port, ctx, session):
    """One HTTP/1.0 GET read to EOF, then a plain close (no close_notify),
    as most Python clients do; returns the SSLSocket's session."""
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=session) as c:
            c.sendall(b"GET /plain HTTP/1.0\r\n\r\n")
            while c.recv(65536):
                pass
            return c.session


def test_regression_py38_server_forgets_sid_on_unclean_close(py_server, certs):
    # CPython 3.8/3.9 servers default to OP_IGNORE_UNEXPECTED_EOF, and then
    # OpenSSL drops a session from the server cache when the client closes
    # without close_notify: no tlsresume here, plain ssl sessions.
    srv = py_server("tls12-sid")
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    session = get(srv.port, ctx, None)
    get(srv.port, ctx, session)
    assert wait_for(lambda: len(server_reports(srv)) == 2), srv.output()
    reports = server_reports(srv)
    assert [r["reused"] for r in reports] == [False, True], srv.output()
    assert reports[1]["version"] == "TLSv1.2"
