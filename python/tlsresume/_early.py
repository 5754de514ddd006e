"""What attach() adds to connections beyond resuming: getpeercert() after a
lean restore, and TLS 1.3 early data (0-RTT).

Lean restores (SessionStore, default): the stored server certificate is
not decoded (most of a restore's CPU); CPython's getpeercert() reads the
decoded one, so on a resumed connection it would say None.  The mixins
answer from the bytes the store kept, decoded when someone asks.

Early data (attach(..., early_data=True)): the first write of a connection
goes with the ClientHello when it is an HTTP request that is safe to replay
(GET, HEAD or OPTIONS, no body, written whole: http.client, urllib3 /
requests, httpx sync and async write it so), the session allows early data
and OpenSSL would not refuse the attempt.  The handshake is deferred until
that write: http.client, urllib3 and httpx wrap with
do_handshake_on_connect=True, so the handshake ssl.SSLSocket._create starts
is put off (for SSLObject: the one anyio's TLSStream.wrap starts).  Any
other call that needs the handshake (recv, getpeercert, version, cipher,
...) completes it first, without early data.  If the server rejects the
early data, the same bytes are written again after the handshake, once.
"""
import os
import select
import socket
import ssl
import sys
import tempfile

from . import _core

ACCEPTED, REJECTED, NOT_SENT = "accepted", "rejected", "not sent"
_STATUS = {0: NOT_SENT, 1: ACCEPTED, 2: REJECTED}
_WANT_READ, _WANT_WRITE = 3, 4
_SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")

# Connection states (the attribute _tlsr_early): None, never deferred;
# "pending", handshake deferred until the first write; "sent", early data
# written, handshake under way (SSLObject); "done".


def replay_safe(data):
    """data is one whole HTTP/1.x request head of a GET, HEAD or OPTIONS
    with no body: what may be repeated if an attacker replays it."""
    head, sep, rest = bytes(data).partition(b"\r\n\r\n")
    if not sep or rest:
        return False            # incomplete, or a body follows
    line, _, fields = head.partition(b"\r\n")
    parts = line.split(b" ")
    if (len(parts) != 3 or parts[0] not in _SAFE_METHODS
            or not parts[2].startswith(b"HTTP/1.")):
        return False
    for field in fields.split(b"\r\n") if fields else ():
        name, colon, value = field.partition(b":")
        name = name.strip().lower()
        if not colon or name in (b"transfer-encoding", b"upgrade"):
            return False
        if name == b"content-length" and value.strip() != b"0":
            return False
    return True


def alpn_wire(protocols):
    """ALPN list in the wire format OpenSSL checks the session against."""
    out = b""
    for p in protocols:
        b = p.encode("ascii") if isinstance(p, str) else bytes(p)
        out += bytes([len(b)]) + b
    return out


def _decode_der(der):
    """getpeercert()'s dict for a DER certificate: CPython decodes only
    from a file (_ssl._test_decode_cert); a private temporary one."""
    fd, path = tempfile.mkstemp(prefix="tlsresume-peer-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
        return ssl._ssl._test_decode_cert(path)
    finally:
        os.unlink(path)


def lean_peercert(conn, binary_form):
    """getpeercert() of a connection whose session was restored lean: the
    kept certificate bytes, decoded on first use; None if none were kept."""
    der = _core.peer_der(conn._sslobj)
    if der is None or binary_form:
        return der
    if conn.context.verify_mode == ssl.CERT_NONE:
        return {}               # what CPython answers without verification
    cached = getattr(conn, "_tlsr_peercert", None)
    if cached is None or cached[0] != der:
        cached = (der, _decode_der(der))
        conn._tlsr_peercert = cached
    return cached[1]


def _driven_by_create(obj):
    """The handshake of obj was started by SSLSocket._create
    (do_handshake_on_connect) or anyio's TLSStream.wrap, not by the
    application."""
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == "_create" and frame.f_locals.get("self") is obj:
            return True
        if (code.co_name == "wrap"
                and frame.f_globals.get("__name__") == "anyio.streams.tls"):
            return frame.f_locals.get("ssl_object") is obj
        frame = frame.f_back
    return False


def _early_possible(conn, att):
    """Bytes of early data conn may send now (0: none)."""
    if (att is None or not att.early_data or conn.server_side
            or conn._sslobj is None):
        return 0
    alpn = att.alpn
    if alpn is not None and len(alpn) > 1:
        return 0        # the protocol the server picks cannot be foretold
    wire = alpn_wire(alpn) if alpn else None
    try:
        n = _core.early_max(conn._sslobj, wire)
    except (ValueError, TypeError, RuntimeError):
        return 0
    return n


def _predicted_alpn(conn, att):
    """selected_alpn_protocol() before a deferred handshake: with one
    protocol offered, the one the session had (the server must keep it for
    early data; with one offered it can pick nothing else)."""
    if not att.alpn:
        return None
    sess = conn._sslobj.session
    return att.alpn[0] if sess is not None and _core.inspect(sess)["alpn"] \
        else None


class _PeerCertMixin:
    """getpeercert() from the bytes a lean restore kept."""

    def getpeercert(self, binary_form=False):
        self._tlsr_settle()
        cert = super().getpeercert(binary_form)
        if cert is None and self._sslobj is not None:
            return lean_peercert(self, binary_form)
        return cert

    def _tlsr_settle(self):
        pass


def _wait(sock, want):
    timeout = sock.gettimeout()
    r, w = ([sock], []) if want == _WANT_READ else ([], [sock])
    if not select.select(r, w, [], timeout)[0 if r else 1]:
        raise socket.timeout("early data write timed out")


def _attached(conn):
    return getattr(conn.context, "_tlsresume_attached", None)


class EarlySocketMixin(_PeerCertMixin):
    """SSLSocket: defer the handshake do_handshake_on_connect starts, and
    send the first write early when it is safe to replay."""

    _tlsr_early = None

    def do_handshake(self, *args, **kw):
        state = self._tlsr_early
        if state is None and _driven_by_create(self):
            att = _attached(self)
            n = _early_possible(self, att)
            if n > 0:
                self._tlsr_early = "pending"
                self._tlsr_early_max = n
                return None
        if state == "pending":
            self._tlsr_early = "done"
        return super().do_handshake(*args, **kw)

    def _tlsr_settle(self):
        if self._tlsr_early == "pending":
            self.do_handshake()

    def _tlsr_first_write(self, data):
        """The deferred first write: early if safe, then the handshake,
        then again if the server rejected it.  Returns len(data)."""
        data = bytes(data)
        self._tlsr_early = "done"
        if not replay_safe(data) or len(data) > self._tlsr_early_max:
            super().do_handshake()
            super().sendall(data)
            return len(data)
        self._tlsr_status = write_early(self, data)
        return len(data)

    def send(self, data, flags=0):
        if self._tlsr_early == "pending" and flags == 0:
            return self._tlsr_first_write(data)
        return super().send(data, flags)

    def sendall(self, data, flags=0):
        if self._tlsr_early == "pending" and flags == 0:
            self._tlsr_first_write(data)
            return None
        return super().sendall(data, flags)

    def write(self, data):
        if self._tlsr_early == "pending":
            return self._tlsr_first_write(data)
        return super().write(data)

    def selected_alpn_protocol(self):
        self._tlsr_settle()
        return super().selected_alpn_protocol()


def _settling(name):
    def method(self, *args, **kw):
        self._tlsr_settle()
        return getattr(super(EarlySocketMixin, self), name)(*args, **kw)
    method.__name__ = name
    return method


for _name in ("recv", "recv_into", "read", "version", "cipher",
              "shared_ciphers", "compression", "get_channel_binding",
              "unwrap"):
    setattr(EarlySocketMixin, _name, _settling(_name))
EarlySocketMixin.session_reused = property(
    lambda self: (self._tlsr_settle(), ssl.SSLSocket.session_reused.fget(
        self))[1])


def write_early(sock, data):
    """Write data as early data on an SSLSocket about to handshake, complete
    the handshake and, if the server did not take it, write it again.
    Returns the status ("accepted", "rejected", "not sent")."""
    sslobj = sock._sslobj
    while True:
        n = _core.write_early(sslobj, data)
        if n >= 0:
            break
        _wait(sock, n)
    ssl.SSLSocket.do_handshake(sock)
    status = _STATUS.get(_core.early_status(sslobj), NOT_SENT)
    if status == ACCEPTED:
        if n < len(data):
            ssl.SSLSocket.sendall(sock, data[n:])
    else:
        ssl.SSLSocket.sendall(sock, data)       # exactly once more
    return status


def send_early(sslsock, data):
    """Send data as TLS 1.3 early data on an attach()ed, connected
    SSLSocket whose handshake has not run (do_handshake_on_connect=False,
    or deferred by attach(early_data=True)), then complete the handshake;
    data is sent again after it if the server rejected it, so it arrives
    exactly once.  The application vouches that data is safe to replay.
    Returns "accepted", "rejected" or "not sent" (no early data possible:
    data went after the handshake)."""
    if not isinstance(sslsock, ssl.SSLSocket):
        raise TypeError("send_early needs an ssl.SSLSocket, not %s"
                        % type(sslsock).__name__)
    data = bytes(memoryview(data))
    # Key the connection and offer the stored session the way do_handshake
    # would, without running the handshake (done already if deferred).
    prep = getattr(sslsock, "_tlsr_prepare", None)
    if prep is not None:
        prep()
    if isinstance(sslsock, EarlySocketMixin):
        sslsock._tlsr_early = "done"
    att = _attached(sslsock)
    n = _core.early_max(sslsock._sslobj, alpn_wire(att.alpn)
                        if att is not None and att.alpn else None)
    if n == 0 or len(data) > n:
        ssl.SSLSocket.do_handshake(sslsock)
        ssl.SSLSocket.sendall(sslsock, data)
        return NOT_SENT
    return write_early(sslsock, data)


class EarlyObjectMixin(_PeerCertMixin):
    """SSLObject under anyio (httpx async): the handshake TLSStream.wrap
    starts is deferred; the first write() goes early.  anyio retries a
    call that raised SSLWantReadError with the same arguments, which drives
    the handshake on."""

    _tlsr_early = None

    def do_handshake(self):
        state = self._tlsr_early
        if state is None and _driven_by_create(self):
            att = _attached(self)
            n = _early_possible(self, att)
            if n > 0:
                self._tlsr_early = "pending"
                self._tlsr_early_max = n
                self._tlsr_alpn = _predicted_alpn(self, att)
                return None
        if state == "pending":
            self._tlsr_early = "done"
        return super().do_handshake()

    def _tlsr_settle(self):
        if self._tlsr_early == "pending":
            self._tlsr_early = "done"
        if self._tlsr_early == "done" and not getattr(self, "_tlsr_hs", 0):
            super().do_handshake()      # SSLWantReadError: caller retries
            self._tlsr_hs = 1

    def write(self, data):
        state = self._tlsr_early
        if state == "pending":
            data = bytes(data)
            if not replay_safe(data) or len(data) > self._tlsr_early_max:
                self._tlsr_early = "done"
                self._tlsr_settle()
                return super().write(data)
            n = _core.write_early(self._sslobj, data)
            if n < 0:
                raise (ssl.SSLWantReadError if n == _WANT_READ
                       else ssl.SSLWantWriteError)()
            self._tlsr_early = "sent"
            self._tlsr_early_n = n
            state = "sent"
        if state == "sent":
            super().do_handshake()      # SSLWantReadError: anyio retries
            self._tlsr_early = "done"
            self._tlsr_hs = 1
            self._tlsr_status = _STATUS.get(
                _core.early_status(self._sslobj), NOT_SENT)
            n = self._tlsr_early_n
            if self._tlsr_status != ACCEPTED:
                n = 0
            if n < len(data):
                super().write(bytes(data)[n:])
            return len(data)
        self._tlsr_settle()
        return super().write(data)

    def read(self, *args, **kw):
        self._tlsr_settle()
        return super().read(*args, **kw)

    def selected_alpn_protocol(self):
        if self._tlsr_early == "pending":
            return self._tlsr_alpn
        return super().selected_alpn_protocol()


for _name in ("version", "cipher", "shared_ciphers", "compression",
              "get_channel_binding", "unwrap"):
    def _m(self, *args, _name=_name, **kw):
        if self._tlsr_early == "pending":
            self._tlsr_settle()
        return getattr(super(EarlyObjectMixin, self), _name)(*args, **kw)
    _m.__name__ = _name
    setattr(EarlyObjectMixin, _name, _m)
del _m, _name


def early_data_status(conn):
    """After the handshake of an attach()ed connection: "accepted",
    "rejected" or "not sent"."""
    return _STATUS.get(_core.early_status(conn._sslobj), NOT_SENT)
