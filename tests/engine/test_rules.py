"""Every rule of KNOWLEDGE.md fires where it should, with its indicator, and only there."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import Knowledge

from .builders import (
    INTRAMUSCULAR,
    SCT,
    condition,
    context,
    intrathecal,
    observation,
    order,
    patient,
)

TODAY = date(2026, 11, 26)
ADULT = "1970-05-05"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def fired(
    knowledge: Knowledge,
    orders: list[dict[str, Any]],
    *,
    birth: str | None = ADULT,
    observations: tuple[dict[str, Any], ...] = (),
    conditions: tuple[dict[str, Any], ...] = (),
    history: tuple[dict[str, Any], ...] = (),
    hook: str = "order-sign",
    selections: list[str] | None = None,
) -> set[tuple[str, str]]:
    record = PatientRecord(patient(birth), observations, conditions, history)
    if hook == "order-select" and selections is None:
        selections = [f"MedicationRequest/{o['id']}" for o in orders]
    response = evaluate_hook(
        knowledge, hook, context(*orders, selections=selections), record, today=TODAY
    )
    return {(c["source"]["topic"]["code"], c["indicator"]) for c in response["cards"]}


CASES: list[tuple[str, dict[str, Any], set[tuple[str, str]]]] = [
    ("adult 5 mg tid new start is quiet", {"orders": [order("a", 5, 3)]}, set()),
    (
        "pregnant",
        {
            "orders": [order("a", 5, 3)],
            "observations": (observation((LOINC, "82810-3"), (LOINC, "LA15173-0"), "2026-11-01"),),
        },
        {("pregnancy", "critical")},
    ),
    (
        "latest observation says not pregnant",
        {
            "orders": [order("a", 5, 3)],
            "observations": (
                observation((LOINC, "82810-3"), (LOINC, "LA15173-0"), "2026-01-01"),
                observation((LOINC, "82810-3"), (SCT, "60001007"), "2026-11-01"),
            ),
        },
        set(),
    ),
    (
        "entered-in-error pregnancy observation counts for nothing",
        {
            "orders": [order("a", 5, 3)],
            "observations": (
                observation(
                    (LOINC, "82810-3"),
                    (LOINC, "LA15173-0"),
                    "2026-11-01",
                    status="entered-in-error",
                ),
            ),
        },
        set(),
    ),
    (
        "pregnancy condition in ICD-10-CM",
        {"orders": [order("a", 5, 3)], "conditions": (condition(ICD10CM, "Z34.01"),)},
        {("pregnancy", "critical")},
    ),
    (
        "refuted pregnancy condition",
        {
            "orders": [order("a", 5, 3)],
            "conditions": (condition(SCT, "77386006", verification="refuted"),),
        },
        set(),
    ),
    (
        "breastfeeding",
        {
            "orders": [order("a", 5, 3)],
            "observations": (observation((LOINC, "63895-7"), (LOINC, "LA29252-6"), "2026-11-01"),),
        },
        {("lactation", "warning")},
    ),
    (
        "child of 3",
        {"orders": [order("a", 2.5, 2)], "birth": "2023-06-01"},
        {("under-4", "critical")},
    ),
    (
        "birth year only spanning 3 and 4",
        {"orders": [order("a", 2.5, 2)], "birth": "2022"},
        {("under-4", "critical"), ("paediatric-supervision", "info")},
    ),
    (
        "intramuscular injection",
        {"orders": [order("a", 5, 1, route=INTRAMUSCULAR)]},
        {("injection-route", "critical")},
    ),
    (
        "oral exactly at the maximum",
        {
            "orders": [order("a", 25, 4)],
            "history": (order("old", 25, 4, status="active", authored="2026-10-01"),),
        },
        {("duplicate-therapy", "warning")},
    ),
    (
        "oral above the maximum",
        {
            "orders": [order("a", 35, 3)],
            "history": (order("old", 25, 4, status="completed", authored="2026-10-01"),),
        },
        {("max-daily-dose", "critical"), ("starting-dose", "warning")},
    ),
    (
        "two drafts add up past the maximum",
        {
            "orders": [order("a", 20, 3), order("b", 20, 3)],
            "history": (order("old", 20, 3, status="completed"),),
        },
        {("max-daily-dose", "critical"), ("starting-dose", "warning")},
    ),
    (
        "child of 8 at the band ceiling",
        {"orders": [order("a", 20, 3)], "birth": "2018-01-01"},
        {("paediatric-supervision", "info")},
    ),
    (
        "child of 8 above the band ceiling",
        {"orders": [order("a", 25, 3)], "birth": "2018-01-01"},
        {("paediatric-daily-dose", "warning"), ("paediatric-supervision", "info")},
    ),
    (
        "child of 11 is outside the 4-10 band",
        {"orders": [order("a", 25, 3)], "birth": "2015-01-01"},
        {("paediatric-supervision", "info")},
    ),
    (
        "child of 8 above the route maximum too",
        {"orders": [order("a", 40, 3)], "birth": "2018-01-01"},
        {
            ("max-daily-dose", "critical"),
            ("paediatric-daily-dose", "warning"),
            ("paediatric-supervision", "info"),
        },
    ),
    (
        "new adult start above 15 mg/day",
        {"orders": [order("a", 10, 2)]},
        {("starting-dose", "warning")},
    ),
    (
        "new start at 12 is not an adult start",
        {"orders": [order("a", 10, 2)], "birth": "2014-01-01"},
        {("paediatric-supervision", "info")},
    ),
    (
        "titration of 5 mg/day after 3 days",
        {
            "orders": [order("a", 10, 2)],
            "history": (order("old", 5, 3, status="active", authored="2026-11-20"),),
        },
        {("duplicate-therapy", "warning")},
    ),
    (
        "titration of 15 mg/day",
        {
            "orders": [order("a", 10, 3)],
            "history": (order("old", 5, 3, status="active", authored="2026-11-01"),),
        },
        {("titration-step", "warning"), ("duplicate-therapy", "warning")},
    ),
    (
        "titration of 5 mg/day after 1 day",
        {
            "orders": [order("a", 10, 2)],
            "history": (order("old", 5, 3, status="active", authored="2026-11-25"),),
        },
        {("titration-step", "warning"), ("duplicate-therapy", "warning")},
    ),
    (
        "intrathecal at the usual top, with earlier intrathecal",
        {
            "orders": [intrathecal("a", 800)],
            "history": (intrathecal("old", 600, status="completed"),),
        },
        set(),
    ),
    (
        "intrathecal above usual, adult",
        {
            "orders": [intrathecal("a", 801)],
            "history": (intrathecal("old", 600, status="stopped"),),
        },
        {("intrathecal-above-usual", "info")},
    ),
    (
        "intrathecal above usual, child of 12",
        {
            "orders": [intrathecal("a", 900)],
            "birth": "2014-01-01",
            "history": (intrathecal("old", 600, status="completed"),),
        },
        {("intrathecal-above-usual", "warning"), ("paediatric-supervision", "info")},
    ),
    (
        "intrathecal above the maximum",
        {
            "orders": [intrathecal("a", 2100)],
            "history": (intrathecal("old", 600, status="completed"),),
        },
        {("max-daily-dose", "critical")},
    ),
    (
        "first intrathecal order",
        {"orders": [intrathecal("a", 100)]},
        {("intrathecal-test-dose", "info")},
    ),
    (
        "entered-in-error intrathecal history is no history",
        {
            "orders": [intrathecal("a", 100)],
            "history": (intrathecal("old", 100, status="entered-in-error"),),
        },
        {("intrathecal-test-dose", "info")},
    ),
    (
        "active respiratory disease",
        {"orders": [order("a", 5, 3)], "conditions": (condition(ICD10CM, "J45.909"),)},
        {("respiratory-disease", "warning")},
    ),
    (
        "resolved respiratory disease",
        {
            "orders": [order("a", 5, 3)],
            "conditions": (condition(ICD10CM, "J45.909", clinical="resolved"),),
        },
        set(),
    ),
    (
        "no birth date",
        {"orders": [order("a", 5, 3)], "birth": None},
        {("patient-data-missing", "info")},
    ),
    (
        "dose in an unknown unit",
        {"orders": [order("a", 2, 3, unit="[drp]")]},
        {("dose-unverifiable", "warning")},
    ),
]


@pytest.mark.parametrize(("case", "setup", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(
    knowledge: Knowledge, case: str, setup: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert fired(knowledge, **setup) == expected


def test_counselling_on_order_select_only(knowledge: Knowledge) -> None:
    orders = [order("a", 5, 3)]
    assert fired(knowledge, orders, hook="order-select") == {("counselling", "info")}
    assert fired(knowledge, orders, hook="order-sign") == set()


def test_order_select_judges_the_selected_orders_only(knowledge: Knowledge) -> None:
    orders = [order("a", 20, 3), order("b", 20, 3)]
    history = (order("old", 20, 3, status="completed"),)
    new_start = ("starting-dose", "warning")
    assert fired(
        knowledge, orders, hook="order-select", history=history, selections=["MedicationRequest/a"]
    ) == {("counselling", "info"), new_start}
    assert fired(
        knowledge,
        orders,
        hook="order-select",
        history=history,
        selections=["MedicationRequest/a", "MedicationRequest/b"],
    ) == {("counselling", "info"), ("max-daily-dose", "critical"), new_start}
    assert (
        fired(knowledge, orders, hook="order-select", selections=["MedicationRequest/x"]) == set()
    )


def test_one_rule_failing_leaves_the_others_and_says_so(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = knowledge.drugs[0].rules
    broken = next(r for r in rules if r.rule_id == "max-daily-dose")

    def boom(env: Any) -> bool:
        raise ZeroDivisionError

    monkeypatch.setattr(
        type(broken),
        "applies",
        lambda self, env: boom(env) if self is broken else self.condition({}, dict(env)) == [True],
    )
    cards = evaluate_hook(
        knowledge,
        "order-sign",
        context(order("a", 10, 2)),
        PatientRecord(patient(ADULT)),
        today=TODAY,
    )["cards"]
    topics = {(c["source"]["topic"]["code"], c["indicator"]) for c in cards}
    assert topics == {("max-daily-dose", "warning"), ("starting-dose", "warning")}
    failed = next(c for c in cards if c["source"]["topic"]["code"] == "max-daily-dose")
    assert "could not be completed" in failed["summary"]
    assert "ZeroDivisionError" in failed["detail"]


def test_the_loader_takes_the_suggestion_types_the_engine_builds() -> None:
    from fhir_module.engine._evaluate import SUGGESTION_BUILDERS
    from fhir_module.knowledge import SUGGESTION_PATHS

    assert set(SUGGESTION_BUILDERS) == set(SUGGESTION_PATHS) == {"remove", "update"}
