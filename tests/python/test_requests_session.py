"""tlsresume.requests_session(store): requests has no ssl_context=, so the
helper mounts an adapter whose pool managers get an attached context.  A
NEW process resumes, by the server's own report."""
import ssl

import pytest

import tlsresume
from conftest import run_py, server_reports

pytest.importorskip("requests")

CLIENT = r"""
import json, ssl, sys, tlsresume
port, ca, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
store = tlsresume.SessionStore(path)
ctx = ssl.create_default_context(cafile=ca)
with tlsresume.requests_session(store, ctx) as http:
    out = http.get("https://localhost:%d/requests_session" % port).json()
out["entries"] = len(store)
print(json.dumps(out))
"""


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
def test_requests_session_resumes_in_new_process(py_server, certs, tmp_path,
                                                 mode):
    srv = py_server(mode)
    args = ["-c", CLIENT, srv.port, certs[0], tmp_path / "st"]
    runs = [run_py(args) for _ in range(3)]
    assert [r["reused"] for r in runs] == [False, True, True]
    assert [r["reused"] for r in server_reports(srv)] == [False, True, True]
    assert runs[0]["entries"] >= 1


def test_requests_session_attaches_and_refuses_another_store(tmp_path):
    store = tlsresume.SessionStore(tmp_path / "a")
    ctx = ssl.create_default_context()
    with tlsresume.requests_session(store, ctx, scope="api") as http:
        adapter = http.get_adapter("https://example.org/")
        assert adapter.poolmanager.connection_pool_kw["ssl_context"] is ctx
    # The same store and scope again: the context stays as it is.
    tlsresume.requests_session(store, ctx, scope="api").close()
    with pytest.raises(tlsresume.Error, match="already attached"):
        tlsresume.requests_session(tlsresume.SessionStore(tmp_path / "b"),
                                   ctx)
    # Without a context: a default one, attached.
    with tlsresume.requests_session(store) as http:
        kw = http.get_adapter("https://x/").poolmanager.connection_pool_kw
        assert kw["ssl_context"].sslsocket_class is not ssl.SSLSocket
