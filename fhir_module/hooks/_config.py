"""The trusted CDS clients, read from the TOML file `fhir-module serve --config` names.

    public_base_url = "https://cds.example.org"   # the service's own URL: the JWT aud base
    replay_quota = 20000                           # optional: live jtis per issuer
    [[clients]]
    issuer = "https://ehr.example.org"
    jwks_url = "https://ehr.example.org/jwks.json" # and/or jwks_file = "ehr-jwks.json"
    fhir_servers = ["https://ehr.example.org/fhir"]
    tenant = "..."                                 # optional
    [service_ids]                                  # optional: a hook's service id
    order-sign = "medication-safety-order-sign"    # (default: medication-safety-<hook>)

Every URL must be https, or http on a loopback host; a relative jwks_file is
read from the config file's folder. A client with both jwks_url and jwks_file
is trusted by the file alone, a pinned copy of the set at that URL (never
fetched); its tokens may still name the URL as `jku`. `public_base_url` is
required: `aud` is checked against it, never against the Host a caller names.
A service id goes in the URL path: it must be a slug (lower-case letters and digits,
single '-', '_' or '.' between them), and two hooks cannot share one.
Unknown keys are refused, so a typo cannot quietly turn a check off.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from ._discovery import check_service_ids, default_service_id
from ._models import CONTEXTS
from ._urls import BaseUrl, UrlError, parse_base_url

_TOP_KEYS = {"public_base_url", "clients", "replay_quota", "service_ids"}
_CLIENT_KEYS = {"issuer", "jwks_file", "jwks_url", "fhir_servers", "tenant"}


def is_loopback_url(url: str) -> bool:
    """Whether an http(s) URL, read as it would be sent, points at this machine's loopback."""
    try:
        return parse_base_url(url).is_loopback
    except UrlError:
        return False


def _secure_url(url: str, where: str) -> BaseUrl:
    try:
        parsed = parse_base_url(url)
    except UrlError as exc:
        raise ConfigError(f"{where}: not a plain URL: it {exc}") from None
    if parsed.scheme != "https" and not parsed.is_loopback:
        raise ConfigError(f"{where}: must be an https URL (http only on loopback)")
    return parsed


@dataclass(frozen=True)
class TrustedClient:
    """One CDS client (an EHR) the service trusts, and the FHIR servers it may point at."""

    issuer: str
    fhir_servers: frozenset[BaseUrl]
    jwks_file: Path | None = None
    jwks_url: str | None = None
    tenant: str | None = None

    def allows_fhir_server(self, url: str | BaseUrl) -> bool:
        """Whether a request's fhirServer, read as it would be sent, is one this client listed."""
        if isinstance(url, str):
            try:
                url = parse_base_url(url)
            except UrlError:
                return False
        return url in self.fhir_servers


@dataclass(frozen=True)
class ServiceConfig:
    """The config file's content: the trusted clients, by issuer, the public base URL, and
    the service ids chosen for hooks (the others: `medication-safety-<hook>`)."""

    clients: Mapping[str, TrustedClient]
    public_base_url: str
    #: live jtis per issuer in the replay cache; None: the service's setting
    replay_quota: int | None = None
    #: hook -> service id, as the [service_ids] table gives them
    service_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


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
    if jwks_file is None and jwks_url is None:
        raise ConfigError(f"{where}: give jwks_url, jwks_file (a pinned copy), or both")
    servers = table.get("fhir_servers", [])
    if not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
        raise ConfigError(f"{where}.fhir_servers: must be a list of URLs")
    if jwks_url is not None:
        _secure_url(jwks_url, f"{where}.jwks_url")
    return TrustedClient(
        issuer=str(issuer),
        fhir_servers=frozenset(
            _secure_url(s, f"{where}.fhir_servers[{i}]") for i, s in enumerate(servers)
        ),
        jwks_file=(folder / jwks_file) if jwks_file else None,
        jwks_url=jwks_url,
        tenant=_text(table, "tenant", where, required=False),
    )


def parse_config(data: Mapping[str, Any], folder: Path) -> ServiceConfig:
    """The config from a parsed TOML document; relative jwks_file paths resolve in `folder`."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}")
    tables = data.get("clients")
    if not isinstance(tables, list) or not tables:
        raise ConfigError("clients: give at least one [[clients]] table")
    clients: dict[str, TrustedClient] = {}
    for i, table in enumerate(tables):
        client = _client(table, f"clients[{i}]", folder)
        if client.issuer in clients:
            raise ConfigError(f"clients[{i}].issuer: is given twice")
        clients[client.issuer] = client
    if data.get("public_base_url") is None:
        raise ConfigError(
            "public_base_url: required: the service's URL as its callers reach it "
            "(each JWT's aud is checked against it)"
        )
    base = str(_text(data, "public_base_url", "config", required=True))
    _secure_url(base, "public_base_url")
    quota = data.get("replay_quota")
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 1):
        raise ConfigError("replay_quota: must be a whole number, at least 1")
    return ServiceConfig(
        clients=clients,
        public_base_url=base.rstrip("/"),
        replay_quota=quota,
        service_ids=_service_ids(data.get("service_ids", {})),
    )


def _service_ids(table: Any) -> Mapping[str, str]:
    """The [service_ids] table: each key a hook the service answers, each value a safe id."""
    if not isinstance(table, dict):
        raise ConfigError("service_ids: must be a table ([service_ids])", "service_ids")
    check_service_ids(table, frozenset(CONTEXTS))
    # Nor may an id be the one another hook keeps by default.
    check_service_ids({hook: default_service_id(hook) for hook in CONTEXTS} | table)
    return MappingProxyType(dict(table))


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
