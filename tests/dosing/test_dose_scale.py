"""scaled_order: the "change the order to the limit" suggestion's arithmetic."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

import fhir_module.dosing as dosing
from fhir_module.dosing import DailyDose, daily_dose, scaled_order

from ._orders import IT_2000, TAB_10, dosage, order, per_day, q, ratio, simple


def _dose(scaled: dict[str, Any]) -> Any:
    return scaled["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]


@pytest.mark.parametrize(
    ("original", "factor", "value"),
    [
        pytest.param(
            order(dosage(q(3, "{tbl}"), per_day(3)), medication=TAB_10),
            "0.6",
            1.5,
            id="tablets-half-steps",
        ),
        pytest.param(
            order(dosage(q(1.5, "mL"), per_day(1)), medication=IT_2000),
            "0.333",
            0.49,
            id="mL-hundredths",
        ),
        pytest.param(simple(45), "0.7407", 33.3, id="mg-three-digits"),
        pytest.param(simple(1234), "0.5", 617, id="mg-whole"),
        pytest.param(
            order(dosage(q(0.5, "{tbl}"), per_day(3)), medication=TAB_10),
            "0.9",
            0.45,
            id="half-tablet-never-zero",
        ),
    ],
)
def test_rounds_down_to_a_givable_amount(
    original: dict[str, Any], factor: str, value: float
) -> None:
    assert _dose(scaled_order(original, Decimal(factor))) == value


def test_scales_every_shape_and_leaves_the_original_alone(knowledge: Any) -> None:
    original = order(
        {
            "doseQuantity": q(20),
            "timing": per_day(4),
            "text": "20 mg four times a day",
            "maxDosePerPeriod": ratio(80, "mg", 1, "d"),
        },
        {"doseAndRate": {"rateRatio": ratio(50, "ug", 1, "h")}, "sequence": 2},
        {
            "doseAndRate": [
                {"doseRange": {"low": q(10), "high": q(20)}},
                {"rateRange": {"low": q(10, "ug/h"), "high": q(20, "ug/h")}},
            ]
        },
    )
    kept = copy.deepcopy(original)
    scaled = scaled_order(original, Decimal("0.5"))
    assert original == kept
    first, second, third = scaled["dosageInstruction"]
    # the copy is R4: the STU3 dose and the doseAndRate object become doseAndRate arrays
    assert "doseQuantity" not in first
    assert first["doseAndRate"] == [{"doseQuantity": {**q(20), "value": 10}}]
    assert first["maxDosePerPeriod"]["numerator"]["value"] == 40
    assert "text" not in first
    assert second["doseAndRate"][0]["rateRatio"]["numerator"]["value"] == 25
    assert second["doseAndRate"][0]["rateRatio"]["denominator"]["value"] == 1
    assert third["doseAndRate"][0]["doseRange"]["high"]["value"] == 10
    assert third["doseAndRate"][1]["rateRange"]["high"]["value"] == 10


def test_scaled_to_the_limit(knowledge: Any) -> None:
    original = simple(40, timing=per_day(4))
    before = daily_dose(original, knowledge)
    assert isinstance(before, DailyDose)
    after = daily_dose(scaled_order(original, Decimal(100) / before.mg_per_day), knowledge)
    assert isinstance(after, DailyDose)
    assert after.mg_per_day == 100


@pytest.mark.parametrize("factor", ["0", "1", "-0.5", "1.5"])
def test_factor_must_lie_between_zero_and_one(factor: str) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        scaled_order(simple(10), Decimal(factor))


def test_public_names_are_sorted_and_exist() -> None:
    assert dosing.__all__ == sorted(dosing.__all__)
    assert all(hasattr(dosing, name) for name in dosing.__all__)
