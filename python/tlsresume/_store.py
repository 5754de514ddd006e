"""SessionStore: the on-disk session store of the C core."""
import dataclasses
import os
import ssl

from . import _core
from ._session import SessionInfo, _check_context, _error, info_from_dict


@dataclasses.dataclass(frozen=True)
class StoreEntry:
    """One stored session: its key and what it holds (no secret)."""
    host: str
    port: int
    scope: str
    sealed: bool
    info: SessionInfo


def _check_key(host, port, scope):
    if not isinstance(host, str):
        raise TypeError("host must be a str, not %s" % type(host).__name__)
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError("port must be an int, not %s" % type(port).__name__)
    if not isinstance(scope, str):
        raise TypeError("scope must be a str, not %s" % type(scope).__name__)


class SessionStore:
    """Sessions on disk, keyed by (host, port, scope).

    path is a directory: "~" is expanded, missing parents are made 0700.
    Like ssh, a directory that group or others can write is refused; one
    we create is made 0700, an existing one others cannot write (0755) is
    used as it is.  scope (a str, default "") separates sessions of one
    (host, port) made under different settings.  seal_key (32 bytes) seals entries
    with AES-256-GCM.  TLS 1.3 tickets are single use: take() removes the
    one it returns, keeping up to max_tickets per key.  Sessions come back
    bound to an ssl.SSLContext: pass ssl_context= here (the default) or
    the context to get() / take().

    Sessions come back lean: the server certificate stays as bytes (decoding
    it is most of a restore's cost); connections of attach()ed contexts
    still answer getpeercert() with it.  decode_peer=True decodes it on
    every restore (the behaviour before 0.2).  lean=True stores entries
    without the certificate at all (getpeercert() is then None).
    """

    def __init__(self, path, *, seal_key=None, max_tickets=8, max_entries=0,
                 max_lifetime=0, lean=False, decode_peer=False,
                 ssl_context=None):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError("path must be a str or os.PathLike")
        if seal_key is not None and not isinstance(seal_key, (bytes, bytearray,
                                                              memoryview)):
            raise TypeError("seal_key must be 32 bytes or None")
        for name, v, top in (("max_tickets", max_tickets, 0xFFFFFFFF),
                             ("max_entries", max_entries, 0xFFFFFFFF),
                             ("max_lifetime", max_lifetime, 2**63 - 1)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise TypeError("%s must be an int >= 0" % name)
            # The C side takes unsigned int / long long: never truncate.
            if v > top:
                raise _error(_core.TLSR_EINVAL,
                             "%s is too large (at most %d)" % (name, top))
        if ssl_context is not None:
            _check_context(ssl_context)
        # The C core makes missing parents; "~" is a shell convention.
        self.path = os.path.expanduser(os.fsdecode(path))
        self.ssl_context = ssl_context
        self._store = _core.Store(self.path, max_tickets, max_entries,
                                  max_lifetime,
                                  None if seal_key is None else bytes(seal_key),
                                  bool(lean), bool(decode_peer))

    def _ctx(self, context):
        ctx = context if context is not None else self.ssl_context
        if ctx is None:
            raise TypeError("an ssl.SSLContext is needed to bind the session:"
                            " pass it to get() / take() or ssl_context= to"
                            " SessionStore()")
        if isinstance(ctx, str):
            raise TypeError("context must be an ssl.SSLContext, not str (the"
                            " key's discriminator is the keyword scope=)")
        _check_context(ctx)
        return ctx

    def put(self, host, port, session, *, scope=""):
        """Save a client session for (host, port, scope)."""
        _check_key(host, port, scope)
        self._store.put(host, port, session, scope)

    def get(self, host, port, context=None, *, scope=""):
        """Newest usable session for the key (left in the store), bound to
        context (default: the store's ssl_context), or None."""
        _check_key(host, port, scope)
        ctx = self._ctx(context)
        return self._store.get(host, port, scope, ctx, False)

    def take(self, host, port, context=None, *, scope=""):
        """The session to resume with, bound to context (default: the
        store's ssl_context), or None; a TLS 1.3 ticket is removed (single
        use), a TLS 1.2 session stays."""
        _check_key(host, port, scope)
        ctx = self._ctx(context)
        return self._store.get(host, port, scope, ctx, True)

    def _take_lean(self, host, port, context, scope):
        """take() for attach(): the certificate is not decoded."""
        _check_key(host, port, scope)
        return self._store.get(host, port, scope, self._ctx(context), True,
                               True)

    def remove(self, host, port, *, scope=""):
        """Remove every entry for the key; returns how many."""
        _check_key(host, port, scope)
        return self._store.remove(host, port, scope)

    def prune(self):
        """Remove expired and surplus entries; returns how many."""
        return self._store.prune()

    def __len__(self):
        return self._store.count()

    def __iter__(self):
        for host, port, scope, sealed, info in self._store.entries():
            yield StoreEntry(host, port, scope, sealed, info_from_dict(info))

    def _attach_context(self, context):
        self._store.attach_context(context)

    def close(self):
        self._store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "SessionStore(%r)" % self.path
