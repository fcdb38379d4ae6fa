"""The variables rule expressions read: listed once, built once, documented once.

The loader compiles every expression against the engine variables and the facts the
module's Library declares; the engine builds the registry's and the declared kinds'. A
variable listed and never built would fail every rule reading it at run time; one built and
never listed could be read by no rule; one missing from the README would be unknown to the
next drug's author.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate, evaluate_bundle, load_knowledge
from fhir_module.facts import REGISTRY, Inputs, Registry, Unit
from fhir_module.knowledge import ENGINE_VARIABLES, KINDS, VARIABLES
from tests.test_examples import DAY, INPUTS

README = Path(__file__).resolve().parent.parent / "README.md"
TABLE_HEADING = "## Writing knowledge: the variables rule expressions see"
KINDS_HEADING = "### Patient facts as declarations"


def _value(_: Inputs) -> Any:
    return []


@pytest.fixture(scope="module")
def environments() -> list[dict[str, Any]]:
    """Every environment the engine builds while answering every example."""
    built: list[dict[str, Any]] = []
    run = Registry.environment

    def spy(self: Registry, inputs: Inputs) -> dict[str, Any]:
        env = run(self, inputs)
        built.append(env)
        return env

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Registry, "environment", spy)
        for path in INPUTS:
            document = json.loads(path.read_text())
            if path.name.endswith(".bundle.json"):
                evaluate_bundle(document, today=DAY)
            else:
                evaluate(document, today=DAY)
    return built


def test_the_loader_allows_exactly_the_registered_names() -> None:
    assert set(VARIABLES) == REGISTRY.names
    assert len(VARIABLES) == len(ENGINE_VARIABLES) == len(REGISTRY.variables)


def test_every_example_order_is_given_the_engine_variables_and_the_declared_facts(
    environments: list[dict[str, Any]],
) -> None:
    [baclofen] = load_knowledge().drugs
    declared = set().union(*(d.names for d in baclofen.facts))
    assert declared and not declared & set(VARIABLES)
    assert environments
    for env in environments:
        assert set(env) == set(VARIABLES) | declared


def test_the_current_order_group_builds_its_names_on_each_of_its_paths(
    environments: list[dict[str, Any]],
) -> None:
    """The examples reach the group's branches: no active order, and a computed one."""
    with_current = [e for e in environments if e["current"]]
    assert with_current and any(e["currentDailyDose"] != [] for e in with_current)
    assert any(not e["current"] and e["currentText"] == [] for e in environments)


@pytest.mark.parametrize(
    ("units", "declared", "problem"),
    [
        (
            (Unit(("order",), _value),),
            (("order", "o"), ("orders", "os")),
            "declared but not built: %orders",
        ),
        (
            (Unit(("order",), _value), Unit(("orderz", "dose"), _value)),
            (("order", "o"), ("dose", "d")),
            "built but not declared: %orderz",
        ),
        (
            (Unit(("order",), _value), Unit(("order", "dose"), _value)),
            (("order", "o"), ("dose", "d")),
            "variable %order is built twice",
        ),
    ],
    ids=["declared-not-built", "built-not-declared", "built-twice"],
)
def test_a_registry_out_of_step_with_the_declarations_is_refused(
    units: tuple[Unit, ...], declared: tuple[tuple[str, str], ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(problem)}$"):
        Registry(units, declared)


def test_removing_any_one_builder_is_refused() -> None:
    for unit in REGISTRY.units:
        rest = tuple(u for u in REGISTRY.units if u is not unit)
        missing = ", ".join("%" + n for n in sorted(unit.names))
        with pytest.raises(ValueError, match=f"^declared but not built: {missing}$"):
            Registry(rest, ENGINE_VARIABLES)


def _readme_table() -> dict[str, str]:
    """variable -> meaning, from the README's table of variables."""
    text = README.read_text()
    section = text[text.index(TABLE_HEADING) :]
    rows: dict[str, str] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("## ") or line.startswith("### "):
            break
        match = re.fullmatch(r"\| (`%\w+`(?:, `%\w+`)*) \| (.+) \|", line)
        if match:
            for name in re.findall(r"`%(\w+)`", match.group(1)):
                assert name not in rows, f"%{name} is listed twice in the README"
                rows[name] = match.group(2)
    return rows


def test_the_readme_lists_exactly_the_registered_variables_with_their_meanings() -> None:
    table = _readme_table()
    assert set(table) == REGISTRY.names
    assert table == {v.name: v.meaning for v in REGISTRY.variables}


def test_the_readme_lists_every_fact_kind_with_its_outputs() -> None:
    text = README.read_text()
    section = text[text.index(KINDS_HEADING) :]
    rows: dict[str, tuple[str, set[str]]] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("## ") or line.startswith("### "):
            break
        match = re.fullmatch(r"\| `([a-z-]+)` \| (\w+) \| (.+) \| (.+) \|", line)
        if match:
            outputs = set(re.findall(r"`(\w+)`", match.group(4)))
            rows[match.group(1)] = (match.group(2), outputs)
    assert rows == {code: (k.resource_type, set(k.outputs)) for code, k in KINDS.items()}


class _Declaring:
    """A knowledge that is the loaded one's but for which declarations it holds."""

    def __init__(self, knowledge: Any, keep: Any) -> None:
        self.declarations = tuple(d for d in knowledge.declarations if keep(d))


def test_the_patient_template_comes_from_the_patient_variable_not_a_declaration() -> None:
    from fhir_module.facts import templates_for

    knowledge = load_knowledge()
    assert any(d.resource_type == "Patient" for d in knowledge.declarations)
    no_patient_fact: Any = _Declaring(knowledge, lambda d: d.resource_type != "Patient")
    assert "Patient" in REGISTRY.reads
    templates = templates_for(no_patient_fact)
    assert templates["patient"] == "Patient/{{context.patientId}}"
    assert "observations" in templates  # the other declarations still give theirs
    # a registry whose %patient declared no read: only a declaration would bring the key
    silent = Registry([Unit(u.names, u.build) for u in REGISTRY.units], ENGINE_VARIABLES)
    assert silent.reads == frozenset()
    assert "patient" not in templates_for(no_patient_fact, silent)
    assert "patient" in templates_for(knowledge, silent)


def test_the_templates_and_services_are_kept_only_while_their_knowledge_is() -> None:
    import gc
    import weakref

    from fhir_module.facts import prefetch_templates
    from fhir_module.hooks import services

    knowledge = load_knowledge()
    first = prefetch_templates(knowledge)
    assert prefetch_templates(knowledge) is first  # built once per knowledge
    catalogue = services(knowledge, {"order-sign": "acme-sign"})
    assert services(knowledge, {"order-sign": "acme-sign"}) is catalogue
    assert "acme-sign" in catalogue and services(knowledge) is not catalogue
    del catalogue
    gone = weakref.ref(knowledge)
    del knowledge
    gc.collect()
    assert gone() is None
