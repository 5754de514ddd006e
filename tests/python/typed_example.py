"""Uses the public API as a typed application would: `mypy --strict` must
accept it against the package's stubs (test_types.py).  Not run: the
functions are only type-checked."""
import socket
import ssl
from typing import Dict, List, Optional

import tlsresume


def save_and_restore(sock: ssl.SSLSocket, ctx: ssl.SSLContext) -> bytes:
    session = sock.session
    assert session is not None
    data: bytes = tlsresume.dumps(session, format="pem", lean=True)
    restored: ssl.SSLSession = tlsresume.loads(data, ctx)
    info: tlsresume.SessionInfo = tlsresume.inspect(restored)
    left: int = info.remaining
    expired: bool = info.expired
    fields: Dict[str, object] = info.as_dict()
    ticket: bytes = tlsresume.ticket(data)
    print(left, expired, fields, ticket)
    return data


def use_store(path: str, ctx: ssl.SSLContext,
              session: ssl.SSLSession) -> Optional[ssl.SSLSession]:
    with tlsresume.SessionStore(path, seal_key=bytes(32), max_tickets=4,
                                ssl_context=ctx) as store:
        store.put("example.org", 443, session, scope="api")
        got: Optional[ssl.SSLSession] = store.get("example.org", 443, ctx,
                                                  scope="api")
        hosts: List[str] = [e.host + e.scope for e in store]
        removed: int = store.remove("example.org", 443, scope="api")
        print(got, hosts, removed, len(store), store.prune())
        return store.take("example.org", 443)


def attached(store: tlsresume.SessionStore, host: str) -> bool:
    ctx = tlsresume.client_context(store, scope="v1", cafile=None)
    tlsresume.detach(tlsresume.attach(ssl.create_default_context(), store))
    with socket.create_connection((host, 443)) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            return bool(s.session_reused)


def bio_peer(ctx: ssl.SSLContext) -> None:
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(),
                       server_hostname="example.org")
    tlsresume.set_peer(obj, 443)


def with_requests(store: tlsresume.SessionStore) -> int:
    with tlsresume.requests_session(store, scope="api") as http:
        status: int = http.get("https://example.org/").status_code
        return status


def errors() -> Optional[str]:
    code: int = tlsresume.codes["TLSR_EINVAL"]
    try:
        tlsresume.loads(b"", ssl.create_default_context())
    except tlsresume.Error as e:
        return "%s %d %d %s" % (e, e.code, code, e.code_name)
    return tlsresume.__version__
