"""Sending the knowledge Bundle to a FHIR server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ._errors import FhirServerError

FHIR_JSON = "application/fhir+json"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class EntryResult:
    """What the server did with one entry: its status line and location."""

    status: str
    location: str


def outcome_lines(outcome: Any) -> list[str]:
    """One line per OperationOutcome issue: severity, code, diagnostics, expression."""
    if not isinstance(outcome, Mapping) or outcome.get("resourceType") != "OperationOutcome":
        return []
    lines = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, Mapping):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        where = ", ".join(issue.get("expression") or issue.get("location") or [])
        line = f"{issue.get('severity', 'error')} {issue.get('code', 'unknown')}: {text}".rstrip(
            ": "
        )
        lines.append(f"{line} (at {where})" if where else line)
    return lines


def _raise_for(response: requests.Response) -> None:
    """The one place an HTTP status becomes an exception; the OperationOutcome is kept."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    outcome = body if isinstance(body, Mapping) else None
    raise FhirServerError(
        f"the FHIR server answered {response.status_code} {response.reason}",
        status=response.status_code,
        outcome=dict(outcome) if outcome else None,
    )


def push_bundle(
    bundle: Mapping[str, Any],
    server: str,
    token: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> list[EntryResult]:
    """POST a transaction Bundle to a FHIR server's base URL; the result per entry."""
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    http = session or requests.Session()
    try:
        response = http.post(server.rstrip("/"), json=bundle, headers=headers, timeout=timeout)
    except requests.Timeout:
        raise FhirServerError(f"the FHIR server did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise FhirServerError(f"cannot reach the FHIR server ({type(exc).__name__})") from None
    _raise_for(response)
    try:
        body = response.json()
    except ValueError:
        raise FhirServerError("the FHIR server's answer is not JSON") from None
    results = []
    for entry in body.get("entry") or [] if isinstance(body, Mapping) else []:
        answer = entry.get("response") or {} if isinstance(entry, Mapping) else {}
        results.append(EntryResult(str(answer.get("status", "")), str(answer.get("location", ""))))
    return results
