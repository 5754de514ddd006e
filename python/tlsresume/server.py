"""Server side of resumption.

session_cache(): the server's session-ID cache in a SessionStore, shared by
every process (and machine) using that store.

ticket_keys(): the server's session tickets sealed and opened with a
TicketKeyRing, so every process (and machine) using the ring resumes the
others' tickets.  Servers that build their own contexts (uvicorn,
hypercorn, gunicorn, ...) get it with TLSRESUME_TICKET_KEYS=PATH in the
environment (see tlsresume/_autoring.py and README "Servers").
"""
import os
import ssl

from . import _core, _redis, _redis_ring
from ._ring import TicketKeyRing
from ._session import _error
from ._store import SessionStore

# ---- session_cache: a session-ID cache shared through a SessionStore ----


def session_cache(ctx, store, *, scope="", lookup_timeout=0.01):
    """Keep ctx's server sessions in store, so that any server process using
    the same store resumes them: TLS 1.2 session IDs, and TLS 1.3 stateful
    tickets when tickets are off (ctx.options |= ssl.OP_NO_TICKET).

    ctx is a server-side ssl.SSLContext; store a SessionStore, a path, or
    a RedisStore for servers on many machines.  With Redis, a handshake
    looks its session up in Redis itself (OpenSSL cannot wait for it
    elsewhere), in C without the GIL, for at most lookup_timeout seconds
    (connecting included), then resumes nothing; after a failure Redis is
    left alone for the store's retry_after.  Writes go through the cache's
    thread with the store's timeout.  Redis is reached by the core's own
    client, over TCP or a Unix socket (not rediss://).
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
    if (not isinstance(lookup_timeout, (int, float))
            or isinstance(lookup_timeout, bool)):
        raise TypeError("lookup_timeout must be a number of seconds")
    if not 0.001 <= lookup_timeout <= 10:
        raise _error(_core.TLSR_EINVAL, "lookup_timeout must be 0.001 to 10 "
                     "seconds")
    if isinstance(store, (str, bytes, os.PathLike)):
        store = SessionStore(store)
    elif isinstance(store, _redis.RedisStore):
        store._server_cache(ctx, scope, lookup_timeout)
        return
    elif not isinstance(store, SessionStore):
        raise TypeError("store must be a SessionStore, a RedisStore or a "
                        "path, not %s" % type(store).__name__)
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


# ---- ticket_keys: session tickets under keys shared through a ring ----


def ticket_keys(ctx, ring, *, session_id_context=None, auto_rotate=True):
    """Serve ctx's session tickets from ring (a path, a redis:// URL or a
    TicketKeyRing; a Redis ring is rotated by its own sync thread).

    ctx must be a server context: PROTOCOL_TLS_SERVER, or the generic
    PROTOCOL_TLS (create_default_context(Purpose.CLIENT_AUTH) before
    CPython 3.10); never PROTOCOL_TLS_CLIENT.  A ticket under a
    key that no longer encrypts, and every TLS 1.3 resumption, is answered
    with a fresh ticket.  The ring is checked at most once a second (a
    stat) and reloaded when it changed; auto_rotate: the server also
    rotates it when due (needs write access; otherwise run `tlsresume keys
    rotate` from cron).  A ring that turns unreadable keeps the last good
    keys and warns (RuntimeWarning); handshakes never fail because of it.
    Sets ctx's session timeout to the ring's keep.

    session_id_context (bytes or str, <= 32 bytes): OpenSSL resumes a
    decrypted ticket only if the session's id context equals the server's.
    CPython server contexts use b"Python\\0"; give the value of the other
    servers sharing the ring (Node's sessionIdContext, ...) on all of them.
    Returns the TicketKeyRing.
    """
    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError("ctx must be an ssl.SSLContext, not %s"
                        % type(ctx).__name__)
    if not isinstance(ring, TicketKeyRing):
        ring = _redis_ring.open_ring(ring)
    if isinstance(ring, _redis_ring.RedisTicketKeyRing):
        auto_rotate = False     # its sync thread rotates, under the lock
    sid = session_id_context
    if isinstance(sid, str):
        sid = sid.encode()
    if sid is not None:
        if not isinstance(sid, (bytes, bytearray, memoryview)):
            raise TypeError("session_id_context must be bytes, str or None")
        if len(sid) > 32:
            raise _error(_core.TLSR_EINVAL, "session_id_context is longer "
                         "than 32 bytes")
        sid = bytes(sid)
    ring._ring.attach(ctx, sid, bool(auto_rotate))
    return ring
