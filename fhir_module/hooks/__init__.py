"""CDS Hooks 2.0.1 without HTTP: request models, per-hook contexts, prefetch and FHIR reads,
discovery, and `handle_hook` (a request in, a CDS Hooks response out).

The server wraps these in FastAPI; the library API and the CLI call them directly, so
neither needs FastAPI or PyJWT.
"""

from ._data import ServerPolicy, fill_template, patient_record
from ._discovery import (
    Service,
    check_service_id,
    check_service_ids,
    default_service_id,
    service_for_hook,
    services,
)
from ._feedback import CdsFeedback, Feedback, parse_feedback, validate_feedback
from ._fhir import FhirClient, next_link
from ._limits import (
    DEFAULT_FHIR_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_DOSAGES,
    DEFAULT_MAX_DOSE_ENTRIES,
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_PAGES,
    HookLimits,
    Limits,
    TooLarge,
    check_depth,
    check_dose_work,
    check_feedback_size,
    check_hook_sizes,
)
from ._models import (
    CONTEXTS,
    MAX_ID_CHARS,
    MAX_STORED_TEXT_CHARS,
    CdsHookRequest,
    FhirAuthorization,
    HookCall,
    Model,
    parse_hook_call,
    parse_json,
    utc_timestamp,
    validate_hook_call,
)
from ._outcome import (
    FetchFailed,
    RequestProblem,
    UnknownService,
    is_operation_outcome,
    operation_outcome,
    outcome_for,
)
from ._pipeline import (
    HookResult,
    evaluate_hook,
    handle_hook,
    run_hook,
)
from ._session import deadline, outbound_session
from ._urls import BaseUrl, UrlError, is_loopback_host, parse_base_url

__all__ = [
    "DEFAULT_FHIR_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_DOSAGES",
    "DEFAULT_MAX_DOSE_ENTRIES",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_PAGES",
    "CONTEXTS",
    "MAX_ID_CHARS",
    "MAX_STORED_TEXT_CHARS",
    "BaseUrl",
    "CdsFeedback",
    "CdsHookRequest",
    "Feedback",
    "FetchFailed",
    "FhirAuthorization",
    "FhirClient",
    "HookCall",
    "HookLimits",
    "HookResult",
    "Limits",
    "Model",
    "RequestProblem",
    "ServerPolicy",
    "Service",
    "TooLarge",
    "UnknownService",
    "UrlError",
    "check_depth",
    "check_dose_work",
    "check_service_id",
    "check_service_ids",
    "check_feedback_size",
    "check_hook_sizes",
    "deadline",
    "default_service_id",
    "evaluate_hook",
    "fill_template",
    "handle_hook",
    "is_loopback_host",
    "is_operation_outcome",
    "next_link",
    "operation_outcome",
    "outcome_for",
    "outbound_session",
    "parse_base_url",
    "parse_feedback",
    "parse_hook_call",
    "parse_json",
    "patient_record",
    "run_hook",
    "service_for_hook",
    "services",
    "utc_timestamp",
    "validate_feedback",
    "validate_hook_call",
]
