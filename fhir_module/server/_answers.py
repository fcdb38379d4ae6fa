"""The package's exceptions as HTTP answers, each a FHIR OperationOutcome.

Status and issue code come from the one table in `fhir_module.errors` (ANSWERS): 400 bad
request, 404 unknown service, 412 data that cannot be had, 413 more than the service takes
on, 429 too much feedback, 503 a store that cannot write now, and 500 only for a fault of
the service itself, logged by its type alone (no patient data, no stack trace in the
answer). Authentication (a bare 401) and the body size limit are the Guard's, in front of
everything.
"""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse

from ..errors import FhirModuleError, answer_for
from ..hooks import outcome_for

log = logging.getLogger("fhir_module.service")
FHIR_JSON = "application/fhir+json"


def error_response(exc: Exception) -> JSONResponse:
    """The HTTP answer for an exception raised while serving a request."""
    if isinstance(exc, FhirModuleError):
        answer = answer_for(exc)
        if answer.status == 500:
            log.error("service fault: %s", type(exc).__name__)
        headers = None if answer.retry_after is None else {"Retry-After": str(answer.retry_after)}
        return JSONResponse(outcome_for(exc), answer.status, headers=headers, media_type=FHIR_JSON)
    log.error("unexpected %s while serving a request", type(exc).__name__)
    return JSONResponse(outcome_for(exc), 500, media_type=FHIR_JSON)
