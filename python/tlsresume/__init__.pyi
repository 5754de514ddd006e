import ssl
from os import PathLike
from typing import Any, Dict, Iterator, List, Literal, Optional, Union

import requests

from . import server as server

_Bytes = Union[bytes, bytearray, memoryview]

__version__: str
__all__: List[str]
codes: Dict[str, int]

class Error(ValueError):
    code: int
    code_name: str

class SessionInfo:
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
    def expired(self) -> bool: ...
    def as_dict(self) -> Dict[str, object]: ...

class StoreEntry:
    host: str
    port: int
    scope: str
    sealed: bool
    info: SessionInfo

def dumps(session: ssl.SSLSession, *, format: Literal["der", "pem"] = ...,
          lean: bool = ...) -> bytes: ...
def loads(data: _Bytes, context: ssl.SSLContext) -> ssl.SSLSession: ...
def inspect(session_or_bytes: Union[ssl.SSLSession, _Bytes]) -> SessionInfo: ...
def ticket(session_or_bytes: Union[ssl.SSLSession, _Bytes]) -> bytes: ...

class SessionStore:
    path: str
    ssl_context: Optional[ssl.SSLContext]
    def __init__(self, path: Union[str, bytes, PathLike[str]], *,
                 seal_key: Optional[_Bytes] = ..., max_tickets: int = ...,
                 max_entries: int = ..., max_lifetime: int = ...,
                 lean: bool = ..., decode_peer: bool = ...,
                 ssl_context: Optional[ssl.SSLContext] = ...) -> None: ...
    def put(self, host: str, port: int, session: ssl.SSLSession, *,
            scope: str = ...) -> None: ...
    def get(self, host: str, port: int,
            context: Optional[ssl.SSLContext] = ..., *,
            scope: str = ...) -> Optional[ssl.SSLSession]: ...
    def take(self, host: str, port: int,
             context: Optional[ssl.SSLContext] = ..., *,
             scope: str = ...) -> Optional[ssl.SSLSession]: ...
    def remove(self, host: str, port: int, *, scope: str = ...) -> int: ...
    def prune(self) -> int: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[StoreEntry]: ...
    def close(self) -> None: ...
    def __enter__(self) -> "SessionStore": ...
    def __exit__(self, *exc: object) -> None: ...

class RedisStore:
    client: Any
    prefix: str
    max_tickets: int
    ssl_context: Optional[ssl.SSLContext]
    timeout: float
    retry_after: float
    def __init__(self, url_or_client: Any, *, prefix: str = ...,
                 seal_key: Optional[_Bytes] = ..., max_tickets: int = ...,
                 max_lifetime: int = ..., lean: bool = ...,
                 decode_peer: bool = ...,
                 ssl_context: Optional[ssl.SSLContext] = ...,
                 timeout: float = ..., retry_after: float = ...) -> None: ...
    def put(self, host: str, port: int, session: ssl.SSLSession, *,
            scope: str = ...) -> bool: ...
    def get(self, host: str, port: int,
            context: Optional[ssl.SSLContext] = ..., *,
            scope: str = ...) -> Optional[ssl.SSLSession]: ...
    def take(self, host: str, port: int,
             context: Optional[ssl.SSLContext] = ..., *,
             scope: str = ...) -> Optional[ssl.SSLSession]: ...
    def remove(self, host: str, port: int, *, scope: str = ...) -> int: ...
    def prune(self) -> int: ...
    def __len__(self) -> int: ...
    def flush(self, timeout: float = ...) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> "RedisStore": ...
    def __exit__(self, *exc: object) -> None: ...

def attach(context: ssl.SSLContext, store: Union[SessionStore, RedisStore], *,
           scope: str = ..., early_data: bool = ...) -> ssl.SSLContext: ...
def detach(context: ssl.SSLContext) -> None: ...
def flush(context: ssl.SSLContext,
          timeout: Optional[float] = ...) -> bool: ...
def client_context(store: SessionStore, *, scope: str = ...,
                   early_data: bool = ..., **kw: Any) -> ssl.SSLContext: ...
def requests_session(store: SessionStore,
                     context: Optional[ssl.SSLContext] = ..., *,
                     scope: str = ...,
                     early_data: bool = ...) -> "requests.Session": ...
def send_early(sslsock: ssl.SSLSocket, data: _Bytes) -> str: ...
def early_data_status(conn: Union[ssl.SSLSocket, ssl.SSLObject]) -> str: ...
def set_peer(sslobject: ssl.SSLObject, port: int,
             host: Optional[str] = ...) -> None: ...

# ---- probe (issue 11) ----------------------------------------------------
class ProbeReport:
    schema: str
    target: Dict[str, Any]
    addresses: List[str]
    tries: int
    versions: Dict[str, Optional[bool]]
    session_id: Optional[Dict[str, Any]]
    ticket_tls12: Optional[Dict[str, Any]]
    tls13: Optional[Dict[str, Any]]
    tickets_per_connection: Dict[str, List[int]]
    ticket_lifetime_hint: Dict[str, List[int]]
    ticket_key_names: Dict[str, Any]
    early_data: Dict[str, Any]
    cross_address: Optional[Dict[str, List[List[Optional[bool]]]]]
    connections: List[Dict[str, Any]]
    notes: List[str]
    warnings: List[str]
    failures: List[str]
    verdict: str
    exit_status: int
    watch: Optional[List[Dict[str, Any]]]
    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "ProbeReport": ...
    def as_dict(self) -> Dict[str, Any]: ...
    def to_json(self, indent: Optional[int] = ...) -> str: ...
    @property
    def resumes(self) -> bool: ...
def probe(host: str, port: int = ..., *, sni: Optional[str] = ...,
          ips: Union[str, List[str], tuple] = ..., all_ips: bool = ...,
          tries: int = ..., tls: Optional[Literal["1.2", "1.3"]] = ...,
          mechanisms: Optional[List[str]] = ..., early_data: bool = ...,
          request: Union[None, str, bytes] = ..., timeout: float = ...,
          insecure: bool = ..., cafile: Optional[str] = ...,
          watch: Optional[float] = ..., count: int = ...) -> ProbeReport: ...

class RingKey:
    name: bytes
    role: str
    start: int
    end: int
    expires: int

class TicketKeyRing:
    def __init__(self, path: Union[str, bytes, PathLike[str]]) -> None: ...
    @classmethod
    def init(cls, path: Union[str, bytes, PathLike[str]], *,
             period: int = ..., keep: int = ...,
             format: Literal["nginx80", "openssl80", "nginx48",
                             "node48"] = ...) -> "TicketKeyRing": ...
    @property
    def path(self) -> str: ...
    @property
    def period(self) -> int: ...
    @property
    def keep(self) -> int: ...
    @property
    def aes256(self) -> bool: ...
    def keys(self, now: Optional[int] = ...) -> List[RingKey]: ...
    def encrypting(self, now: Optional[int] = ...) -> Optional[bytes]: ...
    def rotate(self, force: bool = ..., now: Optional[int] = ...) -> bool: ...
    def reload(self) -> None: ...
    def export(self, format: Literal["nginx80", "nginx48", "haproxy",
                                     "node48"],
               out_dir: Union[str, PathLike[str]],
               now: Optional[int] = ...) -> int: ...
    def status(self, clear: bool = ...) -> Dict[str, Any]: ...
    def decrypt(self, ticket: _Bytes) -> Dict[str, Any]: ...

class RedisTicketKeyRing(TicketKeyRing):
    url: str
    prefix: str
    sync_interval: float
    timeout: float
    def __init__(self, url: str, *,  # type: ignore[override]
                 background: bool = ...) -> None: ...
    @classmethod
    def init(cls, url: str, *,  # type: ignore[override]
             period: int = ..., keep: int = ...,
             format: Literal["nginx80", "openssl80", "nginx48",
                             "node48"] = ...,
             background: bool = ...) -> "RedisTicketKeyRing": ...
    def rotate(self, force: bool = ...,  # type: ignore[override]
               now: Optional[int] = ...,
               wait: float = ...) -> Optional[bool]: ...
    def reload(self) -> None: ...
    def sync(self) -> Optional[List[int]]: ...
    def close(self) -> None: ...
