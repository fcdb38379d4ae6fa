"""FHIR R4 OperationOutcomes for the service's error answers; errors that carry an issue type."""

from __future__ import annotations

from typing import Any

from .._errors import DataUnavailable, InvalidRequest


class RequestProblem(InvalidRequest):
    """An InvalidRequest that knows its OperationOutcome issue type (invalid, structure, ...)."""

    def __init__(self, message: str, expression: str | None = None, code: str = "invalid") -> None:
        super().__init__(message, expression)
        self.code = code


class UnknownService(RequestProblem):
    """No CDS service has the id the caller named (HTTP 404)."""

    def __init__(self) -> None:
        super().__init__("no CDS service has this id; see GET /cds-services", None, "not-found")


class FetchFailed(DataUnavailable):
    """Data for one prefetch key could not be had; names the key, never the patient."""

    def __init__(self, key: str, reason: str, code: str = "incomplete") -> None:
        self.key = key
        self.code = code
        super().__init__(f"prefetch '{key}': {reason}")


def operation_outcome(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    """A one-issue OperationOutcome."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_for(exc: Exception) -> dict[str, Any]:
    """The OperationOutcome for an error this package raises on purpose."""
    code = getattr(exc, "code", None)
    if isinstance(exc, InvalidRequest):
        return operation_outcome(
            code if isinstance(code, str) else "invalid", str(exc), exc.expression
        )
    if isinstance(exc, FetchFailed):
        return operation_outcome(exc.code, str(exc), f"prefetch.{exc.key}")
    if isinstance(exc, DataUnavailable):
        return operation_outcome("incomplete", str(exc))
    return operation_outcome("exception", "the service could not answer this request")


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
