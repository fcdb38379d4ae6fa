"""The knowledge as a FHIR R4 transaction Bundle, and plain Bundles as hook input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .facts import PatientRecord
from .knowledge import Knowledge

# Definitions first, so a server that checks references as it goes meets them in order.
_TYPE_ORDER = (
    "StructureDefinition",
    "CodeSystem",
    "ValueSet",
    "MedicationKnowledge",
    "Library",
    "PlanDefinition",
)


def transaction_bundle(knowledge: Knowledge) -> dict[str, Any]:
    """Every knowledge resource and profile as PUT entries: importing twice changes nothing."""
    files = sorted(
        knowledge.files,
        key=lambda f: (_TYPE_ORDER.index(f.resource["resourceType"]), f.resource["id"]),
    )
    base = _module_base(knowledge)
    entries = []
    for f in files:
        key = f"{f.resource['resourceType']}/{f.resource['id']}"
        entry: dict[str, Any] = {"fullUrl": f"{base}/{key}"} if base else {}
        entry["resource"] = f.resource
        entry["request"] = {"method": "PUT", "url": key}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _module_base(knowledge: Knowledge) -> str | None:
    for url, f in sorted(knowledge.by_url.items()):
        suffix = f"/{f.resource['resourceType']}/{f.resource['id']}"
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return None


def bundle_as_hook(bundle: Mapping[str, Any]) -> tuple[dict[str, Any], PatientRecord]:
    """An order-sign context and the patient's record from a plain FHIR Bundle.

    The MedicationRequests with status 'draft' are the orders to judge and the
    others are the patient's record; a Bundle with no draft judges all of them.
    """
    entries = [
        e
        for e in bundle.get("entry") or []
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    ]
    resources = [e["resource"] for e in entries]
    # fullUrls kept, so that urn:uuid references between the entries resolve.
    full_urls = {id(e["resource"]): e.get("fullUrl") for e in entries}
    requests = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
    drafts = [r for r in requests if r.get("status") == "draft"] or requests
    others = [r for r in requests if not any(r is d for d in drafts)]
    medications = [r for r in resources if r.get("resourceType") == "Medication"]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    context = {
        "patientId": patients[0].get("id", "") if patients else "",
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [_entry(r, full_urls.get(id(r))) for r in drafts + medications],
        },
    }
    record = PatientRecord(
        patient=patients[0] if patients else None,
        observations=tuple(r for r in resources if r.get("resourceType") == "Observation"),
        conditions=tuple(r for r in resources if r.get("resourceType") == "Condition"),
        medication_requests=tuple(others),
        medications=tuple(medications),
    )
    return context, record


def _entry(resource: Mapping[str, Any], full_url: Any) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource} if full_url else {"resource": resource}
