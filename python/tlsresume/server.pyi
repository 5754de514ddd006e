import os
import ssl
from typing import Dict, Optional, Union

from . import SessionStore

def session_cache(ctx: ssl.SSLContext,
                  store: Union[SessionStore, str, bytes, "os.PathLike[str]", None],
                  *, scope: str = ...) -> None: ...
def flush(ctx: ssl.SSLContext, timeout: Optional[float] = ...) -> bool: ...
def session_cache_stats(
        ctx: ssl.SSLContext) -> Optional[Dict[str, Union[int, str]]]: ...
