import ssl
from os import PathLike
from typing import Any, Dict, Iterator, List, Literal, Optional, Union

import requests

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

def attach(context: ssl.SSLContext, store: SessionStore, *,
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
