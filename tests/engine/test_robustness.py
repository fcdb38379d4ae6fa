"""No data shape, however mangled, makes the engine raise: it answers with cards."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import Knowledge

from .builders import condition, context, intrathecal, observation, order, patient

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    node = copy.deepcopy(node)
    target = node
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return node


BASE = {
    "draft": order("a", 10, 3),
    "intrathecal": intrathecal("b", 900),
    "patient": patient("2015"),
    "observation": observation(
        ("http://loinc.org", "82810-3"), ("http://loinc.org", "LA15173-0"), "2026-01-01"
    ),
    "condition": condition("http://hl7.org/fhir/sid/icd-10-cm", "J45.909"),
    "history": order("old", 5, 3, status="active", authored="2026-11-01"),
}
TARGETS = [(name, path) for name, resource in BASE.items() for path in paths(resource)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(TARGETS), value=JSON)
def test_mangled_data_never_raises(
    knowledge: Knowledge, target: tuple[str, Any], value: Any
) -> None:
    data = dict(BASE)
    name, path = target
    data[name] = replaced(BASE[name], path, value)
    record = PatientRecord(
        data["patient"], (data["observation"],), (data["condition"],), (data["history"],)
    )
    for hook in ("order-sign", "order-select"):
        ctx = context(
            data["draft"],
            data["intrathecal"],
            selections=["MedicationRequest/a", "MedicationRequest/b"],
        )
        response = evaluate_hook(knowledge, hook, ctx, record, today=date(2026, 11, 26))
        assert isinstance(response["cards"], list)
