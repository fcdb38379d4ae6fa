"""One row per order shape the module must read: tidy ones exactly, untidy ones honestly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fhir_module.dosing import DailyDose, DoseUnknown, daily_dose, order_route

from ._orders import (
    BACLOFEN,
    INTRATHECAL,
    IT_2000,
    IV,
    TAB_10,
    TAB_20,
    code,
    dosage,
    every,
    medication,
    order,
    per_day,
    q,
    ratio,
    simple,
)

IT_TEXT = {"text": "IT"}
TID = per_day(3)
ORAL_TEXT = {"text": "PO"}
PRN = {"asNeededBoolean": True}


def _it(*dosages: dict[str, Any], med: dict[str, Any] = IT_2000) -> dict[str, Any]:
    return order(*dosages, medication=med)


def _rate(**entry: Any) -> dict[str, Any]:
    return {"route": INTRATHECAL, "doseAndRate": [entry]}


def _contained(strength: dict[str, Any], dose: dict[str, Any]) -> dict[str, Any]:
    result = order(dosage(dose, TID), medication=None, medicationReference={"reference": "#med"})
    result["contained"] = [medication(strength, id="med")]
    return result


# (id, order, Medication passed by the caller, mg/day, route)
COMPUTED: list[tuple[str, dict[str, Any], dict[str, Any] | None, str, str]] = [
    # Dose shapes
    ("mg-doseQuantity", simple(5), None, "15", "oral"),
    (
        "doseRange-high",
        order(dosage(None, TID, doseAndRate=[{"doseRange": {"low": q(5), "high": q(10)}}])),
        None,
        "30",
        "oral",
    ),
    (
        "stu3-doseQuantity",
        order({"route": {"text": "PO"}, "timing": TID, "doseQuantity": q(10)}),
        None,
        "30",
        "oral",
    ),
    (
        "stu3-doseRange",
        order({"route": {"text": "PO"}, "timing": TID, "doseRange": {"high": q(20)}}),
        None,
        "60",
        "oral",
    ),
    (
        "doseAndRate-object",
        order({"route": {"text": "PO"}, "timing": TID, "doseAndRate": {"doseQuantity": q(10)}}),
        None,
        "30",
        "oral",
    ),
    (
        "dosageInstruction-object",
        order(medication=BACLOFEN) | {"dosageInstruction": dosage(q(10), TID)},
        None,
        "30",
        "oral",
    ),
    (
        "ordered-and-calculated",
        order(
            dosage(
                None, TID, doseAndRate=[{"doseQuantity": q(2, "{tbl}")}, {"doseQuantity": q(20)}]
            ),
            medication=TAB_10,
        ),
        None,
        "60",
        "oral",
    ),
    # Units
    ("unit-g", simple(0.01, "g"), None, "30", "oral"),
    ("unit-ug", simple(5000, "ug"), None, "15", "oral"),
    (
        "unit-mcg-text",
        order(dosage({"value": 500, "unit": "mcg"}, per_day(1), IT_TEXT)),
        None,
        "0.5",
        "intrathecal",
    ),
    (
        "unit-micro-sign",
        order(dosage(q(250, "\u00b5g"), per_day(2), IT_TEXT)),
        None,
        "0.5",
        "intrathecal",
    ),
    (
        "unit-greek-mu",
        order(dosage(q(250, "\u03bcg"), per_day(2), IT_TEXT)),
        None,
        "0.5",
        "intrathecal",
    ),
    ("unit-milligrams-text", simple(10, "milligrams", TID), None, "30", "oral"),
    ("unit-float-exact", simple(0.1), None, "0.3", "oral"),
    # Strength per tablet / mL
    ("tablet-product-10", order(dosage(q(2, "{tbl}"), TID), medication=TAB_10), None, "60", "oral"),
    ("tablet-product-20", order(dosage(q(1, "{tbl}"), TID), medication=TAB_20), None, "60", "oral"),
    (
        "TAB-code",
        order(
            dosage(
                {
                    "value": 1.5,
                    "unit": "TAB",
                    "code": "TAB",
                    "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                },
                per_day(2),
            ),
            medication=TAB_10,
        ),
        None,
        "30",
        "oral",
    ),
    (
        "tablets-text",
        order(dosage({"value": 2, "unit": "tablets"}, TID), medication=TAB_10),
        None,
        "60",
        "oral",
    ),
    (
        "contained-ingredient-tablet",
        _contained(ratio(10, "mg", 1, "{tbl}"), q(1, "{tbl}")),
        None,
        "30",
        "oral",
    ),
    (
        "passed-medication",
        order(
            dosage(q(1, "{tbl}"), TID),
            medication=None,
            medicationReference={"reference": "Medication/9"},
        ),
        medication(ratio(25, "mg", 1, "{tbl}")),
        "75",
        "oral",
    ),
    (
        "passed-medication-code",
        order(
            dosage(q(1, "{tbl}"), TID),
            medication=None,
            medicationReference={"reference": "Medication/9"},
        ),
        medication(code=TAB_20),
        "60",
        "oral",
    ),
    (
        "ingredient-ug-per-mL",
        _it(dosage(q(0.5, "mL"), per_day(1), IT_TEXT), med=BACLOFEN)
        | {"medicationCodeableConcept": None, "medicationReference": {"reference": "Medication/2"}},
        medication(ratio(2000, "ug", 1, "mL")),
        "1",
        "intrathecal",
    ),
    (
        "ingredient-10mg-per-20mL",
        _contained(ratio(10, "mg", 20, "mL"), q(2, "mL")),
        None,
        "3",
        "oral",
    ),
    (
        "name-rxnorm-tablet",
        order(dosage(q(2, "{tbl}"), per_day(2)), medication={"text": "baclofen 10 MG Oral Tablet"}),
        None,
        "40",
        "oral",
    ),
    (
        "name-lioresal-tablets",
        order(dosage(q(1, "tablet"), TID), medication={"text": "Lioresal 25 mg tablets"}),
        None,
        "75",
        "oral",
    ),
    (
        "name-mcg-per-mL",
        order(
            dosage(q(0.25, "mL"), per_day(2), IT_TEXT),
            medication={"text": "baclofen 2000 mcg/mL intrathecal solution"},
        ),
        None,
        "1",
        "intrathecal",
    ),
    (
        "name-MG-per-ML-display",
        order(
            dosage(q(2, "mL"), per_day(1), IT_TEXT),
            medication={
                "coding": [
                    {
                        "system": "urn:local",
                        "code": "x",
                        "display": "baclofen 0.5 MG/ML Injectable Solution",
                    }
                ]
            },
        ),
        None,
        "1",
        "intrathecal",
    ),
    (
        "reference-display-name",
        order(
            dosage(q(1, "{tbl}"), TID),
            medication=None,
            medicationReference={"display": "baclofen 10 mg tablet"},
        ),
        None,
        "30",
        "oral",
    ),
    # Timing
    (
        "frequencyMax",
        simple(
            10,
            timing={"repeat": {"frequency": 2, "frequencyMax": 4, "period": 1, "periodUnit": "d"}},
        ),
        None,
        "40",
        "oral",
    ),
    ("periodMax-uses-shorter", simple(10, timing=every(6, "h", periodMax=8)), None, "40", "oral"),
    ("every-8-h", simple(10, timing=every(8, "h")), None, "30", "oral"),
    ("every-5-h-rounds-up", simple(10, timing=every(5, "h")), None, "50", "oral"),
    ("every-360-min", simple(10, timing=every(360, "min")), None, "40", "oral"),
    ("every-21600-s", simple(10, timing=every(21600, "s")), None, "40", "oral"),
    ("twice-a-day-in-hours", simple(10, timing=every(24, "h", 2)), None, "20", "oral"),
    ("once-a-week", simple(70, timing=every(1, "wk")), None, "70", "oral"),
    ("once-a-month", simple(70, timing=every(1, "mo")), None, "70", "oral"),
    ("once-a-year", simple(70, timing=every(1, "a")), None, "70", "oral"),
    ("8-a-week", simple(10, timing=every(1, "wk", 8)), None, "20", "oral"),
    (
        "timeOfDay-3",
        simple(10, timing={"repeat": {"timeOfDay": ["08:00:00", "14:00:00", "20:00:00"]}}),
        None,
        "30",
        "oral",
    ),
    ("when-2", simple(10, timing={"repeat": {"when": ["MORN", "EVE"]}}), None, "20", "oral"),
    ("when-before-meals", simple(10, timing={"repeat": {"when": ["AC"]}}), None, "30", "oral"),
    (
        "dayOfWeek",
        simple(10, timing=every(1, "d", 2, dayOfWeek=["mon", "wed"])),
        None,
        "20",
        "oral",
    ),
    ("count-only", simple(5, timing={"repeat": {"count": 1}}), None, "5", "oral"),
    ("count-caps-frequency", simple(5, timing=every(1, "d", 3, count=2)), None, "10", "oral"),
    (
        "events-by-date",
        simple(
            5,
            timing={
                "event": ["2024-01-01T08:00:00Z", "2024-01-01T20:00:00Z", "2024-01-02T08:00:00Z"]
            },
        ),
        None,
        "10",
        "oral",
    ),
    ("code-text-tid", simple(5, timing={"code": {"text": "tid"}}), None, "15", "oral"),
    # As needed, and the order's own maximum
    ("prn-timing", simple(10, timing=every(6, "h"), **PRN), None, "40", "oral"),
    (
        "prn-capped",
        simple(
            10, timing=every(6, "h"), asNeededBoolean=True, maxDosePerPeriod=ratio(30, "mg", 1, "d")
        ),
        None,
        "30",
        "oral",
    ),
    (
        "prn-concept",
        simple(10, timing=every(4, "h"), asNeededCodeableConcept={"text": "spasm"}),
        None,
        "60",
        "oral",
    ),
    (
        "prn-max-only-tablets",
        order(
            dosage(
                q(1, "{tbl}"),
                None,
                asNeededBoolean=True,
                maxDosePerPeriod=ratio(4, "{tbl}", 24, "h"),
            ),
            medication=TAB_10,
        ),
        None,
        "40",
        "oral",
    ),
    (
        "cap-shorter-than-a-day",
        simple(
            20, timing=every(4, "h"), asNeededBoolean=True, maxDosePerPeriod=ratio(10, "mg", 4, "h")
        ),
        None,
        "60",
        "oral",
    ),
    (
        "non-prn-capped",
        simple(20, timing=per_day(4), maxDosePerPeriod=ratio(60, "mg", 1, "d")),
        None,
        "60",
        "oral",
    ),
    (
        "non-prn-cap-larger",
        simple(10, maxDosePerPeriod=ratio(60, "mg", 1, "d")),
        None,
        "30",
        "oral",
    ),
    (
        "cap-list-r5",
        simple(
            20,
            timing=per_day(4),
            maxDosePerPeriod=[ratio(60, "mg", 1, "d"), ratio(50, "mg", 1, "d")],
        ),
        None,
        "50",
        "oral",
    ),
    # Intrathecal infusions
    ("rate-ug-per-d", _it(_rate(rateQuantity=q(600, "ug/d"))), None, "0.6", "intrathecal"),
    ("rate-ug-per-h", _it(_rate(rateQuantity=q(25, "ug/h"))), None, "0.6", "intrathecal"),
    ("rate-mg-per-d", _it(_rate(rateQuantity=q(0.8, "mg/d"))), None, "0.8", "intrathecal"),
    (
        "rate-mL-per-h-product",
        _it(_rate(rateQuantity=q(0.0125, "mL/h"))),
        None,
        "0.6",
        "intrathecal",
    ),
    (
        "rate-mcg-per-day-text",
        _it(_rate(rateQuantity={"value": 300, "unit": "mcg/day"})),
        None,
        "0.3",
        "intrathecal",
    ),
    (
        "rate-mL-per-24h-ucum",
        _it(_rate(rateQuantity=q(0.5, "mL/(24.h)"))),
        None,
        "1",
        "intrathecal",
    ),
    (
        "rateRatio-ug-per-h",
        _it(_rate(rateRatio=ratio(50, "ug", 1, "h"))),
        None,
        "1.2",
        "intrathecal",
    ),
    (
        "rateRatio-mL-per-24h",
        _it(_rate(rateRatio=ratio(1, "mL", 24, "h"))),
        None,
        "2",
        "intrathecal",
    ),
    (
        "rateRange-high",
        _it(_rate(rateRange={"low": q(20, "ug/h"), "high": q(40, "ug/h")})),
        None,
        "0.96",
        "intrathecal",
    ),
    (
        "stu3-rate",
        _it({"route": INTRATHECAL, "rateQuantity": q(500, "ug/d")}),
        None,
        "0.5",
        "intrathecal",
    ),
    # Several instructions
    (
        "same-sequence-adds",
        order(dosage(q(10), per_day(2), sequence=1), dosage(q(20), per_day(1), sequence=1)),
        None,
        "40",
        "oral",
    ),
    (
        "sequences-largest",
        order(dosage(q(5), TID, sequence=1), dosage(q(10), TID, sequence=2)),
        None,
        "30",
        "oral",
    ),
    (
        "no-sequence-adds",
        order(dosage(q(10), per_day(2)), dosage(q(5), per_day(1))),
        None,
        "25",
        "oral",
    ),
    (
        "loose-adds-to-each-sequence",
        order(
            dosage(q(5), TID, sequence=1), dosage(q(10), TID, sequence=2), dosage(q(5), per_day(1))
        ),
        None,
        "35",
        "oral",
    ),
    # Routes
    (
        "route-iv",
        order(dosage(q(1, "mL"), per_day(1), IV), medication=IT_2000),
        None,
        "2",
        "other-injection",
    ),
    ("route-text-by-mouth", simple(10, route={"text": "by mouth"}), None, "30", "oral"),
    (
        "route-from-product",
        order(dosage(q(1, "{tbl}"), TID, None), medication=TAB_10),
        None,
        "30",
        "oral",
    ),
    (
        "route-from-form",
        order(
            dosage(q(10), TID, None),
            medication=None,
            medicationReference={"reference": "Medication/1"},
        ),
        medication(form={"coding": [{"system": "http://snomed.info/sct", "code": "385055001"}]}),
        "30",
        "oral",
    ),
    (
        "route-from-name",
        order(dosage(q(10), TID, None), medication={"text": "baclofen 10 MG Oral Tablet"}),
        None,
        "30",
        "oral",
    ),
    ("route-unknown", order(dosage(q(10), TID, None)), None, "30", "unknown"),
    # A stated route the knowledge does not classify is never replaced by the product's.
    (
        "route-unrecognised-text",
        order(dosage(q(10), TID, {"text": "per os"}), medication=TAB_10),
        None,
        "30",
        "unrecognised",
    ),
    (
        "r5-codeable-reference",
        order(dosage(q(1, "{tbl}"), TID), medication=None) | {"medication": {"concept": TAB_20}},
        None,
        "60",
        "oral",
    ),
]


@pytest.mark.parametrize(
    ("row_order", "med", "mg", "route"), [pytest.param(*row[1:], id=row[0]) for row in COMPUTED]
)
def test_daily_dose(
    knowledge: Any, row_order: dict[str, Any], med: dict[str, Any] | None, mg: str, route: str
) -> None:
    result = daily_dose(row_order, knowledge, med)
    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == Decimal(mg)
    assert result.route == route
    assert order_route(row_order, knowledge, med) == route


# (id, order, route, words the reason contains)
UNKNOWN: list[tuple[str, dict[str, Any], str, str]] = [
    ("no-timing", order(dosage(q(10))), "oral", "no timing"),
    (
        "timing-without-frequency",
        simple(10, timing={"repeat": {"boundsPeriod": {}}}),
        "oral",
        "the timing gives no frequency or times",
    ),
    (
        "prn-nothing",
        order(dosage(q(10), None, asNeededBoolean=True)),
        "oral",
        "as needed with neither a timing nor a maximum dose per period",
    ),
    (
        "puff",
        simple(2, "puff"),
        "oral",
        "the dose unit 'puff' is not a mass, tablet or volume unit",
    ),
    ("no-unit", simple(2, None), "oral", "the dose has no unit"),
    (
        "tablets-no-strength",
        order(dosage(q(1, "{tbl}"), TID)),
        "oral",
        "no strength per tablet is known",
    ),
    (
        "mL-but-tablet-product",
        order(dosage(q(1, "mL"), TID), medication=TAB_10),
        "oral",
        "is per {tbl}",
    ),
    ("boolean-value", simple(True), "oral", "the dose value True is not a number"),
    ("negative-value", simple(-5), "oral", "is not positive"),
    ("zero-value", simple(0), "oral", "is not positive"),
    ("nan-value", simple(float("nan")), "oral", "is not a number"),
    ("text-value", simple("10"), "oral", "is not a number"),
    ("zero-period", simple(10, timing=every(0, "h")), "oral", "timing period 0 is not positive"),
    ("bad-period-unit", simple(10, timing=every(1, "fortnight")), "oral", "not a time unit"),
    (
        "frequency-without-period",
        simple(10, timing={"repeat": {"frequency": 3}}),
        "oral",
        "with no period",
    ),
    (
        "open-range",
        order(dosage(None, TID, doseAndRate=[{"doseRange": {"low": q(5)}}])),
        "oral",
        "no upper end",
    ),
    (
        "open-comparator",
        order(dosage({"value": 10, "unit": "mg", "comparator": ">="}, TID)),
        "oral",
        "open-ended",
    ),
    (
        "mixed-routes",
        order(dosage(q(10), TID), dosage(q(1, "mL"), per_day(1), IV)),
        "oral",
        "different routes",
    ),
    ("no-dosage", order(), "unknown", "no dosage instructions"),
    (
        "bad-rate-unit",
        _it(_rate(rateQuantity=q(5, "ug"))),
        "intrathecal",
        "not a mass or volume per time",
    ),
    (
        "ambiguous-ingredients",
        _contained(ratio(10, "mg", 1, "{tbl}"), q(1, "{tbl}"))
        | {
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "med",
                    "ingredient": [
                        {"strength": ratio(10, "mg", 1, "{tbl}")},
                        {"strength": ratio(5, "mg", 1, "{tbl}")},
                    ],
                }
            ]
        },
        "oral",
        "several ingredient",
    ),
    ("not-an-object", [], "unknown", "not a JSON object"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("row_order", "route", "words"), [pytest.param(*row[1:], id=row[0]) for row in UNKNOWN]
)
def test_dose_unknown(knowledge: Any, row_order: dict[str, Any], route: str, words: str) -> None:
    result = daily_dose(row_order, knowledge)
    assert isinstance(result, DoseUnknown), result
    assert words in result.reason
    assert result.route == route


ARITHMETIC = [
    ("mg", simple(20, timing=per_day(4)), "20 mg x 4 a day = 80 mg/day"),
    (
        "tablets",
        order(dosage(q(2, "{tbl}"), TID), medication=TAB_10),
        "2 tablets x 10 mg/tablet x 3 a day = 60 mg/day",
    ),
    (
        "mL-once",
        order(dosage(q(0.5, "mL"), per_day(1), INTRATHECAL), medication=IT_2000),
        "0.5 mL x 2000 ug/mL = 1000 ug/day",
    ),
    ("rate", _it(_rate(rateQuantity=q(50, "ug/h"))), "50 ug/h over 24 h = 1200 ug/day"),
    (
        "capped",
        simple(20, timing=per_day(4), maxDosePerPeriod=ratio(60, "mg", 1, "d")),
        "20 mg x 4 a day = 80 mg/day; capped by the order's maximum 60 mg per 1 d = 60 mg/day",
    ),
    (
        "sum",
        order(dosage(q(10), per_day(2)), dosage(q(5), per_day(1))),
        "(10 mg x 2 a day = 20 mg/day) + (5 mg = 5 mg/day) = 25 mg/day",
    ),
    (
        "sequences",
        order(dosage(q(5), TID, sequence=1), dosage(q(10), TID, sequence=2)),
        "sequence 1: 5 mg x 3 a day = 15 mg/day; sequence 2: 10 mg x 3 a day = 30 mg/day; "
        "the largest: 30 mg/day",
    ),
]


@pytest.mark.parametrize(
    ("row_order", "words"), [pytest.param(*row[1:], id=row[0]) for row in ARITHMETIC]
)
def test_arithmetic_reads_right(knowledge: Any, row_order: dict[str, Any], words: str) -> None:
    result = daily_dose(row_order, knowledge)
    assert isinstance(result, DailyDose), result
    assert result.arithmetic == words


ASSUMED = [
    (
        "product",
        order(dosage(q(1, "{tbl}"), TID), medication=TAB_10),
        "strength 10 mg per tablet taken from the product RxNorm 197391 baclofen 10 MG Oral Tablet",
    ),
    (
        "object",
        order({"route": ORAL_TEXT, "timing": TID, "doseAndRate": {"doseQuantity": q(5)}}),
        "doseAndRate sent as an object; read as one entry",
    ),
    (
        "stu3",
        order({"route": ORAL_TEXT, "timing": TID, "doseQuantity": q(5)}),
        "dose sent directly on the Dosage (STU3 shape); read as one doseAndRate entry",
    ),
    (
        "prn",
        simple(10, timing=every(6, "h"), asNeededBoolean=True),
        "as needed: the most the order allows",
    ),
    (
        "no-sequence",
        order(dosage(q(10), per_day(2)), dosage(q(5), per_day(1))),
        "dosage instructions without a sequence read as taken at the same time (added)",
    ),
    (
        "week",
        simple(70, timing=every(1, "wk")),
        "1 time(s) every 1 wk: the amount on one dosing day counts",
    ),
    (
        "dayOfWeek",
        simple(10, timing=every(1, "d", dayOfWeek=["mon", "wed"])),
        "given on mon, wed only: the amount on a dosing day counts",
    ),
    (
        "every-5-h",
        simple(10, timing=every(5, "h")),
        "1 time(s) every 5 h is 4.8 doses a day on average; up to 5 can fall on one day",
    ),
    (
        "route-inferred",
        order(dosage(q(1, "{tbl}"), TID, None), medication=TAB_10),
        "route not stated: oral from the product",
    ),
]


@pytest.mark.parametrize(
    ("row_order", "words"), [pytest.param(*row[1:], id=row[0]) for row in ASSUMED]
)
def test_assumptions_are_stated(knowledge: Any, row_order: dict[str, Any], words: str) -> None:
    result = daily_dose(row_order, knowledge)
    assert isinstance(result, DailyDose), result
    assert words in result.assumptions


@pytest.mark.parametrize(
    ("abbreviation", "times"),
    [
        ("QD", 1),
        ("BID", 2),
        ("TID", 3),
        ("QID", 4),
        ("QOD", 1),
        ("Q4H", 6),
        ("Q6H", 4),
        ("Q8H", 3),
        ("Q12H", 2),
        ("AM", 1),
        ("PM", 1),
        ("BED", 1),
        ("WK", 1),
        ("MO", 1),
        ("Q1H", 24),
        ("Q2H", 12),
        ("Q3H", 8),
    ],
)
def test_timing_codes(knowledge: Any, abbreviation: str, times: int) -> None:
    result = daily_dose(simple(5, timing=code(abbreviation)), knowledge)
    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 5 * times


def test_in_unit(knowledge: Any) -> None:
    result = daily_dose(simple(0.5), knowledge)
    assert isinstance(result, DailyDose)
    assert result.in_unit("ug") == 1500
    assert result.in_unit("mcg") == 1500
    assert result.in_unit("g") == Decimal("0.0015")
    with pytest.raises(ValueError, match="not a mass unit"):
        result.in_unit("mL")


class _BrokenKnowledge:
    def product_for(self, concept: Any) -> None:
        raise RuntimeError("lookup failed")

    def route_for(self, concept: Any) -> None:
        raise RuntimeError("lookup failed")

    def route_for_form(self, concept: Any) -> None:
        return None


def test_a_failing_knowledge_gives_an_answer_not_an_exception() -> None:
    result = daily_dose(simple(10), _BrokenKnowledge())
    assert isinstance(result, DoseUnknown)
    assert "RuntimeError" in result.reason
    assert order_route(simple(10), _BrokenKnowledge()) == "unknown"
