"""The FHIRPath results cache of a hook call never answers with another value's result."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fhir_module.fhirpath import Environment, Results, compile_expression, evaluate
from fhir_module.knowledge import VARIABLES

# Values a cache keyed by plain equality would confuse (1 == 1.0 == True, 0.0 == -0.0).
LOOKALIKES: list[Any] = [
    1,
    1.0,
    True,
    Decimal("1.0"),
    0,
    0.0,
    -0.0,
    False,
    "1",
    [1],
    [1.0],
    {"a": 1},
    {"a": 1.0},
    {"a": 1, "b": 2},
    {"b": 2, "a": 1},
    [],
    None,
]


@pytest.mark.parametrize("text", ["%dailyDose", "%dailyDose.toString()", "%dailyDose = 1"])
def test_each_value_gets_its_own_result(text: str) -> None:
    compiled = compile_expression(text, VARIABLES)
    results = Results()
    for value in LOOKALIKES * 2:
        env = Environment(results, {name: [] for name in VARIABLES} | {"dailyDose": value})
        try:
            expected = compiled({}, dict(env))
        except Exception as exc:  # noqa: BLE001 - then the cache must raise alike
            with pytest.raises(type(exc)):
                evaluate(compiled, env)
            continue
        assert evaluate(compiled, env) == expected
        assert [type(v) for v in evaluate(compiled, env)] == [type(v) for v in expected]


def test_a_container_changed_in_place_is_not_in_the_cache() -> None:
    compiled = compile_expression("%guideline.maximum.maxDaily", VARIABLES)
    results = Results()
    first = {"maximum": {"maxDaily": 100}}
    second = {"maximum": {"maxDaily": 80}}
    base = {name: [] for name in VARIABLES}
    assert evaluate(compiled, Environment(results, base | {"guideline": first})) == [100]
    assert evaluate(compiled, Environment(results, base | {"guideline": second})) == [80]


def test_only_the_variables_read_make_the_key() -> None:
    assert compile_expression("%route = 'oral' and %dose.computed", VARIABLES).reads == (
        "dose",
        "route",
    )
    assert compile_expression("%`route`.exists()", VARIABLES).reads == ("route",)
    assert compile_expression("true", VARIABLES).reads == ()


@pytest.mark.parametrize("text", ["now() > @2020", "today().exists()", "%route.trace('r')"])
def test_clock_and_trace_are_never_cached(text: str) -> None:
    assert compile_expression(text, VARIABLES).reads is None
