"""Dates FHIR's date type has no room for (year 0000, month or day 00) are no date: the record
they sit in counts as undated, and the call is answered, never failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.facts import parse_date
from fhir_module.knowledge import Knowledge

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tizanidine"


def _request(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.request.json").read_text())
    return loaded


def _resources(request: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    found = []
    for value in request.get("prefetch", {}).values():
        if isinstance(value, dict) and value.get("resourceType") == resource_type:
            found.append(value)
        for entry in (value or {}).get("entry", []) if isinstance(value, dict) else []:
            if entry.get("resource", {}).get("resourceType") == resource_type:
                found.append(entry["resource"])
    return found


@pytest.mark.parametrize("text", ["0000", "0000-01-01", "2026-00", "2026-10-00", "2026-13-01"])
def test_parse_date_refuses_what_is_no_date(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("example", "resource_type", "element"),
    [
        ("order-sign-renal-impairment", "Observation", "effectiveDateTime"),
        ("order-sign-max-daily-dose", "Patient", "birthDate"),
        ("order-sign-combined-max-daily-dose", "MedicationRequest", "authoredOn"),
    ],
)
def test_a_record_dated_year_0000_is_answered(
    terms: Knowledge, example: str, resource_type: str, element: str
) -> None:
    request = _request(example)
    resources = _resources(request, resource_type)
    assert resources, f"the example has no {resource_type} in its prefetch"
    for resource in resources:
        resource[element] = "0000-01-01" if element != "birthDate" else "0000"
    response = evaluate(request, knowledge=terms)
    assert isinstance(response["cards"], list) and response["cards"]
