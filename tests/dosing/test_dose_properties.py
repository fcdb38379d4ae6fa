"""Invariants of the dose arithmetic, checked on generated orders (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_module.dosing import DailyDose, DoseUnknown, daily_dose, scaled_order

from ._orders import IT_2000, TAB_10, code, dosage, every, order, per_day, q, ratio, simple

FAST = settings(max_examples=60, deadline=None)
INTERNAL = "the dose could not be computed ("

amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100000), places=3)
doses = st.integers(min_value=1, max_value=10_000)
frequencies = st.integers(min_value=1, max_value=48)
periods = st.integers(min_value=1, max_value=1000)
period_units = st.sampled_from(["s", "min", "h", "d", "wk", "mo", "a"])


def _mg(result: DailyDose | DoseUnknown) -> Decimal:
    assert isinstance(result, DailyDose), result
    return result.mg_per_day


@FAST
@given(amounts)
def test_mass_units_round_trip_exactly(mg: Decimal) -> None:
    result = DailyDose("oral", mg, "", ())
    assert result.in_unit("ug") / 1000 == mg
    assert result.in_unit("g") * 1000 == mg
    assert DailyDose("oral", result.in_unit("ug") / 1000, "", ()).in_unit("mg") == mg


@FAST
@given(amounts)
def test_one_dose_in_mg_ug_or_g_is_the_same_daily_dose(knowledge: Any, mg: Decimal) -> None:
    in_mg = _mg(daily_dose(simple(float(mg)), knowledge))
    in_ug = _mg(daily_dose(simple(int(mg * 1000), "ug"), knowledge))
    in_g = _mg(daily_dose(simple(float(mg / 1000), "g"), knowledge))
    assert in_mg == in_ug == in_g == mg * 3


@FAST
@given(doses, doses, frequencies, periods, period_units)
def test_daily_dose_never_shrinks_as_the_dose_grows(
    knowledge: Any, a: int, b: int, frequency: int, period: int, unit: str
) -> None:
    low, high = sorted((a, b))
    timing = every(period, unit, frequency)
    assert _mg(daily_dose(simple(low, timing=timing), knowledge)) <= _mg(
        daily_dose(simple(high, timing=timing), knowledge)
    )


@FAST
@given(doses, frequencies, frequencies, periods, period_units)
def test_daily_dose_never_shrinks_as_frequency_grows(
    knowledge: Any, dose: int, a: int, b: int, period: int, unit: str
) -> None:
    low, high = sorted((a, b))
    assert _mg(daily_dose(simple(dose, timing=every(period, unit, low)), knowledge)) <= _mg(
        daily_dose(simple(dose, timing=every(period, unit, high)), knowledge)
    )


@FAST
@given(doses, frequencies, periods, periods, period_units)
def test_daily_dose_never_grows_with_the_period(
    knowledge: Any, dose: int, frequency: int, a: int, b: int, unit: str
) -> None:
    short, long = sorted((a, b))
    assert _mg(daily_dose(simple(dose, timing=every(short, unit, frequency)), knowledge)) >= _mg(
        daily_dose(simple(dose, timing=every(long, unit, frequency)), knowledge)
    )


@FAST
@given(doses)
def test_equivalent_timings_agree(knowledge: Any, dose: int) -> None:
    timings = [
        every(8, "h"),
        code("TID"),
        per_day(3),
        every(480, "min"),
        every(28800, "s"),
        {"repeat": {"timeOfDay": ["06:00:00", "14:00:00", "22:00:00"]}},
        {"code": {"text": "Q8H"}},
        every(24, "h", 3),
    ]
    found = {_mg(daily_dose(simple(dose, timing=timing), knowledge)) for timing in timings}
    assert found == {Decimal(dose) * 3}


def _cap(value: int) -> dict[str, Any]:
    return {"asNeededBoolean": True, "maxDosePerPeriod": ratio(value, "mg", 1, "d")}


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    """Tidy orders of every kind scaled_order must handle."""
    kind = draw(
        st.sampled_from(["mg", "ug", "tablets", "mL", "rate", "ratio", "range", "stu3", "prn-cap"])
    )
    value = draw(st.integers(min_value=1, max_value=400)) / draw(st.sampled_from([1, 2, 4, 10]))
    timing = every(draw(periods), draw(period_units), draw(frequencies))
    if kind == "mg":
        return simple(value, timing=timing)
    if kind == "ug":
        return simple(value * 100, "ug", timing=timing)
    if kind == "tablets":
        return order(dosage(q(value, "{tbl}"), timing), medication=TAB_10)
    if kind == "mL":
        return order(dosage(q(value, "mL"), timing), medication=IT_2000)
    if kind == "rate":
        return order({"doseAndRate": [{"rateQuantity": q(value, "mL/h")}]}, medication=IT_2000)
    if kind == "ratio":
        return order({"doseAndRate": [{"rateRatio": ratio(value, "ug", 1, "h")}]})
    if kind == "range":
        return order(
            dosage(
                None, timing, doseAndRate=[{"doseRange": {"low": q(value / 2), "high": q(value)}}]
            )
        )
    if kind == "stu3":
        return order({"timing": timing, "doseQuantity": q(value, "{tbl}")}, medication=TAB_10)
    return simple(value, timing=timing, **_cap(draw(st.integers(min_value=1, max_value=300))))


factors = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2)


@settings(max_examples=150, deadline=None)
@given(orders(), factors)
def test_scaled_order_stays_within_the_factor(
    knowledge: Any, original: dict[str, Any], factor: Decimal
) -> None:
    before = _mg(daily_dose(original, knowledge))
    after = _mg(daily_dose(scaled_order(original, factor), knowledge))
    assert after <= factor * before
    assert after > 0


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["mg", "mL", "{tbl}", "h", "d", "BID", "#m", "Medication"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "value",
                    "unit",
                    "code",
                    "coding",
                    "repeat",
                    "frequency",
                    "period",
                    "periodUnit",
                    "doseAndRate",
                    "doseQuantity",
                    "doseRange",
                    "high",
                    "rateQuantity",
                    "rateRatio",
                    "numerator",
                    "denominator",
                    "timing",
                    "route",
                    "text",
                    "sequence",
                    "asNeededBoolean",
                    "maxDosePerPeriod",
                    "reference",
                    "contained",
                    "ingredient",
                    "strength",
                    "id",
                    "resourceType",
                    "when",
                    "timeOfDay",
                    "event",
                    "count",
                    "system",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values, json_values, json_values)
def test_daily_dose_never_raises(
    knowledge: Any, medication: Any, dosages: Any, contained: Any
) -> None:
    shaped = {
        "medicationCodeableConcept": medication,
        "dosageInstruction": dosages,
        "contained": contained,
        "medicationReference": {"reference": "#m"},
    }
    for candidate in (shaped, dosages, {"dosageInstruction": [dosages]}):
        result = daily_dose(candidate, knowledge)
        assert isinstance(result, DailyDose | DoseUnknown)
        if isinstance(result, DoseUnknown):
            assert not result.reason.startswith(INTERNAL), result.reason


def _replace_somewhere(value: Any, path: list[int], new: Any) -> Any:
    """``value`` with the node chosen by ``path`` (indexes into its children) replaced."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = _replace_somewhere(value[key], path[1:], new)
    return copy


@settings(max_examples=200, deadline=None)
@given(orders(), st.lists(st.integers(0, 20), max_size=7), json_values)
def test_a_damaged_order_gives_an_answer_not_an_exception(
    knowledge: Any, original: dict[str, Any], path: list[int], junk: Any
) -> None:
    damaged = _replace_somewhere(original, path, junk)
    result = daily_dose(damaged, knowledge)
    assert isinstance(result, DailyDose | DoseUnknown)
    if isinstance(result, DoseUnknown):
        assert not result.reason.startswith(INTERNAL), result.reason


def _forget_remembered_arithmetic() -> None:
    from fhir_module.dosing import clear_memo

    clear_memo()


@FAST
@given(
    value=st.one_of(doses, st.floats(min_value=0.001, max_value=1000)),
    unit=st.sampled_from(["mg", "ug", "g", "{tbl}", "mL"]),
    frequency=frequencies,
)
def test_remembered_arithmetic_answers_as_a_fresh_computation(
    value: int | float, unit: str, frequency: int, knowledge: Any
) -> None:
    def request(dose: int | float) -> dict[str, Any]:
        return order(
            dosage(q(dose, unit), per_day(frequency)),
            medication=IT_2000 if unit == "mL" else TAB_10,
        )

    # The tables hold what earlier examples left: a key that says too little shows here.
    remembered = daily_dose(request(value), knowledge)
    twin = float(value) if type(value) is int else value  # 2 and 2.0 share one key
    twin_remembered = daily_dose(request(twin), knowledge)
    _forget_remembered_arithmetic()
    fresh = daily_dose(request(value), knowledge)
    assert isinstance(fresh, DailyDose), fresh
    assert remembered == fresh
    assert twin_remembered == fresh


def test_results_built_on_the_hot_path_are_ordinary_frozen_values(knowledge: Any) -> None:
    import dataclasses

    import pytest

    result = daily_dose(simple(20, "mg"), knowledge)
    assert isinstance(result, DailyDose)
    fields = (result.route, result.mg_per_day, result.arithmetic, result.assumptions)
    assert result == DailyDose(*fields, result.single_mg, result.per_day)
    assert (result.single_mg, result.per_day) == (20, 3)
    assert hash(result) == hash(DailyDose(*fields, result.single_mg, result.per_day))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.route = "intrathecal"  # type: ignore[misc]


def test_an_int_and_a_float_of_equal_value_each_read_as_their_own_number(knowledge: Any) -> None:
    # In Python 99999999999999991611392 == 1e23; as JSON numbers they are not the same dose,
    # and neither is a dose at all: both are figures no dose can be, whichever comes first.
    for value in (1e23, 99999999999999991611392, 1e23):
        result = daily_dose(simple(value, "mg", per_day(1)), knowledge)
        assert isinstance(result, DoseUnknown) and "implausible" in result.reason, result
    for value, expected in ((2.5, "2.5 mg = 2.5 mg/day"), (2, "2 mg = 2 mg/day")):
        result = daily_dose(simple(value, "mg", per_day(1)), knowledge)
        assert isinstance(result, DailyDose) and result.arithmetic == expected, result


def test_products_are_rounded_in_one_order_whatever_is_remembered(knowledge: Any) -> None:
    # 10 mg per 3 mL has no exact decimal: each product is rounded to 28 digits, the dose
    # times the strength first, then the doses a day, whether computed or remembered.
    from ._orders import medication

    med = medication(ratio(10, "mg", 3, "mL"), id="m1")
    request = order(
        dosage(q(0.7, "mL"), per_day(3)),
        medication=None,
        medicationReference={"reference": "#m1"},
        contained=[med],
    )
    for _ in range(2):
        _forget_remembered_arithmetic()
        first = daily_dose(request, knowledge)
        assert isinstance(first, DailyDose)
        assert first.mg_per_day == Decimal("7.000000000000000000000000002")
        assert daily_dose(request, knowledge) == first


def test_figures_of_more_than_28_digits_are_not_doses(knowledge: Any) -> None:
    # Shown rounded they would be a card of digits; no dose has 13 digits before its point.
    result = daily_dose(simple(10**30 + 1, "mg", per_day(1)), knowledge)
    assert isinstance(result, DoseUnknown), result
    assert result.reason == (
        "the dose value is an implausible figure (more than 10^12, beyond any dose)"
    )


def test_a_route_coding_with_an_unhashable_system_falls_back_to_the_route_text(
    knowledge: Any,
) -> None:
    route = {"coding": [{"system": ["x"], "code": "26643006"}], "text": "oral"}
    result = daily_dose(simple(2, "mg", per_day(3), route=route), knowledge)
    assert isinstance(result, DailyDose) and result.route == "oral", result
