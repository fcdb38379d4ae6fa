"""The door of the service, an ASGI middleware: who may call, and how much they may send.

With trusted clients configured, every HTTP call must carry a valid CDS Hooks
JWT (see `_auth`) whose `aud` is the URL called under the configured public base
URL (never the Host a caller names), else a bare 401. Without them the service
is open, and then only to callers on this machine's loopback that name it by a
loopback Host (a web page whose name was rebound to 127.0.0.1 names its own).
The body is read here, up to `max_body_bytes` and within `body_timeout`
seconds: a larger one gets 413, a slower one 408, before any handler sees it.
The authenticated client is left in the request state as `cds_client`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    ANSWERS,
    BodyTimeout,
    FhirModuleError,
    ReplayCacheFull,
    StoreUnavailable,
    TooLarge,
    Unauthorized,
    WrongHost,
    answer_for,
)
from ..hooks import is_loopback_host, operation_outcome
from ._auth import Authenticator
from ._offload import offload

log = logging.getLogger("fhir_module.service.auth")


async def _send_401(send: Send, exc: Unauthorized | ReplayCacheFull | None = None) -> None:
    # Bare on purpose: nothing in it tells a caller which check failed. The status is the
    # table's, for the error or (a refusal with none) for Unauthorized.
    answer = answer_for(exc) if exc is not None else ANSWERS[Unauthorized]
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [(b"www-authenticate", b"Bearer"), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _send_outcome(
    send: Send, exc: FhirModuleError, says: str | None = None, *, close: bool = True
) -> None:
    """The OperationOutcome of `exc` (or of `says` in place of its message), with the
    status, issue code and Retry-After of its row of the table; `close`: the connection is
    closed after it (the body may be unread)."""
    answer = answer_for(exc)
    body = json.dumps(operation_outcome(answer.code, says or str(exc))).encode()
    retry = [] if answer.retry_after is None else [(b"retry-after", b"%d" % answer.retry_after)]
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", b"application/fhir+json"),
                (b"content-length", str(len(body)).encode()),
                *retry,
                *([(b"connection", b"close")] if close else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


#: the readiness check a load balancer calls: no authentication, no data in it
HEALTH_PATH = "/health"


class Guard:
    """Authentication and the body size limit for every HTTP call."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: Authenticator | None,
        max_body_bytes: int,
        public_base_url: str | None = None,
        body_timeout: float = 10.0,
    ) -> None:
        if auth is not None and public_base_url is None:
            raise ValueError("trusted clients need the service's public base URL")
        self.app = app
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.public_base_url = public_base_url
        self.body_timeout = body_timeout

    def called_url(self, scope: Scope) -> str:
        """The URL the caller called, as the JWT's `aud` must name it (no query): under the
        configured public base URL, whatever Host or X-Forwarded-* the request claims."""
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        return f"{self.public_base_url}{path[len(root) :] if path.startswith(root) else path}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        if scope.get("path") == HEALTH_PATH and scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if self.auth is None:
            peer = scope.get("client")
            if not (peer and is_loopback_host(peer[0])):
                log.warning("refused: open mode serves loopback callers only")
                await _send_401(send)
                return
            if not is_loopback_host(_host_name(scope)):
                # DNS rebinding: a page of another site, its name now resolving to 127.0.0.1.
                log.warning("refused: open mode answers loopback Host names only")
                await _send_outcome(
                    send, WrongHost("Host: open mode answers only to a loopback name")
                )
                return
            state["cds_client"] = None
        else:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization")
            authorization = raw.decode("latin-1") if raw is not None else None
            url = self.called_url(scope)
            try:
                # In a thread: the check may fetch a key set and writes the replay cache.
                client = await offload(self.auth.verify, authorization, url)
                state["cds_client"] = client
            except Unauthorized as exc:
                log.warning("authentication failed: %s", exc.reason)
                await _send_401(send, exc)
                return
            except ReplayCacheFull as exc:
                log.warning("authentication failed: replay-cache")
                await _send_401(send, exc)
                return
            except StoreUnavailable as exc:
                log.error("replay cache not writable: %s", exc.cause)
                await _send_outcome(
                    send, exc, "the service cannot record this call now; try again", close=False
                )
                return
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(scope, receive)
        except TimeoutError:
            await _send_outcome(
                send, BodyTimeout(f"request: the body took over {self.body_timeout:g} s")
            )
            return
        if body is None:
            await _send_outcome(
                send, TooLarge(f"request: the body is larger than {self.max_body_bytes} bytes")
            )
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it exceeds the limit (read no further then)."""
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _host_name(scope: Scope) -> str | None:
    """The name or address the request's Host header gives, without its port."""
    for name, value in scope.get("headers") or []:
        if name == b"host":
            host: str = value.decode("latin-1").strip()
            if host.startswith("["):
                return host[: host.find("]") + 1] if "]" in host else None
            return host.rpartition(":")[0] if ":" in host else host
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then whatever the server sends next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
