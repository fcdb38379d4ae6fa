"""Several final kidney function results of the latest date: the least safe for the rule's
comparison counts (the lowest: the rule fires below 25), whichever the feed lists first; one
of them that cannot be read makes the kidney function not checked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import Knowledge

from ..engine.builders import context, order, patient

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
TODAY = date(2026, 11, 26)
TABLET = {"coding": [{"system": RX, "code": "313412", "display": "tizanidine 2 MG Oral Tablet"}]}


def _result(rid: str, loinc: str, text: str, when: str, quantity: dict[str, Any]) -> dict[str, Any]:
    """A final result as a lab feed sends it: LOINC-coded, date only, UCUM quantity."""
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc}], "text": text},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": when,
        "issued": f"{when}T16:02:11Z",
        "valueQuantity": quantity,
    }


def _egfr(rid: str, value: float, when: str = "2026-11-20") -> dict[str, Any]:
    quantity = {"value": value, "unit": "mL/min/1.73m2", "system": UCUM, "code": "mL/min/{1.73_m2}"}
    return _result(rid, "98979-8", "eGFR (CKD-EPI 2021)", when, quantity)


def _clearance(rid: str, value: float, when: str = "2026-11-20") -> dict[str, Any]:
    quantity = {"value": value, "unit": "mL/min", "system": UCUM, "code": "mL/min"}
    return _result(rid, "2164-2", "Creatinine clearance", when, quantity)


def _cards(terms: Knowledge, *observations: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answer = evaluate_hook(
        terms,
        "order-sign",
        context(order("t", 2, 3, medication=TABLET)),
        PatientRecord(patient("1958-02-11"), observations=observations),
        today=TODAY,
    )
    return {c["source"]["topic"]["code"]: c for c in answer["cards"]}


@pytest.mark.parametrize("first_listed", ["high", "low"])
def test_of_two_results_of_the_latest_date_the_lowest_counts(
    terms: Knowledge, first_listed: str
) -> None:
    low, high = _clearance("crcl-1", 21), _egfr("egfr-1", 38)
    listed = (high, low) if first_listed == "high" else (low, high)
    cards = _cards(terms, _egfr("egfr-0", 55, "2026-10-01"), *listed)
    assert set(cards) == {"renal-impairment"}
    assert "Creatinine clearance 21 mL/min on 2026-11-20" in cards["renal-impairment"]["detail"]


def test_a_later_result_still_wins_over_a_lower_earlier_one(terms: Knowledge) -> None:
    assert _cards(terms, _clearance("crcl-1", 21, "2026-11-02"), _egfr("egfr-1", 38)) == {}


@pytest.mark.parametrize(
    "unreadable",
    [
        {"value": 0.4, "unit": "mL/s", "system": UCUM, "code": "mL/s"},
        {"unit": "mL/min", "system": UCUM, "code": "mL/min"},
    ],
)
def test_an_unreadable_result_of_the_latest_date_leaves_kidney_function_unchecked(
    terms: Knowledge, unreadable: dict[str, Any]
) -> None:
    unread = _result("crcl-2", "2164-2", "Creatinine clearance", "2026-11-20", unreadable)
    cards = _cards(terms, _egfr("egfr-1", 38), unread)
    assert set(cards) == {"renal-unreadable"}
    detail = cards["renal-unreadable"]["detail"]
    assert "Creatinine clearance" in detail
    assert "older" not in detail  # the readable one is of the same date, not older
