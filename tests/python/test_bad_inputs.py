"""Bad input gives tlsresume.Error with the expected code (or TypeError),
never a crash: every session vector of tests/vectors/manifest.tsv, wrong
argument types, server-side sessions, TLS 1.3 sessions with no ticket."""
import socket
import ssl
import threading

import pytest

import tlsresume
from conftest import VECTORS


def manifest_rows():
    rows = []
    for mf in (VECTORS / "manifest.tsv", VECTORS / "regress" / "manifest.tsv"):
        if not mf.exists():
            continue
        lines = mf.read_text().splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            if line.strip():
                row = dict(zip(header, line.split("\t")))
                if row["format"] in ("DER", "PEM"):
                    rows.append(row)
    return rows


ROWS = manifest_rows()


_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
# Not verifying: these vectors come from unverified handshakes, and the
# trust rule (test_trust.py) keeps them from verifying contexts.
_CTX.check_hostname = False
_CTX.verify_mode = ssl.CERT_NONE


def client_ctx():
    return _CTX


def test_manifest_has_session_vectors():
    assert len([r for r in ROWS if r["expect"] == "OK"]) >= 10
    assert len([r for r in ROWS if r["expect"].startswith("TLSR_E")]) >= 10


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_vector(row):
    data = (VECTORS / row["file"]).read_bytes()
    expect = row["expect"]
    if expect == "ANY":
        for call in (lambda: tlsresume.inspect(data),
                     lambda: tlsresume.loads(data, client_ctx())):
            try:
                call()
            except tlsresume.Error as e:
                assert str(e) and e.code < 0
        return
    if expect != "OK":
        want = tlsresume.codes[expect]
        with pytest.raises(tlsresume.Error) as ei:
            tlsresume.inspect(data)
        assert ei.value.code == want and ei.value.code_name == expect
        assert str(ei.value)
        with pytest.raises(tlsresume.Error) as ei:
            tlsresume.loads(data, client_ctx())
        assert ei.value.code == want
        assert isinstance(ei.value, ValueError)
        return
    info = tlsresume.inspect(data)
    assert info.protocol_version == int(row["protocol"], 16)
    assert info.protocol_name == row["protocol_name"]
    assert info.cipher_id == int(row["cipher_id"], 16)
    assert info.cipher_name == row["cipher_name"]
    assert info.cipher_rfc_name == row["cipher_rfc_name"]
    sid = "" if row["session_id"] == "-" else row["session_id"]
    assert info.session_id.hex().upper() == sid
    assert info.time == int(row["time"])
    assert info.timeout == int(row["timeout"])
    assert info.has_ticket == (row["has_ticket"] == "1")
    assert info.ticket_len == int(row["ticket_len"])
    assert info.alpn == ("" if row["alpn"] == "-" else row["alpn"])
    assert info.sni == ("" if row["sni"] == "-" else row["sni"])
    assert info.has_peer == (row["has_peer"] == "1")
    if row["peer_sha256"] != "-":
        assert info.peer_sha256.hex().upper() == row["peer_sha256"]
    assert info.master_key_len == int(row["master_key_len"])
    # Nothing secret in the repr (nor in as_dict, used by --json).
    secret = row["master_key"].lower()
    assert secret not in repr(info).lower()
    assert secret not in str(info.as_dict()).lower()
    # loads binds it to a client context; dumps gives the same session back.
    s = tlsresume.loads(data, client_ctx())
    assert isinstance(s, ssl.SSLSession)
    assert s.id == info.session_id and s.has_ticket == info.has_ticket
    again = tlsresume.inspect(tlsresume.dumps(s))
    assert again.session_id == info.session_id
    assert again.ticket_len == info.ticket_len
    assert again.sid_ctx == b""


def test_wrong_types():
    ctx = client_ctx()
    good = (VECTORS / "sessions" / "openssl-tls13-rsa.der").read_bytes()
    for bad in (None, 1, "x", b"x", ctx, object()):
        with pytest.raises(TypeError):
            tlsresume.dumps(bad)
    for bad in (None, 1, object(), ctx):
        with pytest.raises(TypeError):
            tlsresume.inspect(bad)
    with pytest.raises(TypeError):
        tlsresume.inspect(good.decode("latin-1"))
    for bad in (None, "ctx", object(), ssl.SSLSocket, b""):
        with pytest.raises(TypeError):
            tlsresume.loads(good, bad)
    for bad in (None, 1, good.decode("latin-1")):
        with pytest.raises(TypeError):
            tlsresume.loads(bad, ctx)
    s = tlsresume.loads(good, ctx)
    with pytest.raises(TypeError):
        tlsresume.dumps(s, format=1)
    with pytest.raises(TypeError):
        tlsresume.dumps(s, lean="yes")
    with pytest.raises(tlsresume.Error) as ei:
        tlsresume.dumps(s, format="xml")
    assert ei.value.code == tlsresume.codes["TLSR_EINVAL"]


def test_loads_refuses_server_context():
    good = (VECTORS / "sessions" / "openssl-tls13-rsa.der").read_bytes()
    with pytest.raises(tlsresume.Error) as ei:
        tlsresume.loads(good, ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    assert ei.value.code == tlsresume.codes["TLSR_EINVAL"]


def test_subclassed_context_is_accepted():
    class MyContext(ssl.SSLContext):
        pass
    good = (VECTORS / "sessions" / "openssl-tls13-rsa.der").read_bytes()
    ctx = MyContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = tlsresume.loads(good, ctx)
    assert tlsresume.inspect(s).session_id == tlsresume.inspect(good).session_id


def _in_process_pair(certs, version, read_first):
    """A Python server thread and a client: (client sock, server sock)."""
    cert, key = certs
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(cert), str(key))
    sctx.minimum_version = sctx.maximum_version = version
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    result = {}

    def serve():
        conn, _ = lsock.accept()
        s = sctx.wrap_socket(conn, server_side=True)
        result["server"] = s
        s.sendall(b"hello")
        result["done"] = True

    t = threading.Thread(target=serve)
    t.start()
    cctx = ssl.create_default_context(cafile=str(cert))
    c = cctx.wrap_socket(socket.create_connection(lsock.getsockname()),
                         server_hostname="localhost")
    if read_first:
        assert c.recv(5) == b"hello"
    t.join(10)
    lsock.close()
    return c, result["server"]


def test_server_side_session_is_refused(certs):
    c, s = _in_process_pair(certs, ssl.TLSVersion.TLSv1_2, True)
    try:
        with pytest.raises(tlsresume.Error) as ei:
            tlsresume.dumps(s.session)
        assert "server" in str(ei.value)
        assert ei.value.code == tlsresume.codes["TLSR_EINVAL"]
        assert tlsresume.dumps(c.session)            # the client's is fine
    finally:
        c.close()
        s.close()


def test_tls13_session_before_ticket_is_refused(certs):
    c, s = _in_process_pair(certs, ssl.TLSVersion.TLSv1_3, False)
    try:
        early = c.session           # handshake done, no ticket read yet
        assert not early.has_ticket
        with pytest.raises(tlsresume.Error) as ei:
            tlsresume.dumps(early)
        assert ei.value.code == tlsresume.codes["TLSR_ENOTRESUMABLE"]
        assert "ticket" in str(ei.value)
        assert c.recv(5) == b"hello"
        assert tlsresume.inspect(tlsresume.dumps(c.session)).has_ticket
    finally:
        c.close()
        s.close()


def test_error_is_value_error_with_code():
    with pytest.raises(ValueError) as ei:
        tlsresume.inspect(b"")
    e = ei.value
    assert isinstance(e, tlsresume.Error)
    assert e.code == tlsresume.codes["TLSR_EEMPTY"] and e.code_name == "TLSR_EEMPTY"


def test_random_bytes_never_crash():
    import random
    rng = random.Random(1234)
    good = (VECTORS / "sessions" / "openssl-tls12-ticket-rsa.der").read_bytes()
    for i in range(3000):
        b = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        cut = rng.randrange(len(b) + 1) if i % 3 == 0 else len(b)
        data = bytes(b[:cut])
        try:
            tlsresume.inspect(data)
            tlsresume.dumps(tlsresume.loads(data, client_ctx()))
        except tlsresume.Error as e:
            assert e.code < 0 and str(e)


def test_non_utf8_alpn_is_reported_not_raised():
    # Session strings come from the peer: bytes that are not UTF-8 must
    # not turn inspect() into a UnicodeDecodeError.
    data = (VECTORS / "sessions" / "openssl-tls13-alpn-ec.der").read_bytes()
    assert tlsresume.inspect(data).alpn == "h2"
    i = data.index(b"\x04\x02h2")
    bad = data[:i] + b"\x04\x02\xff\xfe" + data[i + 4:]
    info = tlsresume.inspect(bad)
    assert info.alpn == "\ufffd\ufffd"
    tlsresume.dumps(tlsresume.loads(bad, client_ctx()))


def test_error_message_with_path_cut_inside_utf8_is_still_error(tmp_path):
    # Core messages hold paths (any bytes) and are cut at 255 bytes, maybe
    # inside a UTF-8 sequence: still tlsresume.Error, not UnicodeDecodeError.
    for path in ("/proc/" + "\u00e9" * 200 + "/st", b"/proc/no\xffpe/st"):
        with pytest.raises(tlsresume.Error) as ei:
            tlsresume.SessionStore(path)
        assert type(ei.value) is tlsresume.Error
        assert ei.value.code < 0 and str(ei.value)


def test_context_subclass_overriding_options_cannot_steer_the_guard(tmp_path):
    # The SSL_CTX* guard compares OpenSSL's options with _ssl's own getter,
    # not with whatever a subclass's .options returns.
    class Odd(ssl.SSLContext):
        @property
        def options(self):
            return 0

    ctx = Odd(ssl.PROTOCOL_TLS_CLIENT)
    store = tlsresume.SessionStore(tmp_path / "st")
    assert tlsresume.attach(ctx, store) is ctx
    tlsresume.detach(ctx)
