"""The HTTP/1.1 protocol uvicorn runs, with Nagle's algorithm off on every connection.

With several workers uvicorn binds the listening socket itself (protocol number
0), and asyncio then leaves TCP_NODELAY unset on the accepted connections: a
response written in two parts waits for the client's delayed ACK, about 40 ms
a request on a kept-alive connection. Setting it here makes every worker count
answer as fast as one.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import suppress

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, setting TCP_NODELAY on the connection's socket."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # The connection may already be gone; it then fails as it would have anyway.
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
