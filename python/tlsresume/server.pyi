import os
import ssl
from typing import Dict, Optional, Union

from . import RedisStore, SessionStore, TicketKeyRing

def session_cache(ctx: ssl.SSLContext,
                  store: Union[SessionStore, RedisStore, str, bytes,
                               "os.PathLike[str]", None],
                  *, scope: str = ..., lookup_timeout: float = ...) -> None: ...
def flush(ctx: ssl.SSLContext, timeout: Optional[float] = ...) -> bool: ...
def session_cache_stats(
        ctx: ssl.SSLContext) -> Optional[Dict[str, Union[int, str]]]: ...
def ticket_keys(ctx: ssl.SSLContext,
                ring: Union[TicketKeyRing, str, "os.PathLike[str]"], *,
                session_id_context: Optional[Union[bytes, str]] = ...,
                auto_rotate: bool = ...) -> TicketKeyRing: ...
