"""FHIR R4 OperationOutcomes for the service's error answers; errors that carry an issue type."""

from __future__ import annotations

from typing import Any

from ..errors import (
    FAULT,
    FetchFailed,
    InvalidRequest,
    RequestProblem,
    UnknownService,
    answer_for,
)

__all__ = [
    "FetchFailed",
    "RequestProblem",
    "UnknownService",
    "is_operation_outcome",
    "operation_outcome",
    "outcome_for",
]


def operation_outcome(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    """A one-issue OperationOutcome."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_for(exc: BaseException) -> dict[str, Any]:
    """The OperationOutcome for an error: its issue code from `errors.ANSWERS` (or the
    exception's own `code`), its message only where the table says it may be shown."""
    answer = answer_for(exc)
    if not answer.says:
        return operation_outcome(FAULT.code, "the service could not answer this request")
    code = getattr(exc, "code", None)
    code = code if isinstance(code, str) else answer.code
    if isinstance(exc, FetchFailed):
        return operation_outcome(code, str(exc), f"prefetch.{exc.key}")
    expression = exc.expression if isinstance(exc, InvalidRequest) else None
    return operation_outcome(code, str(exc), expression)


def is_operation_outcome(value: Any) -> bool:
    """Whether a prefetch value says the CDS client failed to fetch it (CDS Hooks 2.0)."""
    if not isinstance(value, dict):
        return False
    if value.get("resourceType") == "OperationOutcome":
        return True
    if value.get("resourceType") != "Bundle":
        return False
    entries = [e.get("resource") for e in value.get("entry") or [] if isinstance(e, dict)]
    return bool(entries) and all(
        isinstance(r, dict) and r.get("resourceType") == "OperationOutcome" for r in entries
    )
