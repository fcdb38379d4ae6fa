"""Reading what prefetch lacks from the EHR's FHIR server, with `requests`.

Every failure becomes FetchFailed (HTTP 412) naming the prefetch key. Nothing
here logs a URL (it holds the patient id) or a header (it holds the token).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from ._outcome import FetchFailed
from ._urls import BaseUrl, UrlError

log = logging.getLogger("fhir_module.service")

#: read results that mean "no such resource", not "the server failed"
ABSENT = (404, 410)
#: answers whose Location the client follows itself, only to a URL under the base
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


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
    timeout: float = 10.0
    max_pages: int = 10

    def read(self, key: str, relative: str) -> dict[str, Any] | None:
        """A FHIR read; None when the server says the resource does not exist."""
        return self._get(key, self._url(key, relative), absent_ok=True)

    def search(self, key: str, relative: str) -> Iterator[dict[str, Any]]:
        """The Bundle pages of a FHIR search, following `next` links up to the page cap."""
        page = self._get(key, self._url(key, relative), absent_ok=False)
        if page is None or page.get("resourceType") != "Bundle":
            raise FetchFailed(key, "the FHIR server did not answer with a Bundle")
        yield page
        yield from self.more_pages(key, page, pages_read=1)

    def more_pages(
        self, key: str, page: Mapping[str, Any], pages_read: int
    ) -> Iterator[dict[str, Any]]:
        """The pages after `page`, so that at most `max_pages` pages are read in all."""
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
            pages_read += 1
            page = nxt
            yield page

    def _url(self, key: str, relative: str) -> str:
        try:
            return self.base.join(relative)
        except UrlError:
            raise FetchFailed(key, "its URL would not lie under the FHIR server's base") from None

    def _get(self, key: str, url: str, *, absent_ok: bool) -> dict[str, Any] | None:
        headers = {"Accept": "application/fhir+json, application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for _ in range(MAX_REDIRECTS + 1):
            try:
                # Redirects are followed here, each target checked like any other URL.
                response = self.session.get(
                    url, headers=headers, timeout=self.timeout, allow_redirects=False
                )
            except requests.Timeout:
                raise FetchFailed(
                    key, "the FHIR server did not answer in time", "timeout"
                ) from None
            except requests.RequestException as exc:
                log.info("prefetch %r: %s", key, exc.__class__.__name__)
                raise FetchFailed(key, "the FHIR server could not be reached") from None
            if response.status_code not in REDIRECTS:
                return self._body(key, response, absent_ok=absent_ok)
            url = self._redirect_target(key, url, response)
            response.close()
        raise FetchFailed(key, f"the FHIR server redirected more than {MAX_REDIRECTS} times")

    def _redirect_target(self, key: str, url: str, response: requests.Response) -> str:
        location = response.headers.get("Location", "")
        try:
            if not location.isascii() or not location.isprintable():
                raise UrlError("not a plain URL")
            return self.base.inside(urljoin(url, location))
        except UrlError:
            response.close()
            raise FetchFailed(
                key, "the FHIR server redirected outside its base URL", "security"
            ) from None

    @staticmethod
    def _body(key: str, response: requests.Response, *, absent_ok: bool) -> dict[str, Any] | None:
        status = response.status_code
        if absent_ok and status in ABSENT:
            return None
        if status in (401, 403):
            raise FetchFailed(key, f"the FHIR server refused access ({status})", "security")
        if status != 200:
            raise FetchFailed(key, f"the FHIR server answered {status}")
        try:
            body = response.json()
        except ValueError:
            raise FetchFailed(key, "the FHIR server's answer is not JSON") from None
        if not isinstance(body, dict):
            raise FetchFailed(key, "the FHIR server's answer is not a FHIR resource")
        return body


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
