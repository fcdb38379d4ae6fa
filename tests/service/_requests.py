"""Builders of CDS Hooks requests and FHIR resources for the service tests."""

from __future__ import annotations

import copy
from typing import Any

SERVER = "https://ehr.example.org/fhir"
TOKEN = "secret-token-abc123"
PATIENT_ID = "pat-4711"
PATIENT = {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "1980-02-03"}


def baclofen_order(oid: str = "mr-1", mg: float = 50, per_day: int = 3) -> dict[str, Any]:
    """An oral baclofen order of `mg` x `per_day` (the default exceeds 100 mg/day)."""
    return {
        "resourceType": "MedicationRequest",
        "id": oid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "authoredOn": "2024-05-01",
        "medicationCodeableConcept": {"text": "baclofen 10 MG Oral Tablet"},
        "dosageInstruction": [
            {
                "route": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral"}
                    ]
                },
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": mg,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }


def other_order() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "amox",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {"text": "Amoxicillin 500 MG Oral Capsule"},
    }


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def full_prefetch() -> dict[str, Any]:
    return {
        "patient": copy.deepcopy(PATIENT),
        "observations": searchset(),
        "conditions": searchset(),
        "medications": searchset(),
    }


def hook_request(
    hook: str = "order-sign",
    *orders: dict[str, Any],
    prefetch: dict[str, Any] | None = None,
    server: bool = True,
    token: bool = True,
) -> dict[str, Any]:
    """A CDS Hooks request; with every prefetch key filled unless `prefetch` says otherwise."""
    orders = orders or (baclofen_order(),)
    context: dict[str, Any] = {
        "userId": "Practitioner/doc-1",
        "patientId": PATIENT_ID,
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": o} for o in orders],
        },
    }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{o['id']}" for o in orders]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": full_prefetch() if prefetch is None else prefetch,
    }
    if server:
        request["fhirServer"] = SERVER
        if token:
            request["fhirAuthorization"] = {
                "access_token": TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "user/Patient.read user/Observation.read",
                "subject": "cds-service",
            }
    return request


def rule_ids(response: dict[str, Any]) -> list[str]:
    return [c["source"]["topic"]["code"] for c in response["cards"]]


def mangle(request: dict[str, Any], path: list[str], value: Any) -> None:
    """Put `value` at `path` in the request, as far down as its objects reach."""
    target: Any = request
    for part in path[:-1]:
        nxt = target.get(part) if isinstance(target, dict) else None
        if not isinstance(nxt, dict):
            break
        target = nxt
    if isinstance(target, dict):
        target[path[-1]] = value
