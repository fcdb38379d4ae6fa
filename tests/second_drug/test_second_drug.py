"""A second drug's knowledge, added as resources only, is run by the same engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

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
