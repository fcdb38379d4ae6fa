"""FHIR base URLs, read one way only: the way the request will be sent.

A URL that one parser reads as host A and another as host B (a backslash before
`@`, userinfo, whitespace, a dot segment the HTTP library or the server removes, `..;`
among them) could pass an
allowlist for A and be sent to B with the bearer token. So a base URL is parsed
here, strictly, into scheme, host, port and path; anything ambiguous is refused;
every request URL is rebuilt from those checked parts and must lie under the
base (same scheme, host and port; the path equal to the base path or below it
at a `/` boundary, so `/fhirx` is not under `/fhir`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

from ..errors import FhirModuleError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"(?i)(https?)://")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
#: RFC 3986 pchar without pct-encoded (checked apart) plus "/"
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` (a name or an address) is this machine's loopback."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class UrlError(FhirModuleError, ValueError):
    """A URL that cannot be used as (or under) a FHIR base URL; says why, never echoes it."""


def _host(text: str) -> str:
    host = text.lower()
    if host.startswith("["):
        if not host.endswith("]") or "%" in host:  # a zone id names an interface, not a host
            raise UrlError("has an invalid host")
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise UrlError("has an invalid host") from None
        return f"[{address.compressed}]"
    if not _NAME.fullmatch(host):
        raise UrlError("has an invalid host (letters, digits, '-' and '.' only)")
    last = host.rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):
        # Resolvers read 127.1, 2130706433 and 0x7f.1 as addresses: only the plain
        # dotted quad is one spelling of one address.
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise UrlError("has an invalid IPv4 address") from None
    return host


def _path(text: str) -> str:
    if not _PATH.fullmatch(text) or _PCT.search(text):
        raise UrlError("has characters a URL path may not hold")
    for segment in text.split("/"):
        plain = unquote(segment)
        # Servlet containers drop a segment's parameters (after ';') before resolving dot
        # segments: `..;x` (or `%2e%2e;x`) climbs out of the base there.
        dots = plain.split(";", 1)[0] in (".", "..")
        if dots or any(c in plain for c in "/\\") or not plain.isprintable():
            # HTTP libraries and servers resolve or decode these: the path sent would differ.
            raise UrlError("has a dot segment or an encoded '/', '\\' or control character")
    return text


@dataclass(frozen=True)
class BaseUrl:
    """A checked FHIR base URL: lower-case scheme and host, a port, a path without a final `/`."""

    scheme: str
    host: str
    port: int
    path: str

    def __str__(self) -> str:
        port = "" if _DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}{self.path}"

    @property
    def is_loopback(self) -> bool:
        """Whether the host is this machine's loopback (`localhost` or a loopback address)."""
        return is_loopback_host(self.host)

    def join(self, relative: str) -> str:
        """The URL of `relative` (a FHIR path with an optional query) under this base."""
        return self.inside(f"{self}/{relative.lstrip('/')}")

    def inside(self, url: str) -> str:
        """`url` rebuilt from its checked parts, if it lies under this base; else UrlError."""
        other, query = _split(url, allow_query=True)
        if (other.scheme, other.host, other.port) != (self.scheme, self.host, self.port):
            raise UrlError("is on another server")
        if other.path.rstrip("/") != self.path and not other.path.startswith(self.path + "/"):
            raise UrlError("is outside the FHIR base URL")
        return f"{other}?{query}" if query is not None else str(other)


def _split(url: str, *, allow_query: bool) -> tuple[BaseUrl, str | None]:
    if not isinstance(url, str) or not url.isascii() or not url.isprintable() or " " in url:
        raise UrlError("must not hold whitespace, control or non-ASCII characters")
    if "\\" in url:
        raise UrlError("must not hold a backslash")
    if "#" in url:
        raise UrlError("must not have a fragment")
    scheme = _SCHEME.match(url)
    if scheme is None:
        raise UrlError("must be an http or https URL")
    rest = url[scheme.end() :]
    rest, mark, query = rest.partition("?")
    if mark and not allow_query:
        raise UrlError("must not have a query")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        raise UrlError("must not hold user information (@)")
    host, port_text = authority, ""
    if not authority.endswith("]") and ":" in authority:
        host, _, port_text = authority.rpartition(":")
    if not host:
        raise UrlError("has no host")
    name = scheme.group(1).lower()
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UrlError("has an invalid port")
        port = int(port_text)
    else:
        port = _DEFAULT_PORTS[name]
    parsed = BaseUrl(name, _host(host), port, _path(slash + path))
    return parsed, (query if mark else None)


def parse_base_url(url: str) -> BaseUrl:
    """A FHIR base URL, checked: http(s), a host, maybe a port and a path; no userinfo,
    query, fragment, backslash, whitespace, control character or dot segment."""
    parsed = _split(url, allow_query=False)[0]
    return BaseUrl(parsed.scheme, parsed.host, parsed.port, parsed.path.rstrip("/"))
