"""What every route of one app shares, built once by `create_app`, and the dependency that
hands it to a route."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import requests
from fastapi import Request

from ..hooks import BaseUrl, ServerPolicy, Service, ServiceConfig, TrustedClient
from ..knowledge import Knowledge
from ._auth import Authenticator
from ._replay import ReplayCache
from ._settings import Settings
from ._store import Store


@dataclass(frozen=True)
class Runtime:
    """The settings, the knowledge and its services, the store, the outbound session, and
    (with trusted clients) the config, the replay cache and the authenticator."""

    settings: Settings
    knowledge: Knowledge
    catalogue: Mapping[str, Service]
    store: Store
    http: requests.Session
    config: ServiceConfig | None
    replay: ReplayCache | None
    auth: Authenticator | None


def runtime(request: Request) -> Runtime:
    """The app's Runtime: a FastAPI dependency."""
    found: Runtime = request.app.state.runtime
    return found


def caller(request: Request) -> TrustedClient | None:
    """The trusted client the Guard authenticated for this call; None in open mode."""
    client: TrustedClient | None = getattr(request.state, "cds_client", None)
    return client


def server_policy(request: Request) -> ServerPolicy:
    """Which fhirServer URLs this call may have read: its client's list, or loopback when open."""
    client = caller(request)
    return client.allows_fhir_server if client is not None else _loopback_server


def _loopback_server(base: BaseUrl) -> bool:
    return base.is_loopback
