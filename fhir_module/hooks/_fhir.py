"""Reading what prefetch lacks from the EHR's FHIR server, with `requests`.

Every failure becomes FetchFailed (HTTP 412) naming the prefetch key. Nothing
here logs a URL (it holds the patient id) or a header (it holds the token).

A FHIR server is trusted with nothing: each answer is read streamed, up to a byte cap,
and parsed only within it, with the nesting depth request bodies get; each read
(connecting, redirects, the whole answer) has one deadline, not only a time-out per
socket read; and the entries collected over a search's pages are capped.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any
from urllib.parse import urljoin

import requests
from urllib3 import Timeout
from urllib3.exceptions import HTTPError, ReadTimeoutError

from ._limits import DEFAULT_MAX_DEPTH, check_depth
from ._outcome import FetchFailed, RequestProblem
from ._session import deadline as read_deadline
from ._urls import BaseUrl, UrlError

log = logging.getLogger("fhir_module.service")

#: read results that mean "no such resource", not "the server failed"
ABSENT = (404, 410)
#: answers whose Location the client follows itself, only to a URL under the base
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
#: bytes asked of the connection at a time while an answer is read
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class FhirClient:
    """One EHR FHIR server, as this hook call may use it.

    Every request URL (reads, searches, `next` pages, redirects) is rebuilt from checked
    parts and must lie under `base` (`BaseUrl.inside`) before anything is sent: the
    bearer token never leaves the base URL the allowlist said yes to.
    """

    base: BaseUrl
    session: requests.Session
    token: str | None = field(default=None, repr=False)
    #: seconds for one read in all (connecting, redirects, the whole answer)
    timeout: float = 10.0
    max_pages: int = 10
    #: the most bytes one answer may have, decoded
    max_bytes: int = 5 * 1024 * 1024
    #: the most Bundle entries one search may gather over its pages
    max_entries: int = 1000

    def read(self, key: str, relative: str) -> dict[str, Any] | None:
        """A FHIR read; None when the server says the resource does not exist."""
        return self._get(key, self._url(key, relative), absent_ok=True)

    def search(self, key: str, relative: str) -> Iterator[dict[str, Any]]:
        """The Bundle pages of a FHIR search, following `next` links up to the page and entry
        caps."""
        page = self._get(key, self._url(key, relative), absent_ok=False)
        if page is None or page.get("resourceType") != "Bundle":
            raise FetchFailed(key, "the FHIR server did not answer with a Bundle")
        yield page
        yield from self.more_pages(key, page, pages_read=1)

    def more_pages(
        self, key: str, page: Mapping[str, Any], pages_read: int
    ) -> Iterator[dict[str, Any]]:
        """The pages after `page`, so that at most `max_pages` pages are read in all and
        they hold at most `max_entries` entries with `page`'s (else FetchFailed)."""
        entries = self._count(key, page, 0)
        while (url := next_link(page)) is not None:
            if pages_read >= self.max_pages:
                # A cap keeps one call bounded; the first pages hold the newest data.
                log.warning("prefetch %r: stopped after %d pages", key, pages_read)
                return
            try:
                checked = self.base.inside(url)
            except UrlError:
                # The bearer token is for this base URL only; never send it elsewhere.
                raise FetchFailed(key, "a next page lies outside the FHIR server") from None
            nxt = self._get(key, checked, absent_ok=False)
            if nxt is None or nxt.get("resourceType") != "Bundle":
                raise FetchFailed(key, "a next page is not a Bundle")
            entries = self._count(key, nxt, entries)
            pages_read += 1
            page = nxt
            yield page

    def _count(self, key: str, page: Mapping[str, Any], before: int) -> int:
        """`before` plus the page's entries; FetchFailed past `max_entries`.

        A search cut short could hide the record a rule needs, so the key is not had.
        """
        entry = page.get("entry")
        total = before + (len(entry) if isinstance(entry, list) else 0)
        if total > self.max_entries:
            raise FetchFailed(
                key,
                f"the FHIR server's pages hold more than {self.max_entries} entries",
                "too-costly",
            )
        return total

    def _url(self, key: str, relative: str) -> str:
        try:
            return self.base.join(relative)
        except UrlError:
            raise FetchFailed(key, "its URL would not lie under the FHIR server's base") from None

    def _get(self, key: str, url: str, *, absent_ok: bool) -> dict[str, Any] | None:
        headers = {"Accept": "application/fhir+json, application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            try:
                # Redirects are followed here, each target checked like any other URL.
                # total: connecting and the answer's headers share the time left (requests
                # takes urllib3's Timeout; its stubs know only floats and tuples).
                with read_deadline(deadline):
                    response = self.session.get(
                        url,
                        headers=headers,
                        timeout=Timeout(total=_left(key, deadline)),  # type: ignore[arg-type]
                        allow_redirects=False,
                        stream=True,
                    )
            except requests.RequestException as exc:
                if isinstance(exc, requests.Timeout) or time.monotonic() >= deadline:
                    raise _late(key) from None
                log.info("prefetch %r: %s", key, exc.__class__.__name__)
                raise FetchFailed(key, "the FHIR server could not be reached") from None
            with response:
                # Past the deadline the watchdog may have cut the head short: not an answer.
                _left(key, deadline)
                if response.status_code not in REDIRECTS:
                    return self._body(key, response, deadline, absent_ok=absent_ok)
                url = self._redirect_target(key, url, response)
        raise FetchFailed(key, f"the FHIR server redirected more than {MAX_REDIRECTS} times")

    def _redirect_target(self, key: str, url: str, response: requests.Response) -> str:
        location = response.headers.get("Location", "")
        try:
            if not location.isascii() or not location.isprintable():
                raise UrlError("not a plain URL")
            return self.base.inside(urljoin(url, location))
        except UrlError:
            raise FetchFailed(
                key, "the FHIR server redirected outside its base URL", "security"
            ) from None

    def _body(
        self, key: str, response: requests.Response, deadline: float, *, absent_ok: bool
    ) -> dict[str, Any] | None:
        status = response.status_code
        if absent_ok and status in ABSENT:
            return None
        if status in (401, 403):
            raise FetchFailed(key, f"the FHIR server refused access ({status})", "security")
        if status != 200:
            raise FetchFailed(key, f"the FHIR server answered {status}")
        text = self._read(key, response, deadline)
        try:
            body = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise FetchFailed(key, "the FHIR server's answer is not JSON") from None
        try:
            check_depth(body)
        except RequestProblem:
            raise FetchFailed(
                key,
                f"the FHIR server's answer is nested deeper than {DEFAULT_MAX_DEPTH} levels",
                "too-costly",
            ) from None
        if not isinstance(body, dict):
            raise FetchFailed(key, "the FHIR server's answer is not a FHIR resource")
        return body

    def _read(self, key: str, response: requests.Response, deadline: float) -> bytearray:
        """The answer's bytes (decoded, as JSON is read), at most `max_bytes` of them, by the
        deadline; else FetchFailed, having read no more than a chunk past the cap."""
        too_large = FetchFailed(
            key, f"the FHIR server's answer is larger than {self.max_bytes} bytes", "too-costly"
        )
        declared = response.headers.get("Content-Length", "")
        if (
            declared.isdigit()
            and int(declared) > self.max_bytes
            and not response.headers.get("Content-Encoding")
        ):
            raise too_large
        body = bytearray()
        try:
            # read1: what one socket read brings (decoded), so the deadline is looked at
            # between socket reads; a 64 KiB read() would wait for all of its 64 KiB.
            while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):
                body += chunk
                if len(body) > self.max_bytes:
                    raise too_large
                _shorten_socket_timeout(response, _left(key, deadline))
        except (HTTPError, HTTPException, OSError) as exc:
            if isinstance(exc, ReadTimeoutError | TimeoutError) or time.monotonic() >= deadline:
                raise _late(key) from None
            log.info("prefetch %r: %s while reading the answer", key, exc.__class__.__name__)
            raise FetchFailed(key, "the FHIR server's answer broke off") from None
        return body


def _left(key: str, deadline: float) -> float:
    """Seconds left until `deadline`; FetchFailed (timeout) when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _late(key)
    return left


def _late(key: str) -> FetchFailed:
    return FetchFailed(key, "the FHIR server did not answer in time", "timeout")


def _shorten_socket_timeout(response: requests.Response, left: float) -> None:
    """Let the connection's next socket read wait no longer than the time left, so the
    deadline holds even for a server that sends a byte just before each time-out."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(left)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The URL of a Bundle's `next` link, if any."""
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None


def bundle_resources(bundle: Mapping[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """The entries of a search Bundle that are of `resource_type`.

    OperationOutcome entries (search.mode 'outcome') are warnings about the search,
    and included resources of other types are not what the key asked for.
    """
    found = []
    for entry in bundle.get("entry") or []:
        if not isinstance(entry, Mapping):
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
            found.append(resource)
    return found
