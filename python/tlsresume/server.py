"""Server side: share TLS resumption state between server processes.

    ring = tlsresume.server.ticket_keys(ctx, "/var/lib/myapp/ticket-keys")

ticket_keys() makes a server ssl.SSLContext seal and open its session
tickets with a TicketKeyRing, so every process (and machine) using the
ring resumes the others' tickets.  Servers that build their own contexts
(uvicorn, hypercorn, gunicorn, ...) get it with TLSRESUME_TICKET_KEYS=PATH
in the environment (see tlsresume/_autoring.py and README "Servers").
"""
import os
import ssl

from . import _core
from ._ring import TicketKeyRing
from ._session import _error

__all__ = ["TicketKeyRing", "ticket_keys"]


def ticket_keys(ctx, ring, *, session_id_context=None, auto_rotate=True):
    """Serve ctx's session tickets from ring (a path or a TicketKeyRing).

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
        ring = TicketKeyRing(ring)
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

