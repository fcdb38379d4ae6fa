"""The CDS Hooks service over HTTP (FastAPI): routes per endpoint, authentication of the
clients a config file trusts (JWT, JWKS, replay cache), the audit and feedback store (SQLite,
or PostgreSQL for several replicas) and its report, settings and config, `GET /health` and
the OpenAPI document.

`create_app` serves `hooks.run_hook` behind the Guard: CDS Hooks JWT authentication of
the clients a config file trusts (`load_config`), or, without one, loopback callers only.
"""

from ._answers import error_response
from ._app import app_from_env, create_app
from ._auth import Authenticator, check_config
from ._config import ServiceConfig, TrustedClient, is_loopback_url, load_config
from ._http import NoDelayH11Protocol, configure_connections
from ._report import RuleReport, feedback_report
from ._settings import Settings
from ._store import Store, describe_database, is_postgres_url

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
