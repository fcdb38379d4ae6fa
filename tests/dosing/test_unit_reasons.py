"""A unit the module cannot read is said to be not recognised, never put in a class it may
belong to: 'kg' is a mass and 'nL/h' a volume per time, the module just does not read them."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_module.dosing import DoseUnknown, daily_dose

from ._orders import INTRATHECAL, IT_2000, TAB_10, dosage, every, order, per_day, q, simple

CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "dose-kg",
        simple(2, "kg"),
        "the dose unit 'kg' is not a mass, tablet or volume unit the module recognises",
    ),
    (
        "dose-puff",
        simple(2, "puff"),
        "the dose unit 'puff' is not a mass, tablet or volume unit the module recognises",
    ),
    (
        "rate-nL-per-h",
        order(
            {"route": INTRATHECAL, "doseAndRate": [{"rateQuantity": q(5, "nL/h")}]},
            medication=IT_2000,
        ),
        "the rate unit 'nL/h' is not a mass or volume per time the module recognises",
    ),
    (
        "rate-kg-per-h",
        order(
            {"route": INTRATHECAL, "doseAndRate": [{"rateQuantity": q(5, "kg/h")}]},
            medication=IT_2000,
        ),
        "the rate unit 'kg/h' is not a mass or volume per time the module recognises",
    ),
    (
        "rate-ratio-per-fortnight",
        order(
            {
                "route": INTRATHECAL,
                "doseAndRate": [
                    {"rateRatio": {"numerator": q(5, "ug"), "denominator": q(1, "fortnight")}}
                ],
            },
            medication=IT_2000,
        ),
        "the rate denominator unit 'fortnight' is not a time unit the module recognises",
    ),
    (
        "period-fortnight",
        simple(10, timing=every(1, "fortnight")),
        "the timing periodUnit 'fortnight' is not a time unit the module recognises",
    ),
    (
        "cap-kg",
        order(
            dosage(
                q(1, "{tbl}"),
                per_day(3),
                maxDosePerPeriod={"numerator": q(1, "kg"), "denominator": q(1, "d")},
            ),
            medication=TAB_10,
        ),
        "the maximum dose unit 'kg' is not a mass, tablet or volume unit the module recognises",
    ),
]


@pytest.mark.parametrize(
    ("row_order", "words"), [pytest.param(*row[1:], id=row[0]) for row in CASES]
)
def test_an_unreadable_unit_is_named_as_not_recognised(
    knowledge: Any, row_order: dict[str, Any], words: str
) -> None:
    result = daily_dose(row_order, knowledge)
    said = [result.reason] if isinstance(result, DoseUnknown) else []
    assert words in "; ".join([*said, *result.assumptions]), result


def test_a_per_day_order_with_a_known_unit_is_unaffected(knowledge: Any) -> None:
    assert not isinstance(daily_dose(order(dosage(q(10), per_day(3))), knowledge), DoseUnknown)
