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
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from ._urls import is_loopback_host

if TYPE_CHECKING:  # the stubs' name for what merge_environment_settings returns
    from requests.sessions import _Settings


class OutboundSession(requests.Session):
    """A requests Session with the environment's proxies and CA bundle, and never `.netrc`."""

    def __init__(self) -> None:
        super().__init__()
        # Off, requests neither reads .netrc for a request nor after a redirect.
        self.trust_env = False

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
