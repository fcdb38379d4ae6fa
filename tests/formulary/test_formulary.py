"""A site's formulary: route categories that belong to their module, and fifty drug modules
derived from baclofen, each over-maximum order carded by its own drug and no other."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.knowledge import Knowledge, load_knowledge

from ._derive import (
    EXAMPLES,
    ORAL_ROUTE,
    Derived,
    cards_by_rule,
    derive,
    order,
    request,
    tablet,
)
from .test_conflicts import _buccal, _routes

DRUGS = 50
_DAY = date(2026, 11, 26)


def without_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [without_uuids(v) for v in value]
    return value


@pytest.fixture(scope="module")
def buccal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Derived, Knowledge]:
    """A module whose route-buccal holds the oral route's codes, and that names no oral."""
    derived = derive(tmp_path_factory.mktemp("buccal") / "zoraaine", "zoraaine", 1)
    _buccal(derived.folder)
    _routes(
        derived,
        "http://site.example.org/fhir/ValueSet/route-buccal|0.1.0",
        "http://fhir-module.org/fhir/ValueSet/route-intrathecal|0.1.0",
        "http://fhir-module.org/fhir/ValueSet/route-other-injection|0.1.0",
    )
    return derived, load_knowledge(derived.folder)


@pytest.mark.parametrize(
    "example",
    [
        "order-sign-max-daily-dose-oral",
        "order-sign-paediatric-daily-dose",
        "order-sign-two-orders-add-up",
        "order-sign-sandbox-pill-units",
    ],
)
def test_another_modules_route_categories_leave_baclofens_oral_orders_alone(
    buccal: tuple[Derived, Knowledge], example: str
) -> None:
    body = json.loads((EXAMPLES / f"{example}.request.json").read_text(encoding="utf-8"))
    saved = json.loads((EXAMPLES / f"{example}.response.json").read_text(encoding="utf-8"))
    response = evaluate(body, knowledge=buccal[1], today=_DAY)
    assert without_uuids(response) == without_uuids(saved)


def test_each_module_reads_the_route_with_its_own_value_sets(
    buccal: tuple[Derived, Knowledge],
) -> None:
    derived, knowledge = buccal
    baclofen, zoraaine = knowledge.drugs
    route = {"coding": [dict(ORAL_ROUTE)]}
    assert baclofen.terms.route_for(route) == "oral"
    assert zoraaine.terms.route_for(route) == "buccal"
    assert sorted(zoraaine.terms.route_sets) == ["buccal", "intrathecal", "other-injection"]
    # The module's own order by the oral route is buccal to it (its guidelines too).
    response = evaluate(request(order("mr-1", tablet(derived))), knowledge=knowledge)
    assert cards_by_rule(response) == [
        ("max-daily-dose", "Zoraaine 160 mg/day exceeds the 100 mg/day buccal maximum")
    ]


def _letters(n: int) -> str:
    return chr(ord("a") + n // 26) + chr(ord("a") + n % 26)


@pytest.fixture(scope="module")
def formulary(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Derived], Knowledge]:
    root = tmp_path_factory.mktemp("formulary")
    drugs = [derive(root / f"drug-{n:02d}", f"zor{_letters(n)}ine", n + 10) for n in range(DRUGS)]
    return drugs, load_knowledge(*(d.folder for d in drugs))


def test_the_formulary_loads_every_drug(formulary: tuple[list[Derived], Knowledge]) -> None:
    drugs, knowledge = formulary
    assert [d.id for d in knowledge.drugs] == ["baclofen", *(d.slug for d in drugs)]


def test_every_drugs_over_maximum_order_gets_its_own_card_and_no_other(
    formulary: tuple[list[Derived], Knowledge],
) -> None:
    drugs, knowledge = formulary
    for derived in drugs:
        response = evaluate(request(order("mr-1", tablet(derived))), knowledge=knowledge)
        name = derived.name[:1].upper() + derived.name[1:]
        assert ("max-daily-dose", f"{name} 160 mg/day exceeds the 100 mg/day oral maximum") in (
            cards_by_rule(response)
        ), derived.name
        for card in response["cards"]:
            assert card["source"]["label"] == f"{name} order safety (version 0.1.0)"
            assert derived.name in card["summary"].lower()
            others = [d.name for d in drugs if d is not derived and d.name in card["detail"]]
            assert not others and "baclofen" not in card["detail"].lower()


def test_one_call_of_several_drugs_cards_each(
    formulary: tuple[list[Derived], Knowledge],
) -> None:
    drugs, knowledge = formulary
    chosen = drugs[::10]
    body = request(*(order(f"mr-{i}", tablet(d)) for i, d in enumerate(chosen)))
    response = evaluate(body, knowledge=knowledge)
    maxima = [s for rule, s in cards_by_rule(response) if rule == "max-daily-dose"]
    assert sorted(maxima) == sorted(
        f"{d.name[:1].upper() + d.name[1:]} 160 mg/day exceeds the 100 mg/day oral maximum"
        for d in chosen
    )
