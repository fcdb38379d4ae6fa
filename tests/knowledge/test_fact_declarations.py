"""The patient-fact declarations (docs/facts.md) of baclofen's Library and of the tizanidine module.

These tests hold the data to the contract, independently of the loader (which refuses the
same faults, tests/knowledge/test_fact_loading.py): the profile fact-library accepts the Libraries
and refuses faulty declarations, and every variable a module's rules read is declared (or
is one the engine gives), and every declared one is read.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_module.cli import main
from fhir_module.knowledge import KINDS, VARIABLES
from fhir_module.knowledge._cpg import check_text_values

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "fhir_module" / "knowledge" / "data"
TIZANIDINE = ROOT / "modules" / "tizanidine"
SD = "http://fhir-module.org/fhir/StructureDefinition/"
FACT_LIBRARY = SD + "fact-library|0.1.0"

#: the variables the engine gives from the hook call and the knowledge (docs/facts.md)
ENGINE = {
    "order", "orders", "patient", "medication", "hook", "route", "routeText", "routeName",
    "unit", "guideline", "citation",
}  # fmt: skip


def test_the_engine_variables_and_kinds_are_the_documented_ones() -> None:
    assert set(VARIABLES) == ENGINE
    kinds = {c["code"] for c in load(DATA / "CodeSystem-fact-kind.json")["concept"]}
    assert set(KINDS) == kinds


_VARIABLE = re.compile(r"%([A-Za-z][A-Za-z0-9]*)")

MODULES = {
    "baclofen": (DATA / "Library-baclofen-order-safety.json",
                 DATA / "PlanDefinition-baclofen-order-safety.json"),
    "tizanidine": (TIZANIDINE / "Library-tizanidine-order-safety.json",
                   TIZANIDINE / "PlanDefinition-tizanidine-order-safety.json"),
}  # fmt: skip


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def ext_values(dr: dict[str, Any], name: str) -> list[Any]:
    found = []
    for ext in dr.get("extension") or []:
        if ext["url"] == SD + name:
            found.append(next(v for k, v in ext.items() if k.startswith("value")))
    return found


def declared(library: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for dr in library["dataRequirement"]:
        names.update(ext_values(dr, "fact-variable"))
        for ext in dr.get("extension") or []:
            if ext["url"] == SD + "fact-output":
                names.update(e["valueString"] for e in ext["extension"] if e["url"] == "variable")
    return names


def expressions(action: dict[str, Any]) -> Iterator[str]:
    yield action.get("title", "")
    yield action.get("description", "")
    for condition in action.get("condition") or []:
        yield condition["expression"]["expression"]
    for value in action.get("dynamicValue") or []:
        yield value["expression"]["expression"]
    for child in action.get("action") or []:
        yield from expressions(child)


def read_by_rules(plan: dict[str, Any]) -> set[str]:
    return {m for a in plan["action"] for e in expressions(a) for m in _VARIABLE.findall(e)}


def validate(tmp_path: Path, resource: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / f"{resource['resourceType']}-{resource['id']}.json"
    path.write_text(json.dumps(resource))
    capsys.readouterr()
    code = main(["validate", str(path)])
    out = capsys.readouterr().out
    return "" if code == 0 else out


def test_every_tizanidine_resource_conforms(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in TIZANIDINE.glob("*.json"))
    assert len(files) == 14
    capsys.readouterr()
    assert main(["validate", *files]) == 0, capsys.readouterr().out


def test_baclofen_library_conforms_to_fact_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library = load(MODULES["baclofen"][0])
    library["meta"]["profile"].insert(0, FACT_LIBRARY)
    assert validate(tmp_path, library, capsys) == ""


@pytest.mark.parametrize("module", sorted(MODULES))
def test_rules_read_exactly_the_declared_variables(module: str) -> None:
    library_path, plan_path = MODULES[module]
    read = read_by_rules(load(plan_path))
    facts = declared(load(library_path))
    assert read - ENGINE - facts == set(), "read by a rule but not declared"
    assert facts - read == set(), "declared but read by no rule"
    assert facts & ENGINE == set(), "an engine variable declared as a fact"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_declarations_name_known_kinds_and_loaded_value_sets(module: str) -> None:
    kinds = {c["code"] for c in load(DATA / "CodeSystem-fact-kind.json")["concept"]}
    value_sets = {
        load(p)["url"] for folder in (DATA, TIZANIDINE) for p in folder.glob("ValueSet-*.json")
    }
    for dr in load(MODULES[module][0])["dataRequirement"]:
        [kind] = ext_values(dr, "fact-kind")
        assert kind in kinds
        named = [f["valueSet"] for f in dr.get("codeFilter") or []]
        named += ext_values(dr, "fact-value-set") + ext_values(dr, "fact-absent-value-set")
        named += ext_values(dr, "fact-route")
        assert {str(u).split("|")[0] for u in named} <= value_sets


def test_a_variable_is_declared_twice_only_by_boolean_kinds() -> None:
    for library_path, _ in MODULES.values():
        kinds: dict[str, set[str]] = {}
        for dr in load(library_path)["dataRequirement"]:
            [name] = ext_values(dr, "fact-variable")
            kinds.setdefault(name, set()).update(ext_values(dr, "fact-kind"))
        for name, used in kinds.items():
            assert len(used) == 1 or used == {"observation-status", "condition-active"}, name


def _by_variable(library: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        dr for dr in library["dataRequirement"] if ext_values(dr, "fact-variable") == [name]
    )


def _drop(name: str, ext: str) -> Callable[[dict[str, Any]], None]:
    def change(library: dict[str, Any]) -> None:
        dr = _by_variable(library, name)
        dr["extension"] = [e for e in dr["extension"] if e["url"] != SD + ext]

    return change


def _rename(library: dict[str, Any]) -> None:
    _by_variable(library, "hepaticImpairment")["extension"][0]["valueString"] = "Hepatic impairment"


def _condition_as_observation(library: dict[str, Any]) -> None:
    _by_variable(library, "hepaticImpairment")["type"] = "Observation"


def _no_code_filter(library: dict[str, Any]) -> None:
    del _by_variable(library, "interactingOrders")["codeFilter"]


def _wrong_output(library: dict[str, Any]) -> None:
    dr = _by_variable(library, "current")
    output = next(e for e in dr["extension"] if e["url"] == SD + "fact-output")
    output["extension"].append({"url": "unit", "valueString": "mg"})


def _no_sort(library: dict[str, Any]) -> None:
    del _by_variable(library, "renalFunction")["sort"]


def _two_sorts(library: dict[str, Any]) -> None:
    dr = _by_variable(library, "renalFunction")
    dr["sort"] = [*dr["sort"], {"path": "value", "direction": "descending"}]


def _sort_on_date(library: dict[str, Any]) -> None:
    _by_variable(library, "renalFunction")["sort"] = [
        {"path": "effective", "direction": "descending"}
    ]


def _sorted_condition(library: dict[str, Any]) -> None:
    _by_variable(library, "hepaticImpairment")["sort"] = [
        {"path": "value", "direction": "ascending"}
    ]


FAULTS = [
    (_drop("renalFunction", "fact-unit"), "fl-2"),
    (_no_sort, "fl-9"),
    (_two_sorts, "fl-9"),
    (_sort_on_date, "fl-9"),
    (_sorted_condition, "fl-10"),
    (_drop("renalFunction", "fact-kind"), "extension:kind: at least 1 required"),
    (_drop("age", "fact-variable"), "extension:variable: at least 1 required"),
    (_rename, "fv-1"),
    (_condition_as_observation, "fl-6"),
    (_no_code_filter, "fl-4"),
    (_wrong_output, "extension"),
]


@pytest.mark.parametrize(("fault", "problem"), FAULTS, ids=[f"{f.__name__}-{p}" for f, p in FAULTS])
def test_faulty_declarations_are_refused(
    fault: Callable[[dict[str, Any]], None],
    problem: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    library = copy.deepcopy(load(MODULES["tizanidine"][0]))
    fault(library)
    assert problem in validate(tmp_path, library, capsys)


def test_status_facts_name_their_values() -> None:
    library = load(MODULES["baclofen"][0])
    pregnant = [
        dr for dr in library["dataRequirement"] if ext_values(dr, "fact-variable") == ["pregnant"]
    ]
    assert [ext_values(dr, "fact-kind") for dr in pregnant] == [
        ["observation-status"],
        ["condition-active"],
    ]
    assert ext_values(pregnant[0], "fact-value-set") == [
        "http://fhir-module.org/fhir/ValueSet/pregnancy-findings"
    ]
    assert ext_values(pregnant[0], "fact-absent-value-set") == [
        "http://fhir-module.org/fhir/ValueSet/not-pregnant-findings"
    ]


def test_tizanidine_rules_carry_their_own_rule_code_system() -> None:
    plan = load(MODULES["tizanidine"][1])
    rules = load(TIZANIDINE / "CodeSystem-tizanidine-rules.json")
    codes = [c for a in plan["action"] for c in a["code"][0]["coding"]]
    assert {c["system"] for c in codes} == {rules["url"]}
    assert sorted(c["code"] for c in codes) == sorted(c["code"] for c in rules["concept"])
    assert plan["library"] == [load(MODULES["tizanidine"][0])["url"] + "|0.1.0"]


def test_tizanidine_card_texts_are_also_their_dynamic_values() -> None:
    plan = load(MODULES["tizanidine"][1])
    for action in plan["action"]:
        assert len(check_text_values(action)) == 2, action["code"][0]["coding"][0]["code"]
