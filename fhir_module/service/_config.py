"""The trusted CDS clients, read from the TOML file `fhir-module serve --config` names.

    public_base_url = "https://cds.example.org"   # optional: the aud base behind a proxy
    replay_quota = 20000                           # optional: live jtis per issuer
    [[clients]]
    issuer = "https://ehr.example.org"
    jwks_file = "ehr-jwks.json"                    # or jwks_url = "https://.../jwks.json"
    fhir_servers = ["https://ehr.example.org/fhir"]
    tenant = "..."                                 # optional

Every URL must be https, or http on a loopback host; a relative jwks_file is
read from the config file's folder. Unknown keys are refused, so a typo cannot
quietly turn a check off.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._errors import InvalidRequest

_TOP_KEYS = {"public_base_url", "clients", "replay_quota"}
_CLIENT_KEYS = {"issuer", "jwks_file", "jwks_url", "fhir_servers", "tenant"}


class ConfigError(InvalidRequest):
    """The config file is missing, unreadable or wrong; the message is one line."""


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


def is_loopback_url(url: str) -> bool:
    """Whether an http(s) URL points at this machine's loopback."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname)


def base_url_key(url: str) -> str:
    """A FHIR base URL in one spelling: lower-case scheme and host, no default port,
    no trailing slash; the allowlist compares these."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (parts.scheme.lower(), port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"


def _secure_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{where}: has an invalid port") from None
    if not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"{where}: must be a plain URL (host, no query, no credentials)")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_url(url)):
        raise ConfigError(f"{where}: must be an https URL (http only on loopback)")
    return url


@dataclass(frozen=True)
class TrustedClient:
    """One CDS client (an EHR) the service trusts, and the FHIR servers it may point at."""

    issuer: str
    fhir_servers: frozenset[str]
    jwks_file: Path | None = None
    jwks_url: str | None = None
    tenant: str | None = None

    def allows_fhir_server(self, url: str) -> bool:
        """Whether a request's fhirServer is one this client listed."""
        return base_url_key(url) in self.fhir_servers


@dataclass(frozen=True)
class ServiceConfig:
    """The config file's content: the trusted clients, by issuer, and the public base URL."""

    clients: Mapping[str, TrustedClient]
    public_base_url: str | None = None
    #: live jtis per issuer in the replay cache; None: the service's setting
    replay_quota: int | None = None


def _text(table: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}: must be a non-empty string")
    return value


def _client(table: Any, where: str, folder: Path) -> TrustedClient:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table ([[clients]])")
    unknown = sorted(set(table) - _CLIENT_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    issuer = _text(table, "issuer", where, required=True)
    jwks_file = _text(table, "jwks_file", where, required=False)
    jwks_url = _text(table, "jwks_url", where, required=False)
    if (jwks_file is None) == (jwks_url is None):
        raise ConfigError(f"{where}: give exactly one of jwks_file and jwks_url")
    servers = table.get("fhir_servers", [])
    if not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
        raise ConfigError(f"{where}.fhir_servers: must be a list of URLs")
    for i, server in enumerate(servers):
        _secure_url(server, f"{where}.fhir_servers[{i}]")
    return TrustedClient(
        issuer=str(issuer),
        fhir_servers=frozenset(base_url_key(s) for s in servers),
        jwks_file=(folder / jwks_file) if jwks_file else None,
        jwks_url=_secure_url(jwks_url, f"{where}.jwks_url") if jwks_url else None,
        tenant=_text(table, "tenant", where, required=False),
    )


def parse_config(data: Mapping[str, Any], folder: Path) -> ServiceConfig:
    """The config from a parsed TOML document; relative jwks_file paths resolve in `folder`."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}")
    base = _text(data, "public_base_url", "config", required=False)
    tables = data.get("clients")
    if not isinstance(tables, list) or not tables:
        raise ConfigError("clients: give at least one [[clients]] table")
    clients: dict[str, TrustedClient] = {}
    for i, table in enumerate(tables):
        client = _client(table, f"clients[{i}]", folder)
        if client.issuer in clients:
            raise ConfigError(f"clients[{i}].issuer: is given twice")
        clients[client.issuer] = client
    quota = data.get("replay_quota")
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 1):
        raise ConfigError("replay_quota: must be a whole number, at least 1")
    return ServiceConfig(
        clients=clients,
        public_base_url=_secure_url(base, "public_base_url").rstrip("/") if base else None,
        replay_quota=quota,
    )


def load_config(path: Path) -> ServiceConfig:
    """Read and check a config file; ConfigError says in one line what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return parse_config(data, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
