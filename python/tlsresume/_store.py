"""SessionStore: the on-disk session store of the C core."""
import dataclasses
import os
import ssl

from . import _core
from ._session import SessionInfo, _check_context, _error


@dataclasses.dataclass(frozen=True)
class StoreEntry:
    """One stored session: its key and what it holds (no secret)."""
    host: str
    port: int
    context: str
    sealed: bool
    info: SessionInfo


def _check_key(host, port, context):
    if not isinstance(host, str):
        raise TypeError("host must be a str, not %s" % type(host).__name__)
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError("port must be an int, not %s" % type(port).__name__)
    if not isinstance(context, str):
        raise TypeError("context must be a str, not %s"
                        % type(context).__name__)


class SessionStore:
    """Sessions on disk, keyed by (host, port, context).

    path is a directory (created 0700).  seal_key (32 bytes) seals entries
    with AES-256-GCM.  TLS 1.3 tickets are single use: take() removes the
    one it returns, keeping up to max_tickets per key.  Sessions come back
    bound to an ssl.SSLContext: pass ssl_context= here (the default) or to
    get() / take().
    """

    def __init__(self, path, *, seal_key=None, max_tickets=8, max_entries=0,
                 max_lifetime=0, lean=False, ssl_context=None):
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
        self.path = os.fsdecode(path)
        self.ssl_context = ssl_context
        self._store = _core.Store(path, max_tickets, max_entries,
                                  max_lifetime,
                                  None if seal_key is None else bytes(seal_key),
                                  bool(lean))

    def _ctx(self, ssl_context):
        ctx = ssl_context if ssl_context is not None else self.ssl_context
        if ctx is None:
            raise TypeError("an ssl.SSLContext is needed to bind the session:"
                            " pass ssl_context= to SessionStore() or here")
        _check_context(ctx)
        return ctx

    def put(self, host, port, session, context=""):
        """Save a client session for (host, port, context)."""
        _check_key(host, port, context)
        self._store.put(host, port, session, context)

    def get(self, host, port, context="", *, ssl_context=None):
        """Newest usable session for the key (left in the store), or None."""
        _check_key(host, port, context)
        ctx = self._ctx(ssl_context)
        return self._store.get(host, port, context, ctx, False)

    def take(self, host, port, context="", *, ssl_context=None):
        """The session to resume with, or None; a TLS 1.3 ticket is removed
        (single use), a TLS 1.2 session stays."""
        _check_key(host, port, context)
        ctx = self._ctx(ssl_context)
        return self._store.get(host, port, context, ctx, True)

    def remove(self, host, port, context=""):
        """Remove every entry for the key; returns how many."""
        _check_key(host, port, context)
        return self._store.remove(host, port, context)

    def prune(self):
        """Remove expired and surplus entries; returns how many."""
        return self._store.prune()

    def __len__(self):
        return self._store.count()

    def __iter__(self):
        for host, port, context, sealed, info in self._store.entries():
            yield StoreEntry(host, port, context, sealed, SessionInfo(**info))

    def close(self):
        self._store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "SessionStore(%r)" % self.path
