"""tlsresume: save TLS sessions (ssl.SSLSession) to disk and resume them from
another process.

    data = tlsresume.dumps(sock.session)             # DER (or format="pem")
    s = tlsresume.loads(data, ctx)                    # bound to ctx
    ctx.wrap_socket(raw, server_hostname=host, session=s)

    store = tlsresume.SessionStore("~/.cache/myapp/tls")
    tlsresume.attach(ctx, store)                      # automatic, any client
    tlsresume.attach(ctx, tlsresume.RedisStore("redis://..."))  # a fleet
    http = tlsresume.requests_session(store)          # requests, resuming

Supported: CPython 3.8 to 3.13 on Linux with the system OpenSSL (>= 1.1.1,
the same libssl as Python's _ssl: checked at import).  Tested on 3.8 to 3.13
with OpenSSL 3.0; 3.14 expected to work, not tested.
ssl.SSLSession has no public constructor or pointer accessor; the binding
reaches it by its C layout, checked on every use.
"""
import ssl as _ssl  # _ssl must be loaded before the check below

from . import _core
from ._check import check as _check_libssl

_check_libssl(_core)

from ._session import (Error, SessionInfo, dumps, inspect, loads,  # noqa: E402
                       ticket)
from ._store import SessionStore, StoreEntry  # noqa: E402
from ._redis import RedisStore  # noqa: E402
from ._attach import (attach, client_context, detach, flush,  # noqa: E402
                      set_peer)
from ._requests import requests_session  # noqa: E402
from ._early import early_data_status, send_early  # noqa: E402
from ._probe import ProbeReport, probe  # noqa: E402
from ._ring import RingKey, TicketKeyRing  # noqa: E402
from ._redis_ring import RedisTicketKeyRing  # noqa: E402
from . import server  # noqa: E402,F401

__version__ = _core.versions()[0]

#: Error codes by name (TLSR_EINVAL: -1, ...) and names by code.
codes = {}
for _c in range(0, -64, -1):
    _n = _core.error_name(_c)
    if _n == "TLSR_E?":
        break
    codes[_n] = _c
del _c, _n

__all__ = ["Error", "ProbeReport", "RedisStore", "RedisTicketKeyRing",
           "RingKey", "SessionInfo",
           "SessionStore", "StoreEntry", "TicketKeyRing", "attach",
           "client_context", "codes", "detach", "dumps", "early_data_status",
           "flush", "inspect", "loads", "probe", "requests_session",
           "send_early", "set_peer", "ticket"]
