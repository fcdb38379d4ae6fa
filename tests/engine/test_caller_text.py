"""Text the caller sends (a route, a unit, a finding's label) reaches a card cut to a
readable length with an ellipsis, however long it was sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DAY = date(2026, 11, 26)
LONG = "ж" * 10_000  # a letter no card text has
WORDS = "per " * 2_500  # long, but in words


def _order(req: dict[str, Any]) -> dict[str, Any]:
    order: dict[str, Any] = req["context"]["draftOrders"]["entry"][0]["resource"]
    return order


def route_text(text: str) -> Callable[[dict[str, Any]], None]:
    def edit(req: dict[str, Any]) -> None:
        _order(req)["dosageInstruction"][0]["route"] = {"text": text}

    return edit


def route_display(req: dict[str, Any]) -> None:
    route = _order(req)["dosageInstruction"][0]["route"]
    route["coding"] = [{"system": "http://snomed.info/sct", "code": "37161004", "display": LONG}]


def rate_denominator_code(req: dict[str, Any]) -> None:
    # 1 tablet per day as a rateRatio whose denominator code is unreadable but whose unit is 'd'
    dosage = _order(req)["dosageInstruction"][0]
    dosage.pop("timing", None)
    dosage["doseAndRate"] = [
        {
            "rateRatio": {
                "numerator": {"value": 200, "unit": "mg", "code": "mg"},
                "denominator": {"value": 1, "unit": "d", "code": LONG},
            }
        }
    ]


def rate_denominator_spaces(req: dict[str, Any]) -> None:
    # A denominator unit read as 'd' once its spaces are trimmed
    rate_denominator_code(req)
    ratio = _order(req)["dosageInstruction"][0]["doseAndRate"][0]["rateRatio"]
    ratio["denominator"] = {"value": 1, "code": "d" + " " * 10_000}


def dose_unit(req: dict[str, Any]) -> None:
    quantity = _order(req)["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    quantity.clear()
    quantity.update(value=2, unit=LONG)


def finding_label(req: dict[str, Any]) -> None:
    observation = req["prefetch"]["observations"]["entry"][1]["resource"]
    observation["valueCodeableConcept"]["text"] = LONG


# (id, example, edit, the most of the caller's text a card may repeat in one run)
CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], int]] = [
    ("route-text", "order-sign-route-unrecognised", route_text(LONG), 80),
    ("route-text-words", "order-sign-route-unrecognised", route_text(WORDS), 80),
    ("route-display", "order-sign-max-daily-dose-oral", route_display, 80),
    ("rate-denominator-code", "order-sign-max-daily-dose-oral", rate_denominator_code, 0),
    ("dose-unit", "order-sign-max-daily-dose-oral", dose_unit, 40),
    # A finding's label is one piece of its evidence, cut with the whole evidence.
    ("observation-label", "order-sign-pregnancy", finding_label, 400),
]


@pytest.mark.parametrize(
    ("example", "edit", "most"), [pytest.param(*row[1:], id=row[0]) for row in CASES]
)
def test_long_caller_text_is_cut_in_every_card(
    example: str, edit: Callable[[dict[str, Any]], None], most: int
) -> None:
    req = json.loads((EXAMPLES / f"{example}.request.json").read_text())
    edit(req)
    cards = evaluate(req, today=DAY)["cards"]
    assert cards
    for card in cards:
        text = card["summary"] + card["detail"]
        assert len(card["detail"]) < 2_000, (card["source"]["topic"]["code"], len(text))
        assert "ж" * (most + 1) not in text and "per " * (most // 4 + 1) not in text
    if most > 40:
        assert any("…" in card["detail"] for card in cards)


@pytest.mark.parametrize("frequency", [1e308, 10**300, 10**12 + 1], ids=str)
def test_a_frequency_no_order_has_is_dose_unverifiable_with_its_reason(frequency: Any) -> None:
    req = json.loads((EXAMPLES / "order-sign-max-daily-dose-oral.request.json").read_text())
    dosage = _order(req)["dosageInstruction"][0]
    dosage["timing"] = {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}}
    cards = {c["source"]["topic"]["code"]: c for c in evaluate(req, today=DAY)["cards"]}
    assert "max-daily-dose" not in cards
    detail = cards["dose-unverifiable"]["detail"]
    assert "the timing frequency is an implausible figure (more than 10^12" in detail
    assert "000000" not in detail


def test_a_unit_read_once_its_spaces_are_trimmed_is_shown_trimmed() -> None:
    req = json.loads((EXAMPLES / "order-sign-max-daily-dose-oral.request.json").read_text())
    rate_denominator_spaces(req)
    card = {c["source"]["topic"]["code"]: c for c in evaluate(req, today=DAY)["cards"]}
    assert "Daily dose: 200 mg/d = 200 mg/day." in card["max-daily-dose"]["detail"]
