"""The CDS Hooks 2.0.1 service: discovery, order-select and order-sign, feedback, audit.

`handle_hook` is the whole hook pipeline (validation, prefetch or FHIR reads,
engine) without HTTP and without audit, for the CLI and the library API;
`create_app` wraps it in FastAPI with the audit and feedback store (SQLite, or
PostgreSQL for several replicas) and `GET /health`,
behind the Guard: CDS Hooks JWT authentication of the clients a config file
trusts (`load_config`), or, without one, loopback callers only.
"""

from ._app import app_from_env, create_app, error_response
from ._auth import Authenticator, Unauthorized, check_config
from ._config import (
    ConfigError,
    ServiceConfig,
    TrustedClient,
    is_loopback_host,
    is_loopback_url,
    load_config,
)
from ._data import fill_template, patient_record
from ._discovery import Service, service_for_hook, services
from ._feedback import Feedback, parse_feedback
from ._limits import TooLarge
from ._models import HookCall, parse_hook_call
from ._outcome import FetchFailed, RequestProblem, UnknownService, operation_outcome, outcome_for
from ._pipeline import HookResult, handle_hook, run_hook
from ._report import RuleReport, feedback_report
from ._settings import Settings
from ._store import Store

__all__ = [
    "Authenticator",
    "ConfigError",
    "Feedback",
    "FetchFailed",
    "HookCall",
    "HookResult",
    "RequestProblem",
    "RuleReport",
    "Service",
    "ServiceConfig",
    "Settings",
    "Store",
    "TooLarge",
    "TrustedClient",
    "Unauthorized",
    "UnknownService",
    "app_from_env",
    "check_config",
    "create_app",
    "error_response",
    "feedback_report",
    "fill_template",
    "handle_hook",
    "is_loopback_host",
    "is_loopback_url",
    "load_config",
    "operation_outcome",
    "outcome_for",
    "parse_feedback",
    "parse_hook_call",
    "patient_record",
    "run_hook",
    "service_for_hook",
    "services",
]
