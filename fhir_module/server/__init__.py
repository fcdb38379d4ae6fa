"""The CDS Hooks service over HTTP (FastAPI): routes per endpoint, authentication of the
clients a config file trusts (JWT, JWKS, replay cache), the audit and feedback store (SQLite,
or PostgreSQL for several replicas) and its report, settings and config, `GET /health` and
the OpenAPI document.

`create_app` serves `hooks.run_hook` behind the Guard: CDS Hooks JWT authentication of
the clients a config file trusts (`load_config`), or, without one, loopback callers only.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..hooks import ServiceConfig, TrustedClient, is_loopback_url, load_config
from ._settings import Settings

if TYPE_CHECKING:
    from ._answers import error_response
    from ._app import app_from_env, create_app
    from ._auth import Authenticator, check_config
    from ._http import NoDelayH11Protocol, configure_connections
    from ._report import RuleReport, feedback_report
    from ._store import Store, describe_database, is_postgres_url

#: where each name lives: imported on first use, so reading the settings (the CLI's
#: evaluate) does not load FastAPI, PyJWT or uvicorn
_HOMES = {
    "error_response": "_answers",
    "app_from_env": "_app",
    "create_app": "_app",
    "Authenticator": "_auth",
    "check_config": "_auth",
    "NoDelayH11Protocol": "_http",
    "configure_connections": "_http",
    "RuleReport": "_report",
    "feedback_report": "_report",
    "Store": "_store",
    "describe_database": "_store",
    "is_postgres_url": "_store",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Authenticator",
    "NoDelayH11Protocol",
    "RuleReport",
    "ServiceConfig",
    "Settings",
    "Store",
    "TrustedClient",
    "app_from_env",
    "check_config",
    "configure_connections",
    "create_app",
    "describe_database",
    "error_response",
    "feedback_report",
    "is_loopback_url",
    "is_postgres_url",
    "load_config",
]
