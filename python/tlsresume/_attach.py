"""attach(): every client connection of a context resumes from a store and
saves what it gets, with no change to the code that uses the context.

Capture is in the C core (OpenSSL's new-session callback on the context's
SSL_CTX: TLS 1.3 tickets arrive after the handshake, during reads).  This
module only gives each connection its key before the handshake and offers
the stored session, through the context's sslsocket_class / sslobject_class
hooks (wrap_socket, http.client, urllib3, requests, httpx sync; wrap_bio
under asyncio or anyio: asyncio streams, httpx async).
"""
import ssl
import sys
import warnings

from . import _core
from . import _early
from ._session import _check_context, _error
from ._redis import RedisStore
from ._store import SessionStore

_ATTR = "_tlsresume_attached"
# Sessions are written by a C thread after the connection captured them:
# detach() waits this long (seconds) for them; the C core writes them at
# process exit too (2 s at most).
_FLUSH_TIMEOUT = 2.0


class _Attached:
    __slots__ = ("store", "scope", "socket_base", "object_base",
                 "early_data", "alpn")

    def __init__(self, store, scope, socket_base, object_base,
                 early_data=False):
        self.store = store
        self.scope = scope
        self.socket_base = socket_base
        self.object_base = object_base
        self.early_data = early_data
        self.alpn = None        # set_alpn_protocols() after attach (_early)


def _prepare(conn, sslobj, host, port, offered):
    """Key the connection for capture and offer the stored session."""
    att = getattr(conn.context, _ATTR, None)
    if att is None or conn.server_side or not host or port is None:
        return
    # Persistence is an optimization: a store that fails (unreadable,
    # sealed under another key) must not fail the caller's connection.
    try:
        _core.attach_connection(sslobj, host, port, att.scope)
        if not offered:
            # Lean: the certificate stays bytes (kept on the connection
            # below, decoded if getpeercert() asks): most of a restore's CPU.
            take_lean = getattr(att.store, "_take_lean", None)
            if take_lean is not None:
                sess = take_lean(host, port, conn.context, att.scope)
            else:
                sess = att.store.take(host, port, conn.context,
                                      scope=att.scope)
            if sess is not None:
                # CPython's setter copies the session, dropping a lean
                # restore's certificate bytes: keep them on the SSL first.
                _core.keep_peer(sslobj, sess)
                sslobj.session = sess
                _core.attach_offer(sslobj, sess)
    except (ValueError, RuntimeError) as e:     # Error is a ValueError
        warnings.warn("tlsresume: not resuming %s:%d: %s" % (host, port, e),
                      RuntimeWarning, stacklevel=_caller_level())


# Modules between the application and _prepare(): a warning names the
# first line outside them (the caller's), not ssl.py.
_INTERNAL = ("tlsresume", "ssl", "http", "urllib", "urllib3", "requests",
             "httpx", "httpcore", "anyio", "asyncio", "socket", "selectors",
             "contextlib", "trio", "sniffio", "concurrent", "threading")


def _caller_level():
    """warnings.warn stacklevel of the first frame, from _prepare()'s caller
    up, whose module is not one of _INTERNAL (3.12's skip_file_prefixes,
    for 3.8 too)."""
    frame, level = sys._getframe(2), 2
    while frame is not None:
        mod = frame.f_globals.get("__name__", "") or ""
        if mod.split(".", 1)[0] not in _INTERNAL:
            return level
        frame, level = frame.f_back, level + 1
    return 2


class _ResumingSocketMixin:
    """SSLSocket: the key is server_hostname (or the peer address) and the
    peer port, known once the socket is connected."""

    def do_handshake(self, *args, **kw):
        self._tlsr_prepare()
        return super().do_handshake(*args, **kw)

    def _tlsr_prepare(self):
        if not getattr(self, "_tlsr_ready", False) and self._sslobj:
            self._tlsr_ready = True
            try:
                addr = _inet_peer(self.getpeername())
            except OSError:
                addr = None
            if addr is not None:
                addr = _tunnel_target(addr, self.server_hostname,
                                      sys._getframe(1))
            if addr is not None:
                _prepare(self, self._sslobj,
                         self.server_hostname or addr[0], addr[1],
                         self._session is not None)


def _inet_peer(addr):
    """(host, port) of an AF_INET / AF_INET6 peer address, else None: an
    AF_UNIX path (a str) has no port, and a session must never be keyed by
    a guess."""
    if (isinstance(addr, tuple) and len(addr) >= 2
            and isinstance(addr[0], str) and type(addr[1]) is int
            and 0 < addr[1] < 65536):
        return addr[0], addr[1]
    return None


def _caller_self(frame, depth, match):
    """The first `self` on the call stack from frame up (depth frames at
    most) for which match(self) is true, with its frame; (None, None)."""
    for _ in range(depth):
        if frame is None:
            break
        obj = frame.f_locals.get("self")
        if match(obj):
            return obj, frame
        frame = frame.f_back
    return None, None


def _tunnel_origin(obj, proxy_port):
    """(host, port) of the TLS server when obj is a client connection that
    tunnels through the proxy at proxy_port (the socket's peer is then the
    proxy, whose port is not the TLS server's): http.client's HTTPConnection
    (urllib3, requests) after set_tunnel(), httpcore's tunnel and SOCKS
    connections (httpx).  None when obj is no such tunnel."""
    client = sys.modules.get("http.client")
    if (client is not None and isinstance(obj, client.HTTPConnection)
            and getattr(obj, "_tunnel_host", None)
            and obj.port == proxy_port):
        return obj._tunnel_host, obj._tunnel_port
    if (type(obj).__module__.startswith("httpcore.")
            and getattr(getattr(obj, "_proxy_origin", None), "port",
                        None) == proxy_port):
        origin = getattr(obj, "_remote_origin", None)
        try:
            return origin.host.decode("ascii"), origin.port
        except (AttributeError, UnicodeDecodeError):
            return "", None         # a tunnel we cannot read: no key
    return None


def _tunnel_target(addr, server_hostname, frame):
    """addr, or the tunnel's target (host, port) when a proxy tunnel on the
    call stack (from frame up) carries this connection; None when that
    target cannot be told apart (no key rather than a guess)."""
    conn, _ = _caller_self(
        frame, 32, lambda obj: _tunnel_origin(obj, addr[1]) is not None)
    if conn is None:
        return addr
    target = _tunnel_origin(conn, addr[1])
    if target[0] != server_hostname:
        return None                 # cannot tell: no key
    return _inet_peer(target)


def _drives(proto, sslobject):
    """proto (an asyncio SSLProtocol) runs this very SSLObject: 3.11+ keep
    it as proto._sslobj, 3.8-3.10 as proto._sslpipe._sslobj."""
    if getattr(proto, "_sslobj", None) is sslobject:
        return True
    pipe = getattr(proto, "_sslpipe", None)
    return pipe is not None and getattr(pipe, "_sslobj", None) is sslobject


def _upgraded(proto):
    """proto comes from loop.start_tls() (or cannot tell): its app protocol
    was connected before TLS.  3.8-3.10 keep _call_connection_made; 3.11+
    start in app state STATE_CON_MADE instead of STATE_INIT."""
    made = getattr(proto, "_call_connection_made", None)
    if made is not None:
        return not made
    state = getattr(proto, "_app_state", None)
    return getattr(state, "name", None) != "STATE_INIT"


def _asyncio_peer(sslobject):
    """(host, port) of the transport of the asyncio SSLProtocol driving this
    SSLObject's handshake, found on the call stack; None elsewhere.  A
    memory-BIO connection has no socket, and wrap_bio() gets no port.

    Only the SSLProtocol that owns sslobject counts: another one on the
    stack (a handshake started from a protocol callback) belongs to another
    connection.  start_tls() upgrades a transport whose peer may be a proxy,
    not the TLS server: its port is not known, so no key."""
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is None:        # asyncio not in use
        return None
    proto, _ = _caller_self(
        sys._getframe(2), 12,
        lambda obj: (isinstance(obj, sslproto.SSLProtocol)
                     and _drives(obj, sslobject)))
    if proto is None or _upgraded(proto):
        return None     # start_tls(): the peer may be a proxy
    tr = getattr(proto, "_transport", None)
    peer = tr.get_extra_info("peername") if tr is not None else None
    return _inet_peer(peer)


def _anyio_peer(sslobject):
    """(host, port) of the byte stream under the anyio TLSStream (httpx
    async, on asyncio or trio) whose handshake drives this SSLObject, found
    on the call stack; the tunnel's target if that stream goes through a
    proxy; None elsewhere."""
    tls = sys.modules.get("anyio.streams.tls")
    if tls is None:
        return None
    stream, frame = _caller_self(
        sys._getframe(2), 12,
        lambda obj: (isinstance(obj, tls.TLSStream)
                     and getattr(obj, "_ssl_object", None) is sslobject))
    if stream is None:
        return None
    from anyio.abc import SocketAttribute
    try:
        peer = stream.transport_stream.extra(SocketAttribute.remote_address)
    except Exception:       # anyio's TypedAttributeLookupError
        return None
    peer = _inet_peer(peer)
    if peer is None:
        return None
    return _tunnel_target(peer, sslobject.server_hostname, frame)


class _ResumingObjectMixin:
    """SSLObject (wrap_bio): the port is set with set_peer() or found from
    the asyncio or anyio stream driving the handshake; without one the
    connection is left alone."""

    @classmethod
    def _create(cls, *args, **kw):
        obj = super()._create(*args, **kw)
        session = kw.get("session", args[4] if len(args) > 4 else None)
        obj._tlsr_offered = session is not None
        return obj

    def do_handshake(self):
        if not getattr(self, "_tlsr_ready", False):
            self._tlsr_ready = True
            peer = (getattr(self, "_tlsr_peer", None) or _asyncio_peer(self)
                    or _anyio_peer(self))
            if peer is not None:
                _prepare(self, self._sslobj,
                         self.server_hostname or peer[0], peer[1],
                         getattr(self, "_tlsr_offered", False))
        return super().do_handshake()


def set_peer(sslobject, port, host=None):
    """For wrap_bio() outside asyncio: tell an attached SSLObject the port
    (and host, default server_hostname) before its handshake."""
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError("port must be an int, not %s" % type(port).__name__)
    if not 0 < port < 65536:
        raise _error(_core.TLSR_EINVAL, "port must be 1..65535")
    if host is not None and not isinstance(host, str):
        raise TypeError("host must be a str or None")
    sslobject._tlsr_peer = (host, port)


def attach(context, store, *, scope="", early_data=False):
    """Make every client connection made with context resume from store and
    save new sessions into it.  Returns context.  Attaching a context that
    is already attached to another store (or scope) is refused: detach()
    it first; the same store and scope again is a no-op.

    early_data=True: on TLS 1.3, a request safe to replay (GET, HEAD or
    OPTIONS without a body) goes out with the ClientHello when the stored
    session allows early data (see tlsresume._early and the README)."""
    _check_context(context)
    if not isinstance(store, (SessionStore, RedisStore)):
        raise TypeError("store must be a tlsresume.SessionStore or "
                        "RedisStore")
    if not isinstance(scope, str):
        raise TypeError("scope must be a str, not %s" % type(scope).__name__)
    if not isinstance(early_data, bool):
        raise TypeError("early_data must be a bool")
    old = getattr(context, _ATTR, None)
    if old is not None:
        if (old.store is store and old.scope == scope
                and old.early_data == early_data):
            return context
        raise _error(_core.TLSR_EINVAL, "this context is already attached to "
                     "%r (scope %r): detach() it first" % (old.store,
                                                            old.scope))
    sock_base = context.sslsocket_class
    obj_base = context.sslobject_class
    store._attach_context(context)
    att = _Attached(store, scope, sock_base, obj_base, early_data)
    setattr(context, _ATTR, att)
    _track_alpn(context, att)
    context.sslsocket_class = type(
        "Resuming" + sock_base.__name__,
        (_ResumingSocketMixin, _early.EarlySocketMixin, sock_base), {})
    context.sslobject_class = type(
        "Resuming" + obj_base.__name__,
        (_ResumingObjectMixin, _early.EarlyObjectMixin, obj_base), {})
    return context


def _track_alpn(context, att):
    """Early data must offer the session's ALPN protocol (else OpenSSL
    aborts the handshake), and CPython cannot tell a context's list: note
    what set_alpn_protocols() sets from now on (httpx and urllib3 set it
    for every connection).  Set before attach(): unknown, and a session
    with ALPN is then not used for early data."""
    setter = type(context).set_alpn_protocols.__get__(context)

    def set_alpn_protocols(alpn_protocols):
        setter(alpn_protocols)
        att.alpn = list(alpn_protocols)

    context.set_alpn_protocols = set_alpn_protocols


def detach(context):
    """Undo attach(): connections made afterwards neither resume nor save."""
    att = getattr(context, _ATTR, None)
    if att is None:
        return
    if isinstance(att.store, RedisStore):
        att.store.flush(_FLUSH_TIMEOUT)
    else:
        _core.flush_context(context, int(_FLUSH_TIMEOUT * 1000))
    _core.detach_context(context)
    context.__dict__.pop("set_alpn_protocols", None)
    context.sslsocket_class = att.socket_base
    context.sslobject_class = att.object_base
    delattr(context, _ATTR)


def flush(context, timeout=1.0):
    """Wait until the sessions context's connections captured are in the
    store (they are written by a thread of their own, outside the
    connection's reads), at most timeout seconds (None: no limit).
    Returns True when all are written, False when the time ran out."""
    _check_context(context)
    if timeout is None:
        ms = -1
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        if not timeout >= 0:
            raise _error(_core.TLSR_EINVAL, "timeout must be >= 0 or None")
        ms = int(min(timeout, 2**31 / 1000 - 1) * 1000)
    else:
        raise TypeError("timeout must be a number or None")
    att = getattr(context, _ATTR, None)
    if att is not None and isinstance(att.store, RedisStore):
        return att.store.flush(3600.0 if timeout is None else timeout)
    return _core.flush_context(context, ms)


def client_context(store, *, scope="", early_data=False, **kw):
    """ssl.create_default_context(**kw), attached to store."""
    return attach(ssl.create_default_context(**kw), store, scope=scope,
                  early_data=early_data)
