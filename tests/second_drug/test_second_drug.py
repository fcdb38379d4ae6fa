"""A second drug's knowledge, added as resources only, is run by the same engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import load_knowledge

from ..engine.builders import ORAL, context, order, patient

HERE = Path(__file__).parent / "knowledge"
TIZANIDINE_4MG = {"coding": [{"system": "urn:fhir-module:test-products", "code": "tiz-4"}]}


def test_second_drug_orders_are_flagged_with_no_code_change() -> None:
    knowledge = load_knowledge(HERE)
    assert sorted(d.id for d in knowledge.drugs) == ["baclofen", "tizanidine"]
    tizanidine = order("t", 3, 4, medication=TIZANIDINE_4MG, unit="{tbl}", route=ORAL)
    baclofen = order("b", 5, 3)
    response = evaluate_hook(
        knowledge,
        "order-sign",
        context(tizanidine, baclofen),
        PatientRecord(patient("1970-01-01")),
        today=date(2026, 11, 26),
    )
    [card] = response["cards"]
    assert card["summary"] == "Tizanidine 48 mg/day exceeds the 36 mg/day maximum"
    assert card["indicator"] == "critical"
    assert card["source"]["topic"]["code"] == "max-daily-dose"
    assert card["source"]["label"].startswith("Tizanidine order safety")
    [action] = card["suggestions"][0]["actions"]
    assert action["type"] == "update"
    assert (
        action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 2
    )


def test_by_name_only() -> None:
    knowledge = load_knowledge(HERE)
    named = order("t", 12, 4, medication={"text": "Zanaflex 4 mg tablets"})
    cards = evaluate_hook(
        knowledge,
        "order-sign",
        context(named),
        PatientRecord(patient("1970-01-01")),
        today=date(2026, 11, 26),
    )["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == ["max-daily-dose"]


FLUVOXAMINE = {
    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "42355"}],
    "text": "Fluvoxamine 50 mg tablet",
}


def egfr(value: float, when: str, status: str = "final") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"egfr-{when}",
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": "62238-1"}], "text": "eGFR"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "mL/min/1.73m2",
            "system": "http://unitsofmeasure.org",
            "code": "mL/min/{1.73_m2}",
        },
    }


def test_a_draft_of_an_interacting_drug_in_the_same_request_is_named() -> None:
    knowledge = load_knowledge(HERE)
    tizanidine = order("t", 2, 3, medication=TIZANIDINE_4MG, unit="{tbl}", route=ORAL)
    fluvoxamine = order("f", 50, 1, medication=FLUVOXAMINE)
    response = evaluate_hook(
        knowledge,
        "order-sign",
        context(tizanidine, fluvoxamine),
        PatientRecord(patient("1970-01-01")),
        today=date(2026, 11, 26),
    )
    [card] = response["cards"]
    assert card["source"]["topic"]["code"] == "interaction"
    assert card["summary"] == "Tizanidine with Fluvoxamine 50 mg tablet (CYP1A2 inhibitor)"
    assert card["detail"] == (
        "Orders of a CYP1A2 inhibitor: Fluvoxamine 50 mg tablet (draft order in this request)."
    )


def test_the_latest_recent_kidney_function_result_is_read() -> None:
    knowledge = load_knowledge(HERE)
    tizanidine = order("t", 2, 3, medication=TIZANIDINE_4MG, unit="{tbl}", route=ORAL)

    def cards(*observations: dict[str, Any]) -> list[dict[str, Any]]:
        record = PatientRecord(patient("1970-01-01"), observations=observations)
        found = evaluate_hook(
            knowledge, "order-sign", context(tizanidine), record, today=date(2026, 11, 26)
        )
        return list(found["cards"])

    [card] = cards(
        egfr(60, "2026-10-01"),
        egfr(18, "2026-11-20", "amended"),
        egfr(70, "2026-11-25", "preliminary"),
    )
    assert card["source"]["topic"]["code"] == "renal-impairment"
    assert card["summary"] == "Tizanidine with kidney function of 18 mL/min/{1.73_m2}"
    assert card["detail"] == "Latest result: eGFR 18 mL/min/{1.73_m2} on 2026-11-20."
    # Outside the Library's 90-day window, an older result is not read.
    assert cards(egfr(18, "2026-07-01")) == []
