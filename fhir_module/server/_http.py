"""The HTTP/1.1 protocol uvicorn runs: Nagle off, slow and idle connections closed, a cap
on open connections, and accept errors logged at most once a second.

With several workers uvicorn binds the listening socket itself (protocol number
0), and asyncio then leaves TCP_NODELAY unset on the accepted connections: a
response written in two parts waits for the client's delayed ACK, about 40 ms
a request on a kept-alive connection. Setting it here makes every worker count
answer as fast as one.

uvicorn closes a kept-alive connection after `timeout_keep_alive` seconds without
a byte, but any byte restarts that clock, and a new connection has none: a client
sending its headers a byte at a time holds a connection for ever. Here a
connection must send a request's headers within `header_timeout` seconds of
opening or of its last response, else it is closed. At `max_connections` open
connections, a new one closes the one that has waited longest for its next
request (none is busy with a request), else is closed itself: idle connections
cannot lock valid callers out, and the service stays clear of its file limit.

When accept() fails for want of resources (EMFILE: too many open files), asyncio
logs a traceback per attempt, up to the listen backlog each time the socket is
ready; `quiet_accept_errors` makes that one line a second.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ._settings import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Settings

log = logging.getLogger("fhir_module.service")

#: the message asyncio gives the loop's exception handler when accept() runs out of resources
ACCEPT_OUT_OF_RESOURCES = "socket.accept() out of system resource"


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a connection may take to send a request's headers; how many may be open."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


_limits = ConnectionLimits()
#: file descriptors kept for what is not a client connection: the database, FHIR and JWKS
#: reads from the thread pool, the listening sockets, logs
RESERVED_FILES = 256


def configure_connections(settings: Settings) -> int:
    """Set the limits every connection of this process gets (uvicorn builds the protocol
    itself, one per connection, so they are the process's), raising the process's open
    file limit to fit `max_connections` if it may; the cap in force, lower than asked
    when the file limit cannot be raised that far."""
    global _limits
    cap = _fit_file_limit(settings.max_connections)
    _limits = ConnectionLimits(settings.header_timeout, cap)
    return cap


def _fit_file_limit(connections: int) -> int:
    try:
        import resource
    except ImportError:  # not on POSIX: no limit to fit
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(1, min(connections, soft - RESERVED_FILES))


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with TCP_NODELAY, a header deadline and a connection cap."""

    _deadline: asyncio.TimerHandle | None = None
    _waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # The connection may already be gone; it then fails as it would have anyway.
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._admit(transport)

    def _admit(self, transport: asyncio.Transport) -> None:
        """Close this new connection if the cap is reached and no open one can make room;
        else start its clock for the first request's headers."""
        if len(self.connections) > _limits.max_connections and not self._make_room():
            transport.close()
            return
        self._await_request()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._deadline is not None and not self._waiting():
            # The headers are in; the body's time is the Guard's to keep.
            self._deadline.cancel()
            self._deadline = None

    def on_response_complete(self) -> None:
        done = self.cycle
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is done:
            self._await_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        """Whether the connection is between requests (no request in hand)."""
        return self.cycle is None or self.cycle.response_complete

    def _await_request(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._waiting_since = self.loop.time()
        self._deadline = self.loop.call_later(_limits.header_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._deadline = None
        if self._waiting() and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> bool:
        """Close the open connection that has waited longest for a request, if any waits."""
        idle = [
            c
            for c in self.connections
            if isinstance(c, NoDelayH11Protocol)
            and c is not self
            and c._waiting()
            and not c.transport.is_closing()
        ]
        if not idle:
            return False
        min(idle, key=lambda c: c._waiting_since).transport.close()
        return True


def quiet_accept_errors(
    loop: asyncio.AbstractEventLoop,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Make `loop` log accept() resource errors as one line at most every `interval` seconds
    (with how many were left out), and hand every other error to its previous handler."""
    previous = loop.get_exception_handler()
    last = [-float("inf")]
    left_out = [0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_OUT_OF_RESOURCES:
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = clock()
        if now - last[0] < interval:
            left_out[0] += 1
            return
        exc = context.get("exception")
        code = getattr(exc, "errno", None)
        name = errno.errorcode.get(code, "error") if isinstance(code, int) else "error"
        log.error(
            "cannot accept connections: %s (%d more such errors not logged)", name, left_out[0]
        )
        last[0], left_out[0] = now, 0

    loop.set_exception_handler(handler)
