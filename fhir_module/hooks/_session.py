"""The one place the service's outbound HTTP sessions (FHIR reads, key sets) are made.

`requests` trusts its environment by default, and that means two things: the proxy
and CA settings a deployer sets for egress, and credentials from `~/.netrc` (or
$NETRC) added to any request without an Authorization of its own, or put in place
of the one it has. The second must never happen here: the only credential a FHIR
read carries is the request's fhirAuthorization bearer token. So the environment's
trust is off, and what a hospital deployment expects of it is taken back explicitly:

- HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY (either case), as requests reads
  them; a loopback host is always reached directly (a proxy's loopback is not ours);
- REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, as the certificates to trust.

A socket time-out bounds each socket read, not an answer: a server can send its
status line and headers a byte at a time. Within `deadline(at)`, this thread's
requests on an OutboundSession stop waiting for an answer's head at `at`: a timer
shuts the connection's socket down, which ends the blocked read at once. (The
body is the reader's to bound; `_fhir` shortens the socket time-out as it goes.)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse

from ._urls import is_loopback_host

if TYPE_CHECKING:  # the stubs' name for what merge_environment_settings returns
    from requests.models import PreparedRequest
    from requests.sessions import _Settings

_local = threading.local()


class _NoUrlInHeaderWarnings(logging.Filter):
    """urllib3 names the URL (a FHIR read's holds the patient id), with a traceback, when an
    answer's headers do not parse, as when a server or the deadline cuts them short."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Failed to parse headers"):
            record.msg, record.args = "an answer's headers did not parse", ()
            record.exc_info, record.exc_text = None, None
        return True


_NO_URLS = _NoUrlInHeaderWarnings()


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Within: this thread's requests on an OutboundSession send their body and wait for an
    answer's status and headers until `at` (a `time.monotonic()` value) at the latest."""
    _local.at = at
    try:
        yield
    finally:
        _local.at = None


@contextmanager
def _watchdog(sock: Any) -> Iterator[None]:
    at = getattr(_local, "at", None)
    if at is None or not isinstance(sock, socket.socket):
        yield
        return
    timer = threading.Timer(max(at - time.monotonic(), 0.0), _shut, (sock,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS: the blocked read sees the end at once.
    with suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched(HTTPConnection):
    """A connection whose sends and response reads are watched against the call's deadline."""

    def send(self, data: Any) -> None:
        # The request body too: a server that reads it slowly holds no send past the deadline.
        if self.sock is None and self.auto_open:
            self.connect()
        with _watchdog(self.sock):
            super().send(data)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3 has it
        with _watchdog(self.sock):
            return super().getresponse()


class _Connection(_Watched):
    pass


class _TlsConnection(_Watched, HTTPSConnection):
    pass


class _Adapter(HTTPAdapter):
    """requests' adapter, its pools (direct or through a proxy) making watched connections."""

    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
        verify: bool | str | None,
        proxies: Any = None,
        cert: Any = None,
    ) -> ConnectionPool:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        if isinstance(pool, HTTPSConnectionPool):
            pool.ConnectionCls = _TlsConnection
        elif isinstance(pool, HTTPConnectionPool):
            pool.ConnectionCls = _Connection
        return pool


class OutboundSession(requests.Session):
    """A requests Session with the environment's proxies and CA bundle, and never `.netrc`."""

    def __init__(self) -> None:
        super().__init__()
        # Off, requests neither reads .netrc for a request nor after a redirect.
        self.trust_env = False
        self.mount("https://", _Adapter())
        self.mount("http://", _Adapter())
        logging.getLogger("urllib3.connection").addFilter(_NO_URLS)

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: MutableMapping[str, str] | None,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        text = url.decode("ascii", "replace") if isinstance(url, bytes) else url or ""
        merged: dict[str, str] = dict(proxies or {})
        if not is_loopback_host(urlsplit(text).hostname):
            found = get_environ_proxies(text, no_proxy=merged.get("no_proxy"))
            for scheme, proxy in found.items():
                merged.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            )
        return super().merge_environment_settings(text, merged, stream, verify, cert)


def outbound_session() -> requests.Session:
    """A new Session for the service's reads from FHIR servers and key set URLs."""
    return OutboundSession()
