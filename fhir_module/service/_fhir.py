"""Reading what prefetch lacks from the EHR's FHIR server, with `requests`.

Every failure becomes FetchFailed (HTTP 412) naming the prefetch key. Nothing
here logs a URL (it holds the patient id) or a header (it holds the token).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from ._outcome import FetchFailed

log = logging.getLogger("fhir_module.service")

#: read results that mean "no such resource", not "the server failed"
ABSENT = (404, 410)


@dataclass(frozen=True)
class FhirClient:
    """One EHR FHIR server, as this hook call may use it."""

    base: str
    session: requests.Session
    token: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    max_pages: int = 10

    def read(self, key: str, relative: str) -> dict[str, Any] | None:
        """A FHIR read; None when the server says the resource does not exist."""
        return self._get(key, self._url(relative), absent_ok=True)

    def search(self, key: str, relative: str) -> Iterator[dict[str, Any]]:
        """The Bundle pages of a FHIR search, following `next` links up to the page cap."""
        page = self._get(key, self._url(relative), absent_ok=False)
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
            if not self._same_server(url):
                # The bearer token is for this server only; never send it elsewhere.
                raise FetchFailed(key, "a next page lies outside the FHIR server")
            nxt = self._get(key, url, absent_ok=False)
            if nxt is None or nxt.get("resourceType") != "Bundle":
                raise FetchFailed(key, "a next page is not a Bundle")
            pages_read += 1
            page = nxt
            yield page

    def _url(self, relative: str) -> str:
        return f"{self.base.rstrip('/')}/{relative.lstrip('/')}"

    def _same_server(self, url: str) -> bool:
        base, other = urlsplit(self.base), urlsplit(url)
        return (other.scheme, other.netloc) == (base.scheme, base.netloc) and other.path.startswith(
            base.path.rstrip("/")
        )

    def _get(self, key: str, url: str, *, absent_ok: bool) -> dict[str, Any] | None:
        headers = {"Accept": "application/fhir+json, application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            # requests drops the Authorization header when a redirect leaves the host
            response = self.session.get(url, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            raise FetchFailed(key, "the FHIR server did not answer in time", "timeout") from None
        except requests.RequestException as exc:
            log.info("prefetch %r: %s", key, exc.__class__.__name__)
            raise FetchFailed(key, "the FHIR server could not be reached") from None
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
