"""Server side of resumption.

session_cache(): the server's session-ID cache in a SessionStore, shared by
every process (and machine) using that store.
"""
import os
import ssl

from . import _core
from ._session import _error
from ._store import SessionStore

# ---- session_cache: a session-ID cache shared through a SessionStore ----


def session_cache(ctx, store, *, scope=""):
    """Keep ctx's server sessions in store, so that any server process using
    the same store resumes them: TLS 1.2 session IDs, and TLS 1.3 stateful
    tickets when tickets are off (ctx.options |= ssl.OP_NO_TICKET).

    ctx is a server-side ssl.SSLContext; store a SessionStore or a path.
    OpenSSL's own in-memory cache is turned off: the store is the cache.
    Entries hold the sessions' master secrets: they are sealed when the
    store is, and expire with the session (ctx's session timeout).  A
    session resumes only where the session-id context is the same (CPython
    server contexts all use "Python"); scope separates fleets that share a
    store.  A store that fails gives full handshakes, never a failed one,
    and one RuntimeWarning.  New sessions are written by a thread of the
    cache's own, within ~20 ms, never inside the handshake: this process
    resumes them at once, other processes once written (flush() waits for
    that).  Calling again with the same store changes
    nothing; another store is refused (detach first: store=None).  With an
    sni_callback that switches contexts, give each context the cache.
    """
    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError("ctx must be an ssl.SSLContext, not %s"
                        % type(ctx).__name__)
    if ctx.protocol == ssl.PROTOCOL_TLS_CLIENT:
        raise _error(_core.TLSR_EINVAL, "ctx is a client context "
                     "(PROTOCOL_TLS_CLIENT): clients resume with "
                     "tlsresume.attach()")
    if not isinstance(scope, str):
        raise TypeError("scope must be a str, not %s" % type(scope).__name__)
    if store is None:
        _core.server_cache_detach(ctx)
        return
    if isinstance(store, (str, bytes, os.PathLike)):
        store = SessionStore(store)
    elif not isinstance(store, SessionStore):
        raise TypeError("store must be a SessionStore or a path, not %s"
                        % type(store).__name__)
    store._store.server_cache(ctx, scope)


def flush(ctx, timeout=1.0):
    """Wait until the sessions (and removals) ctx's session cache queued are
    in the store, at most timeout seconds (None: no limit).  True when all
    are written (or ctx has no cache), False when the time ran out."""
    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError("ctx must be an ssl.SSLContext, not %s"
                        % type(ctx).__name__)
    if timeout is None:
        ms = -1
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        if not timeout >= 0:
            raise _error(_core.TLSR_EINVAL, "timeout must be >= 0 or None")
        ms = int(min(timeout, 2**31 / 1000 - 1) * 1000)
    else:
        raise TypeError("timeout must be a number or None")
    return _core.server_cache_flush(ctx, ms)


def session_cache_stats(ctx):
    """Counters of ctx's shared session cache (stored, hits, misses,
    removed, failures, full, dropped, first_error), or None if it has
    none."""
    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError("ctx must be an ssl.SSLContext, not %s"
                        % type(ctx).__name__)
    return _core.server_cache_stats(ctx)
