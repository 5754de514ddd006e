"""Resumption never weakens verification (issue 8, finding 1).  A session
resumed skips the certificate check, so one made without verification, or
under other trust anchors, or without the host name check, must never be
offered to a context that verifies more: each of these runs, in a NEW
process sharing one store, must fail as a full handshake would."""
import subprocess

import pytest

import tlsresume
from conftest import HELPERS, run_py


def trust_client(port, store, mode, *cafiles, host=None):
    args = [HELPERS / "trust_client.py", port, store, mode]
    args += [str(c) for c in cafiles]
    if host:
        args += ["--host", host]
    return run_py(args)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """A second, unrelated self-signed certificate: another private CA."""
    d = tmp_path_factory.mktemp("other")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "k.pem"), "-out", str(d / "c.pem"),
                    "-days", "2", "-subj", "/CN=other-ca"],
                   check=True, capture_output=True)
    return d / "c.pem"


@pytest.mark.parametrize("mode", ["tls12-sid", "tls12-ticket", "tls13"])
def test_regression_insecure_session_not_resumed_by_verifying_context(
        s_server, tmp_path, mode):
    # The repro: secure fails, insecure connects, secure again
    # must fail too (it resumed the insecure session before the fix).
    srv = s_server(mode)
    store = tmp_path / "store"
    first = trust_client(srv.port, store, "default")
    assert first["ok"] is False and "CERTIFICATE_VERIFY_FAILED" in \
        first["error"].upper().replace(" ", "_")
    loose = trust_client(srv.port, store, "insecure")
    assert loose["ok"] is True and loose["reused"] is False
    again = trust_client(srv.port, store, "default")
    assert again["ok"] is False, again
    # The insecure context itself still resumes what it stored.
    loose2 = trust_client(srv.port, store, "insecure")
    assert loose2["reused"] is True and loose2["server_reused"] is True


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
def test_regression_session_of_one_private_ca_not_resumed_under_another(
        s_server, certs, other_ca, tmp_path, mode):
    srv = s_server(mode)
    store = tmp_path / "store"
    a = trust_client(srv.port, store, "ca", certs[0])
    assert a["ok"] is True and a["reused"] is False
    pinned_b = trust_client(srv.port, store, "ca", other_ca)
    assert pinned_b["ok"] is False, pinned_b       # not resumed
    # A context that trusts the same anchor (among others) resumes.
    both = trust_client(srv.port, store, "ca", other_ca, certs[0])
    assert both["ok"] is True and both["reused"] is True
    assert both["server_reused"] is True


@pytest.mark.parametrize("mode", ["tls12-sid", "tls13"])
def test_regression_hostname_check_off_then_on(s_server, certs, tmp_path,
                                               mode):
    # The certificate names localhost; the connection asks for another
    # name.  Without the host check it verifies; with it, it must fail,
    # resumed or not.
    srv = s_server(mode)
    store = tmp_path / "store"
    off = trust_client(srv.port, store, "nohost", certs[0],
                       host="wrong.example")
    assert off["ok"] is True
    on = trust_client(srv.port, store, "ca", certs[0], host="wrong.example")
    assert on["ok"] is False, on
    assert "wrong.example" in on["error"] or "match" in on["error"]
    off2 = trust_client(srv.port, store, "nohost", certs[0],
                        host="wrong.example")
    assert off2["reused"] is True


def test_store_get_refuses_a_weaker_session_for_a_verifying_context(
        s_server, certs, tmp_path):
    import socket
    import ssl
    srv = s_server("tls12-sid")
    loose = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        with loose.wrap_socket(raw, server_hostname="localhost") as c:
            sess = c.session
    store = tlsresume.SessionStore(tmp_path / "s")
    store.put("localhost", srv.port, sess)
    strict = ssl.create_default_context(cafile=str(certs[0]))
    assert store.get("localhost", srv.port, context=strict) is None
    assert store.get("localhost", srv.port, context=loose) is not None
    # Bytes restored by hand: their own verify result is what counts.
    data = tlsresume.dumps(sess)
    with pytest.raises(tlsresume.Error) as e:
        tlsresume.loads(data, strict)
    assert e.value.code == tlsresume.codes["TLSR_ETRUST"]
    assert tlsresume.loads(data, loose) is not None


def test_store_put_of_a_verified_session_is_resumed_by_its_context(
        s_server, certs, tmp_path):
    import socket
    import ssl
    srv = s_server("tls12-ticket")
    ctx = ssl.create_default_context(cafile=str(certs[0]))
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as c:
            sess = c.session
    store = tlsresume.SessionStore(tmp_path / "s")
    store.put("localhost", srv.port, sess)
    again = tlsresume.SessionStore(tmp_path / "s")     # nothing cached
    got = again.get("localhost", srv.port, context=ctx)
    assert got is not None
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=got) as c:
            assert c.session_reused


@pytest.mark.parametrize("mode", ["tls12-ticket", "tls13"])
def test_tickets_from_resumed_connections_keep_their_trust_record(
        s_server, certs, tmp_path, mode):
    # A resumed connection is not verified again: its new tickets inherit
    # the record of the session it resumed (CPython copies the session on
    # the way, tlsr_attach_offer carries the record), so a verifying
    # context goes on resuming run after run, not one run in three.
    srv = s_server(mode)
    store = tmp_path / "store"
    runs = [trust_client(srv.port, store, "ca", certs[0]) for _ in range(6)]
    assert [r["reused"] for r in runs] == [False] + [True] * 5, runs
    assert all(r["server_reused"] for r in runs[1:])
