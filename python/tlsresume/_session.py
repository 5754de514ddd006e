"""dumps / loads / inspect: ssl.SSLSession <-> bytes, and what a session holds."""
import dataclasses
import ssl
import time as _time

from . import _core

Error = _core.Error

_FORMATS = {"der": _core.TLSR_FORMAT_DER, "pem": _core.TLSR_FORMAT_PEM}
_SSLContext = ssl.SSLContext.__mro__[1]     # _ssl._SSLContext


def _error(code, msg):
    exc = Error(msg)
    exc.code = code
    exc.code_name = _core.error_name(code)
    return exc


def _check_context(context):
    if not isinstance(context, _SSLContext):
        raise TypeError("context must be an ssl.SSLContext, not %s"
                        % type(context).__name__)


def dumps(session, *, format="der", lean=False):
    """Serialize an ssl.SSLSession (client side) to DER or PEM bytes.

    "der" is i2d_SSL_SESSION (Node getSession(), nginx); "pem" is what
    `openssl sess_id` and `s_client -sess_in` read.  lean=True leaves out
    the server certificate.  The bytes hold the session's secret.
    """
    if not isinstance(format, str):
        raise TypeError("format must be 'der' or 'pem'")
    if not isinstance(lean, bool):
        raise TypeError("lean must be a bool")
    try:
        fmt = _FORMATS[format.lower()]
    except KeyError:
        raise _error(_core.TLSR_EINVAL, "unknown format %r (use 'der' or "
                     "'pem')" % format) from None
    return _core.dumps(session, fmt, lean)


def loads(data, context):
    """Restore a session (DER or PEM) as an ssl.SSLSession bound to context.

    Use it as context.wrap_socket(sock, server_hostname=..., session=s) or
    context.wrap_bio(..., session=s).  Offer it only to the server it came
    from.
    """
    if isinstance(data, str):
        raise TypeError("data must be bytes (DER or PEM), not str")
    # The C side checks the context (type, client) and gives the session
    # the session-id context this CPython's client connections expect.
    return _core.loads(data, context)


def _short_hex(b, n=8):
    h = b.hex()
    return h if len(h) <= 2 * n else h[:2 * n] + "..."


@dataclasses.dataclass(frozen=True, repr=False)
class SessionInfo:
    """What a session holds (never its secret: only master_key_len).

    expires / remaining: when the session stops being usable, as the store
    decides it (the ticket's lifetime hint when shorter than timeout).
    The TLS 1.3 ticket_age_add (RFC 8446 4.6.1: it hides a ticket's age
    from observers) is left out, though it is no key material."""
    protocol_version: int
    protocol_name: str
    cipher_id: int
    cipher_name: str
    cipher_rfc_name: str
    session_id: bytes
    sid_ctx: bytes
    time: int
    timeout: int
    expires: int
    remaining: int
    resumable: bool
    has_ticket: bool
    ticket_len: int
    ticket_lifetime_hint: int
    max_early_data: int
    alpn: str
    sni: str
    has_peer: bool
    peer_subject: str
    peer_issuer: str
    peer_not_after: int
    peer_sha256: bytes
    verify_result: int
    extended_master_secret: bool
    master_key_len: int

    @property
    def expired(self):
        return self.expires <= _time.time()

    def as_dict(self):
        """Plain values (bytes as hex) for JSON."""
        out = dataclasses.asdict(self)
        for k, v in out.items():
            if isinstance(v, bytes):
                out[k] = v.hex()
        return out

    def __repr__(self):
        return ("SessionInfo(%s %s, id=%s, ticket=%s, remaining=%ds%s)"
                % (self.protocol_name, self.cipher_rfc_name or self.cipher_name,
                   _short_hex(self.session_id) or "-",
                   "%dB" % self.ticket_len if self.has_ticket else "no",
                   self.remaining,
                   ", peer=%s" % self.peer_subject if self.has_peer else ""))


# What _core reports and SessionInfo leaves out (see its docstring).
_HIDDEN = ("ticket_age_add", "has_ticket_age_add")


def info_from_dict(d):
    for k in _HIDDEN:
        d.pop(k, None)
    return SessionInfo(**d)


def inspect(session_or_bytes):
    """SessionInfo of an ssl.SSLSession, or of DER / PEM bytes."""
    if isinstance(session_or_bytes, str):
        raise TypeError("expected ssl.SSLSession or bytes, not str")
    return info_from_dict(_core.inspect(session_or_bytes))


def ticket(session_or_bytes):
    """The session ticket the server sent (b"" if none); not a secret."""
    if isinstance(session_or_bytes, str):
        raise TypeError("expected ssl.SSLSession or bytes, not str")
    return _core.ticket(session_or_bytes)
