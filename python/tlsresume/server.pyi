import ssl
from os import PathLike
from typing import List, Optional, Union

from . import TicketKeyRing as TicketKeyRing

__all__: List[str]

def ticket_keys(ctx: ssl.SSLContext,
                ring: Union[TicketKeyRing, str, PathLike[str]], *,
                session_id_context: Optional[Union[bytes, str]] = ...,
                auto_rotate: bool = ...) -> TicketKeyRing: ...
