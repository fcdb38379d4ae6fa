"""Sending the knowledge Bundle to a FHIR server.

The push succeeds only when the server answers 2xx with a transaction-response
Bundle holding one successful (2xx) entry per entry sent; anything else is a
FhirServerError. The Bundle is sent once: a redirect is a failure, never followed
(a transaction must not be applied twice, nor its token sent elsewhere). The
whole exchange has one time limit and the answer a size cap, so a server that
trickles or floods cannot hold the command. Text from the server is for printing
only through `printable`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from .errors import FhirServerError
from .hooks import deadline, outbound_session

FHIR_JSON = "application/fhir+json"
#: seconds for the whole exchange: connecting, sending the Bundle, reading the answer
DEFAULT_TIMEOUT = 30.0
#: the largest answer read; a transaction-response for the module's Bundle is some kilobytes
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: the longest piece of server text printed
_MAX_TEXT = 300


@dataclass(frozen=True)
class EntryResult:
    """What the server did with one entry: its status line, location and OperationOutcome."""

    status: str
    location: str
    outcome: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the status is a 2xx (FHIR: '201 Created', or just '201')."""
        code = self.status.strip()[:3]
        return len(code) == 3 and code.isdigit() and code[0] == "2"


class EntriesFailed(FhirServerError):
    """The server answered the transaction, but not every entry succeeded."""

    def __init__(self, message: str, results: list[EntryResult]) -> None:
        super().__init__(message)
        self.results = results


def printable(value: Any, limit: int = _MAX_TEXT) -> str:
    """Server text made safe to print: control and other non-printing characters escaped
    (no terminal escape sequences, no forged lines), cut to `limit` characters."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return text + ("..." if cut else "")


def display_url(url: str) -> str:
    """A URL fit to print: without user name, password, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the FHIR server"
    if ":" in host:
        host = f"[{host}]"
    return printable(urlunsplit((parts.scheme, host + port, parts.path, "", "")))


def _texts(value: Any) -> list[str]:
    return [printable(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []


def outcome_lines(outcome: Any) -> list[str]:
    """One line per OperationOutcome issue: severity, code, diagnostics, expression."""
    if not isinstance(outcome, Mapping) or outcome.get("resourceType") != "OperationOutcome":
        return []
    lines = []
    issues = outcome.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, Mapping):
            continue
        details = issue.get("details")
        text = issue.get("diagnostics") or (
            details.get("text") if isinstance(details, Mapping) else None
        )
        where = ", ".join(_texts(issue.get("expression")) or _texts(issue.get("location")))
        severity = printable(issue.get("severity") or "error", 40)
        code = printable(issue.get("code") or "unknown", 40)
        line = f"{severity} {code}: {printable(text) if text else ''}".rstrip(": ")
        lines.append(f"{line} (at {where})" if where else line)
    return lines


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    body: bytes


def _post(
    http: requests.Session,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    limit: int,
) -> _Answer:
    """The server's answer, within `timeout` seconds in all (not per read).

    A server that sends a byte now and then never trips a per-read time-out: the answer's
    head is waited for under hooks.deadline (its watchdog cuts the connection at the
    deadline), and each read of the body waits no longer than the time left.
    """
    at = time.monotonic() + timeout
    late = FhirServerError(f"the FHIR server did not answer within {timeout:g} s")
    try:
        with deadline(at):
            response = http.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
    except requests.Timeout:
        raise late from None
    except (requests.RequestException, OSError) as exc:
        if time.monotonic() >= at:
            raise late from None  # the watchdog cut the head short
        raise FhirServerError(f"cannot reach the FHIR server ({type(exc).__name__})") from None
    with response:
        if time.monotonic() >= at:
            raise late
        return _Answer(
            response.status_code, response.reason or "", _read(response, at, limit, late)
        )


def _read(response: requests.Response, at: float, limit: int, late: FhirServerError) -> bytes:
    """The answer's bytes, at most `limit` of them, by `at`; FhirServerError otherwise."""
    too_large = FhirServerError(f"the FHIR server's answer is larger than {limit} bytes")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    try:
        # read1: what one socket read brings, so the deadline is looked at between reads
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            body += chunk
            if len(body) > limit:
                raise too_large
            left = at - time.monotonic()
            if left <= 0:
                raise late
            _shorten_socket_timeout(response, left)
    except (HTTPError, HTTPException, OSError, requests.RequestException) as exc:
        if isinstance(exc, ReadTimeoutError | TimeoutError) or time.monotonic() >= at:
            raise late from None
        raise FhirServerError(f"cannot reach the FHIR server ({type(exc).__name__})") from None
    return bytes(body)


def _shorten_socket_timeout(response: requests.Response, left: float) -> None:
    """Let the connection's next socket read wait no longer than the time left."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(left)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _results(answer: Any, sent: int) -> list[EntryResult]:
    """The entries of a transaction-response Bundle; FhirServerError if it is none."""
    if not isinstance(answer, Mapping) or answer.get("resourceType") != "Bundle":
        raise FhirServerError(
            "the FHIR server's answer is not a transaction-response Bundle",
            outcome=dict(answer) if isinstance(answer, Mapping) else None,
        )
    if answer.get("type") != "transaction-response":
        raise FhirServerError(
            f"the FHIR server answered a Bundle of type {printable(answer.get('type'), 40)}, "
            f"not a transaction-response"
        )
    entries = answer.get("entry")
    entries = entries if isinstance(entries, list) else []
    results = []
    for entry in entries:
        response = entry.get("response") if isinstance(entry, Mapping) else None
        response = response if isinstance(response, Mapping) else {}
        outcome = response.get("outcome")
        results.append(
            EntryResult(
                printable(response.get("status") or "", 80),
                printable(response.get("location") or ""),
                outcome if isinstance(outcome, Mapping) else None,
            )
        )
    if len(results) != sent:
        raise EntriesFailed(
            f"the FHIR server answered {len(results)} entries for the {sent} sent", results
        )
    failed = sum(not r.ok for r in results)
    if failed:
        raise EntriesFailed(f"{failed} of {sent} entries failed on the FHIR server", results)
    return results


def push_bundle(
    bundle: Mapping[str, Any],
    server: str,
    token: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    session: requests.Session | None = None,
) -> list[EntryResult]:
    """POST a transaction Bundle to a FHIR server's base URL; the result per entry.

    Raises FhirServerError unless the server answers 2xx with a transaction-response
    Bundle of one 2xx entry per entry sent (EntriesFailed, with the results, when the
    entries are the problem), within `timeout` seconds for the whole exchange.
    """
    if "@" in urlsplit(server).netloc:
        # requests would send them as Basic credentials in place of the bearer token.
        raise FhirServerError("the server URL must not hold a user name or password")
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(bundle).encode()
    # The service's outbound session: never .netrc (its credentials would replace the
    # token); the environment's proxies and CA bundle apply.
    http = session or outbound_session()
    try:
        answer = _post(http, server.rstrip("/"), body, headers, timeout, max_response_bytes)
    finally:
        if session is None:
            http.close()
    status, reason = answer.status, printable(answer.reason, 80)
    document = _json(answer.body)
    if 300 <= status < 400:
        raise FhirServerError(
            f"the FHIR server answered {status} {reason}, a redirect: the Bundle is not sent "
            f"again elsewhere; give the server's own base URL",
            status=status,
        )
    if not 200 <= status < 300:
        outcome = document if isinstance(document, Mapping) else None
        raise FhirServerError(
            f"the FHIR server answered {status} {reason}",
            status=status,
            outcome=dict(outcome) if outcome else None,
        )
    if document is None:
        raise FhirServerError("the FHIR server's answer is not JSON")
    entries = bundle.get("entry")
    return _results(document, len(entries) if isinstance(entries, list) else 0)
