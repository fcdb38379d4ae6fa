"""The fast FHIRPath evaluator gives fhirpathpy's results, on every example and on random values."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_module import evaluate
from fhir_module.fhirpath import Compiled, Fallback, compile_expression, compiled
from fhir_module.knowledge import Knowledge, render_value
from fhir_module.knowledge._cpg import check_text_values

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def same(a: list[Any], b: list[Any]) -> bool:
    """Equal items, numbers by value (fhirpathpy gives Decimals), and the same card text."""

    def one(x: Any, y: Any) -> bool:
        if isinstance(x, bool) or isinstance(y, bool):
            return type(x) is type(y) and x == y
        if isinstance(x, int | float | Decimal) and isinstance(y, int | float | Decimal):
            return Decimal(str(x)) == Decimal(str(y))
        return type(x) is type(y) and bool(x == y)

    return (
        len(a) == len(b)
        and all(one(x, y) for x, y in zip(a, b, strict=True))
        and render_value(a) == render_value(b)
    )


def test_every_condition_of_the_module_is_fast(knowledge: Knowledge) -> None:
    assert all(rule.condition.fast for drug in knowledge.drugs for rule in drug.rules)


def test_every_card_text_expression_of_the_module_is_fast(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow: set[str] = set()
    original = Compiled.__call__

    def record(self: Compiled, resource: Any, variables: Any = None) -> list[Any]:
        if not self.fast:
            slow.add(self.text)
        return original(self, resource, variables)

    monkeypatch.setattr(Compiled, "__call__", record)
    for path in sorted(EXAMPLES.glob("*.request.json")):
        evaluate(json.loads(path.read_text()), knowledge=knowledge, today=date(2026, 11, 26))
    assert not slow


def test_every_card_text_for_other_engines_is_fast(knowledge: Knowledge) -> None:
    """The dynamic values that repeat a rule's card texts, dry-run at load, run fast."""
    texts = [
        text
        for f in knowledge.files
        if f.resource["resourceType"] == "PlanDefinition"
        for action in f.resource["action"]
        for text in check_text_values(action)
    ]
    assert len(texts) > 20
    assert all(compiled(text).fast for text in texts)


def test_fast_results_equal_fhirpathpy_on_every_example(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Compiled, dict[str, Any]]] = []
    original = Compiled.__call__

    def record(self: Compiled, resource: Any, variables: Any = None) -> list[Any]:
        if self.fast:
            seen.append((self, dict(variables)))
        return original(self, resource, variables)

    monkeypatch.setattr(Compiled, "__call__", record)
    for path in sorted(EXAMPLES.glob("*.request.json")):
        evaluate(json.loads(path.read_text()), knowledge=knowledge, today=date(2026, 11, 26))
    assert len(seen) > 300
    for found, env in seen:
        assert same(original(found, {}, env), found.slow(env)), found.text


VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5)
    | st.sampled_from(["oral", "intrathecal", "", "a"])
    | st.lists(st.booleans(), max_size=2)
)
EXPRESSIONS = [
    "%a = %b",
    "%a != 'oral'",
    "%a > %b",
    "%a <= %b",
    "%a - %b > %c",
    "%a + %b",
    "%a and %b",
    "%a or %b",
    "%a.not()",
    "%a.exists() and %b.empty()",
    "%o.x.y > %a",
    "(%a or %b) and %c.not()",
    "%o.x.exists()",
    "true and %a",
    "iif(%a, %b, %c)",
    "iif(%a, %b)",
    "iif(%a.exists(), ', ' + %b.toString() + ' days', '')",
    "iif(%a = true, 'above ' + %o.x.y.toString(), iif(%a = false, 'within', ''))",
    "%a.toString()",
    "%l.select(' ' + $this).join('')",
    "%l.join(', ')",
    "%l.select($this + %a).join(%b)",
    "%l.exists() and %l.empty().not()",
    "%a & %b",
    "'The patient\\'s dose (' & (%l).select(toString()).join(', ') & ')\\n\\nSource: \"' & %a",
    "(%l).select(toString()).join(', ') & (%o.x.y).select(toString()).join(', ')",
    "%l.select(toString() & '!').join('\\t')",
    "(%a | %b | %l).select(toString()).join(', ')",
    "(%l | %l).join('; ')",
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=st.sampled_from(EXPRESSIONS),
    a=VALUES,
    b=VALUES,
    c=VALUES,
    o=st.dictionaries(st.sampled_from(["x"]), st.dictionaries(st.sampled_from(["y"]), VALUES))
    | VALUES,
    l=st.lists(st.sampled_from(["a", "b c", ""]), max_size=3)
    | st.lists(st.none() | st.just("a") | st.just(["b"]), max_size=2)
    | VALUES,
)
def test_fast_results_equal_fhirpathpy_on_random_values(
    expression: str,
    a: Any,
    b: Any,
    c: Any,
    o: Any,
    l: Any,  # noqa: E741
) -> None:
    compiled = compile_expression(expression, ["a", "b", "c", "o", "l"])
    assert compiled.fast
    env = {"a": a, "b": b, "c": c, "o": o, "l": l}
    try:
        slow = compiled.slow(env)
    except Exception:
        return  # fhirpathpy refuses these values; the engine reports such a rule as failed
    try:
        fast = compiled._fast(env)  # type: ignore[misc]
    except Fallback:
        return
    assert same(fast, slow), (expression, env, fast, slow)


@pytest.mark.parametrize(
    "value",
    [
        float("inf"),
        float("-inf"),
        float("nan"),
        1e300,
        5e-324,
        Decimal("NaN"),
        Decimal("Infinity"),
        [None, "a"],
        [["a"], "b"],
        None,
    ],
    ids=repr,
)
@pytest.mark.parametrize(
    "expression",
    [
        "%a.toString()",
        "'x' + %a.toString()",
        "%a.exists()",
        "%a.join(',')",
        "%a.select($this).join('')",
    ],
)
def test_values_fhirpathpy_renders_its_own_way_are_left_to_it(expression: str, value: Any) -> None:
    compiled = compile_expression(expression, ["a"])
    assert compiled.fast
    env = {"a": value}
    try:
        slow = compiled.slow(env)
    except Exception:
        slow = None  # fhirpathpy refuses: the fast path must not answer either
    try:
        fast = compiled._fast(env)  # type: ignore[misc]
    except Fallback:
        return
    assert slow is not None and same(fast, slow), (expression, value, fast, slow)


def test_join_with_a_bad_separator_is_refused_even_on_nothing() -> None:
    compiled = compile_expression("%a.join(%b)", ["a", "b"])
    with pytest.raises(Fallback):
        compiled._fast({"a": [], "b": ["x", "y"]})  # type: ignore[misc]


def test_a_route_coding_that_cannot_be_looked_up_leaves_the_route_text(
    knowledge: Knowledge,
) -> None:
    route = {"coding": [{"system": ["x"], "code": "26643006"}], "text": "oral"}
    assert knowledge.route_for(route) == "oral"
