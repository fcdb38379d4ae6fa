"""A duplicate-therapy card for a new order whose daily dose cannot be computed gives no
combined figure and says nothing about the maximum: a sum that leaves the new order out
must never read as "within the maximum"."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate

EXAMPLE = Path(__file__).parents[2] / "examples" / "order-sign-duplicate-therapy.request.json"


def _duplicate_card(request: dict[str, Any]) -> dict[str, Any]:
    cards = evaluate(request)["cards"]
    (card,) = [c for c in cards if c["source"]["topic"]["code"] == "duplicate-therapy"]
    return card


def test_the_example_still_states_the_combined_figure() -> None:
    card = _duplicate_card(json.loads(EXAMPLE.read_text()))
    assert "Together: " in card["detail"] and "maximum" in card["detail"]


@pytest.mark.parametrize(
    "dose",
    [
        {"value": 1, "unit": "puff", "code": "{puff}", "system": "http://unitsofmeasure.org"},
        {"value": 1e13, "unit": "mg", "code": "mg", "system": "http://unitsofmeasure.org"},
    ],
)
def test_an_unknown_new_dose_gives_no_combined_figure(dose: dict[str, Any]) -> None:
    request = json.loads(EXAMPLE.read_text())
    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    changed = copy.deepcopy(order)
    changed["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = dose
    request["context"]["draftOrders"]["entry"][0]["resource"] = changed
    detail = _duplicate_card(request)["detail"]
    assert "This order: cannot be computed" in detail
    assert "Together: cannot be computed." in detail
    assert "within" not in detail and "above the" not in detail
