"""Builders for MedicationRequest JSON, so each test row shows only what it is about."""

from __future__ import annotations

from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"

TAB_10 = {"coding": [{"system": RXNORM, "code": "197391"}]}
TAB_20 = {"coding": [{"system": RXNORM, "code": "197392"}]}
IT_2000 = {"coding": [{"system": RXNORM, "code": "1666613"}]}
BACLOFEN = {"text": "baclofen"}
ORAL = {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]}
INTRATHECAL = {"coding": [{"system": SNOMED, "code": "72607000"}]}
IV = {"coding": [{"system": SNOMED, "code": "47625008"}]}


def q(value: Any, unit: str | None = "mg", *, code: bool = True) -> dict[str, Any]:
    """A Quantity; with ``code`` the unit is also sent as its UCUM code."""
    quantity: dict[str, Any] = {"value": value}
    if unit is not None:
        quantity["unit"] = unit
        if code:
            quantity.update(system=UCUM, code=unit)
    return quantity


def every(period: Any, unit: str = "h", frequency: Any = 1, **more: Any) -> dict[str, Any]:
    """A Timing with repeat frequency per period."""
    return {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit, **more}}


def per_day(n: int) -> dict[str, Any]:
    return every(1, "d", n)


def code(abbreviation: str) -> dict[str, Any]:
    """A Timing given only as an HL7 GTSAbbreviation code."""
    return {"code": {"coding": [{"system": GTS, "code": abbreviation}]}}


def dosage(
    dose: dict[str, Any] | None = None,
    timing: dict[str, Any] | None = None,
    route: dict[str, Any] | None = ORAL,
    **more: Any,
) -> dict[str, Any]:
    """A Dosage with its dose in doseAndRate[0].doseQuantity."""
    result: dict[str, Any] = dict(more)
    if dose is not None:
        result["doseAndRate"] = [{"doseQuantity": dose}]
    if timing is not None:
        result["timing"] = timing
    if route is not None:
        result["route"] = route
    return result


def order(
    *dosages: dict[str, Any], medication: dict[str, Any] | None = BACLOFEN, **more: Any
) -> dict[str, Any]:
    """A MedicationRequest with a medicationCodeableConcept and these dosage instructions."""
    result: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/1"},
    }
    if medication is not None:
        result["medicationCodeableConcept"] = medication
    result["dosageInstruction"] = list(dosages)
    result.update(more)
    return result


def simple(
    value: Any, unit: str = "mg", timing: dict[str, Any] | None = None, **dosage_more: Any
) -> dict[str, Any]:
    """An oral order of one dose on a timing (three times a day unless told)."""
    return order(dosage(q(value, unit), timing or per_day(3), **dosage_more))


def medication(strength: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """A Medication resource with one ingredient strength Ratio."""
    result: dict[str, Any] = {"resourceType": "Medication", **more}
    if strength is not None:
        result["ingredient"] = [{"itemCodeableConcept": BACLOFEN, "strength": strength}]
    return result


def ratio(num: Any, num_unit: str, den: Any, den_unit: str) -> dict[str, Any]:
    return {"numerator": q(num, num_unit), "denominator": q(den, den_unit)}
