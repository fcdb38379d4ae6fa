"""The dose arithmetic's one memo: bounded, and never an answer a fresh computation would not
give (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_module.dosing import DailyDose, clear_memo, daily_dose
from fhir_module.dosing._memo import MAXSIZE, memo_sizes

from ._orders import IT_2000, TAB_10, TAB_20, dosage, every, order, q

MEDICATIONS = {"{tbl}": [TAB_10, TAB_20], "mL": [IT_2000]}


def _request(value: int | float, unit: str, timing: dict[str, Any], product: int) -> Any:
    choices = MEDICATIONS.get(unit)
    medication = choices[product % len(choices)] if choices else TAB_10
    return order(dosage(q(value, unit), timing), medication=medication)


def test_every_table_is_bounded_and_cleared(knowledge: Any) -> None:
    clear_memo()
    assert set(memo_sizes().values()) == {0}
    for i in range(MAXSIZE + 200):
        result = daily_dose(_request(1 + i / 1000, "{tbl}", every(1, "d", 3), i), knowledge)
        assert isinstance(result, DailyDose), result
    sizes = memo_sizes()
    assert max(sizes.values()) == MAXSIZE, sizes  # the dose arithmetic's table is full ...
    assert all(size <= MAXSIZE for size in sizes.values()), sizes  # ... and none above
    assert sizes["fhir_module.dosing._timing._every"] == 1  # one timing
    assert sizes["fhir_module.dosing._strength._product_strength"] == 2  # two products
    clear_memo()
    assert set(memo_sizes().values()) == {0}


values = st.one_of(
    st.integers(min_value=1, max_value=3),  # few values: the same keys come back
    st.sampled_from([1.0, 2.0, 0.5, 1e23, 10**23]),  # equal in Python, not the same JSON
    st.floats(min_value=0.001, max_value=1000, allow_nan=False),
)
timings = st.builds(
    every,
    st.integers(min_value=1, max_value=3),
    st.sampled_from(["h", "d", "wk"]),
    st.integers(min_value=1, max_value=4),
)
requests = st.tuples(
    values, st.sampled_from(["mg", "ug", "g", "{tbl}", "mL"]), timings, st.integers(0, 1)
)


def _twin(value: int | float) -> int | float:
    if type(value) is int:
        return float(value)
    return int(value) if value == int(value) else value


@settings(max_examples=60, deadline=None)
@given(st.lists(requests, min_size=1, max_size=12))
def test_the_warm_memo_answers_as_a_cleared_one(
    knowledge: Any, specs: list[tuple[int | float, str, dict[str, Any], int]]
) -> None:
    # The memo keeps what earlier orders of the batch (and earlier examples) left; each
    # order is then computed again on a cleared memo. A key that says too little shows here:
    # each order comes with its twins: the same dose as the other JSON number (2 and 2.0),
    # of the other product, and in milligrams.
    batch = [
        twin
        for value, unit, timing, product in specs
        for twin in (
            (value, unit, timing, product),
            (_twin(value), unit, timing, product),
            (value, unit, timing, product + 1),
            (value, "mg", timing, product),
        )
    ]
    warm = [repr(daily_dose(_request(*spec), knowledge)) for spec in batch]
    cold = []
    for spec in batch:
        clear_memo()
        cold.append(repr(daily_dose(_request(*spec), knowledge)))
    assert warm == cold
    again = [repr(daily_dose(_request(*spec), knowledge)) for spec in reversed(batch)]
    assert again == cold[::-1]
