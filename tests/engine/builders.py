"""Small builders of FHIR resources for the engine tests."""

from __future__ import annotations

from typing import Any

SCT = "http://snomed.info/sct"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ORAL = {"coding": [{"system": SCT, "code": "26643006", "display": "Oral route"}]}
INTRATHECAL = {"coding": [{"system": SCT, "code": "72607000", "display": "Intrathecal route"}]}
INTRAMUSCULAR = {"coding": [{"system": SCT, "code": "78421000", "display": "Intramuscular route"}]}
TABLET_10 = {"coding": [{"system": RX, "code": "197391", "display": "baclofen 10 MG Oral Tablet"}]}
IT_2000 = {
    "coding": [{"system": RX, "code": "1666613", "display": "20 ML baclofen 2 MG/ML Injection"}]
}
DAY = "2026-11-26"


def _request(
    id_: str, medication: dict[str, Any], dosage: dict[str, Any], status: str, authored: str
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": id_,
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "authoredOn": authored,
        "medicationCodeableConcept": medication,
        "dosageInstruction": [dosage],
    }


def order(
    id_: str,
    mg: float,
    per_day: int,
    *,
    route: dict[str, Any] = ORAL,
    medication: dict[str, Any] = TABLET_10,
    status: str = "draft",
    authored: str = DAY,
    unit: str = "mg",
) -> dict[str, Any]:
    dosage = {
        "route": route,
        "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [
            {"doseQuantity": {"value": mg, "unit": unit, "system": UCUM, "code": unit}}
        ],
    }
    return _request(id_, medication, dosage, status, authored)


def intrathecal(
    id_: str, ug_per_day: float, *, status: str = "draft", authored: str = DAY
) -> dict[str, Any]:
    rate = {"value": ug_per_day, "unit": "ug/d", "system": UCUM, "code": "ug/d"}
    dosage = {"route": INTRATHECAL, "doseAndRate": [{"rateQuantity": rate}]}
    return _request(id_, IT_2000, dosage, status, authored)


def patient(birth: str | None) -> dict[str, Any]:
    p: dict[str, Any] = {"resourceType": "Patient", "id": "p"}
    if birth:
        p["birthDate"] = birth
    return p


def observation(
    code: tuple[str, str], value: tuple[str, str], when: str, status: str = "final"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o-{when}",
        "status": status,
        "code": {"coding": [{"system": code[0], "code": code[1]}]},
        "effectiveDateTime": when,
        "valueCodeableConcept": {
            "coding": [{"system": value[0], "code": value[1], "display": value[1]}]
        },
    }


def condition(
    system: str, code: str, *, clinical: str = "active", verification: str = "confirmed"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"c-{code}",
        "clinicalStatus": {"coding": [{"code": clinical}]},
        "verificationStatus": {"coding": [{"code": verification}]},
        "code": {"coding": [{"system": system, "code": code, "display": code}]},
    }


def context(*orders: dict[str, Any], selections: list[str] | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "patientId": "p",
        "userId": "Practitioner/u",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
    }
    if selections is not None:
        ctx["selections"] = selections
    return ctx
