"""Cross-process resumption: dumps in one process, loads in a NEW one, and
the handshake is resumed (client's session_reused and the server's own
report), against openssl s_server and a Python ssl server, TLS 1.2 and 1.3."""
import json

import pytest

from conftest import client, server_reports

MODES = ["tls12-sid", "tls12-ticket", "tls13"]


@pytest.mark.parametrize("fmt", ["der", "pem"])
@pytest.mark.parametrize("mode", MODES)
def test_s_server_resumes_in_new_process(s_server, certs, tmp_path, mode, fmt):
    srv = s_server(mode)
    f = tmp_path / ("s." + fmt)
    first = client(srv.port, certs[0], session_out=f, format=fmt)
    assert first["reused"] is False
    assert first["version"] == ("TLSv1.3" if mode == "tls13" else "TLSv1.2")
    second = client(srv.port, certs[0], session_in=f)
    assert second["reused"] is True
    assert second["server_says_reused"] is True     # s_server -www's page


@pytest.mark.parametrize("mode", MODES)
def test_python_server_resumes_in_new_process(py_server, certs, tmp_path,
                                              mode):
    srv = py_server(mode)
    f = tmp_path / "s.der"
    first = client(srv.port, certs[0], session_out=f)
    second = client(srv.port, certs[0], session_in=f)
    assert first["reused"] is False and second["reused"] is True
    assert [r["reused"] for r in server_reports(srv)] == [False, True]
    assert json.loads(second["body"].split("\r\n\r\n", 1)[1])["reused"]


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
def test_wrap_bio_resumes_in_new_process(s_server, certs, tmp_path, mode):
    srv = s_server(mode)
    f = tmp_path / "s.der"
    first = client(srv.port, certs[0], session_out=f, bio=True)
    second = client(srv.port, certs[0], session_in=f, bio=True)
    assert first["reused"] is False
    assert second["reused"] is True and second["server_says_reused"] is True


def test_ip_address_server_hostname(s_server, certs, tmp_path):
    # No SNI is sent for an IP address: resumption must still work.
    srv = s_server("tls13")
    f = tmp_path / "s.der"
    client(srv.port, certs[0], session_out=f, host_name="127.0.0.1")
    second = client(srv.port, certs[0], session_in=f, host_name="127.0.0.1")
    assert second["reused"] is True
