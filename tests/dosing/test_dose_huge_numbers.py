"""Numbers no real order carries: thousands of digits, or beyond what a double holds.

Each is read as "cannot compute, because the ... is out of range", never carried into
the arithmetic (where it would only grow) and never a crash.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_module.dosing import DailyDose, DoseUnknown, daily_dose

from ._orders import dosage, every, medication, order, per_day, q, ratio, simple

HUGE = 10**4000  # within what json.loads reads (4300 digits), far beyond any dose
JUST_BEYOND = 2 * 10**308  # one digit past the largest double


def _cases(big: int) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("dose", simple(big), "dose value"),
        ("negative dose", simple(-big), "dose value"),
        ("frequency", simple(5, timing=per_day(big)), "timing frequency"),
        (
            "frequencyMax",
            simple(5, timing=every(1, "d", 2, frequencyMax=big)),
            "timing frequencyMax",
        ),
        ("period", simple(5, timing=every(big, "h")), "timing period"),
        ("periodMax", simple(5, timing=every(1, "d", 2, periodMax=big)), "timing periodMax"),
        ("count", simple(5, timing=every(1, "d", 2, count=big)), "timing count"),
        (
            "rate",
            order(
                dosage(route=None, doseAndRate=[{"rateQuantity": q(big, "ug/h")}]),
                medication={"text": "baclofen intrathecal"},
            ),
            "rate value",
        ),
        (
            "dose range",
            order(dosage(timing=per_day(3), doseAndRate=[{"doseRange": {"high": q(big)}}])),
            "value",
        ),
        (
            "ingredient strength",
            order(
                dosage(q(1, "{tbl}"), per_day(3)),
                medication=None,
                medicationReference={"reference": "#m"},
                contained=[medication(ratio(big, "mg", 1, "{tbl}"), id="m")],
            ),
            "ingredient strength numerator value",
        ),
        (
            "strength in the name",
            order(
                dosage(q(1, "{tbl}"), per_day(3)),
                medication={"text": f"baclofen {big} MG Oral Tablet"},
            ),
            "strength in the name",
        ),
    ]


@pytest.mark.parametrize("big", [HUGE, JUST_BEYOND], ids=["4000 digits", "beyond a double"])
@pytest.mark.parametrize("case", range(len(_cases(1))), ids=[c[0] for c in _cases(1)])
def test_a_number_beyond_a_double_cannot_be_computed(knowledge: Any, big: int, case: int) -> None:
    _, request, what = _cases(big)[case]
    result = daily_dose(request, knowledge)
    assert isinstance(result, DoseUnknown), result
    said = " ".join((result.reason, *result.assumptions))
    assert "out of range" in said and what in said, said
    assert str(big)[:30] not in said  # the number is not shown


@pytest.mark.parametrize(
    "cap",
    [ratio(HUGE, "mg", 1, "d"), ratio(30, "mg", HUGE, "d"), ratio(JUST_BEYOND, "mg", 1, "d")],
    ids=["amount", "period", "amount beyond a double"],
)
def test_an_order_maximum_out_of_range_is_not_applied_and_says_why(
    knowledge: Any, cap: dict[str, Any]
) -> None:
    request = order(dosage(q(5), every(4, "h"), asNeededBoolean=True, maxDosePerPeriod=cap))
    result = daily_dose(request, knowledge)
    assert isinstance(result, DailyDose), result
    assert any(
        "maximum dose per period was not applied" in a and "out of range" in a
        for a in result.assumptions
    ), result.assumptions


@pytest.mark.parametrize("value", [10**12, 10**12 - 0.5, 333_333_333_333, 1e-300])
def test_large_numbers_up_to_a_plausible_figure_are_still_computed(
    knowledge: Any, value: Any
) -> None:
    # Absurd as doses, but readable: the maximum-dose rules judge them.
    result = daily_dose(simple(value, timing=per_day(1)), knowledge)
    assert isinstance(result, DailyDose), result
    assert len(result.arithmetic) < 1200


IMPLAUSIBLE: list[tuple[str, dict[str, Any], str]] = [
    ("dose 10^30", simple(10**30 + 1), "dose value"),
    ("dose 1.7e308", simple(1.7e308), "dose value"),
    ("dose of 308 digits", simple(int(1.7e308)), "dose value"),
    ("frequency 1e308", simple(5, timing=every(1, "d", 1e308)), "timing frequency"),
    ("frequency of 300 digits", simple(5, timing=per_day(10**300)), "timing frequency"),
    ("period 1e13 h", simple(5, timing=every(1e13, "h")), "timing period"),
    (
        "rate",
        order(
            dosage(route=None, doseAndRate=[{"rateQuantity": q(2e12, "ug/h")}]),
            medication={"text": "baclofen intrathecal"},
        ),
        "rate value",
    ),
    (
        "strength in the name",
        order(
            dosage(q(1, "{tbl}"), per_day(3)),
            medication={"text": f"baclofen {10**13} MG Oral Tablet"},
        ),
        "strength in the name",
    ),
    # Each figure plausible, the daily amount not: a trillion mg three times a day.
    ("daily amount", simple(10**12), "daily amount"),
    (
        "daily amount of two instructions",
        order(dosage(q(10**12), per_day(1)), dosage(q(10**12), per_day(1))),
        "daily amount",
    ),
]


@pytest.mark.parametrize(
    ("request_", "what"), [pytest.param(*row[1:], id=row[0]) for row in IMPLAUSIBLE]
)
def test_a_figure_no_dose_can_be_cannot_be_computed(
    knowledge: Any, request_: dict[str, Any], what: str
) -> None:
    result = daily_dose(request_, knowledge)
    assert isinstance(result, DoseUnknown), result
    unit = " mg" if what == "daily amount" else ""
    assert f"the {what} is an implausible figure (more than 10^12{unit}, beyond any dose)" in (
        result.reason
    ), result.reason
    assert "000000" not in result.reason and len(result.reason) < 200
