"""The loader reads each module's fact declarations and refuses a faulty one, naming the file;
prefetch templates derive from the declarations; no fact of the shipped knowledge is written
in the engine's Python."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeError, load_knowledge
from fhir_module.facts import REGISTRY, Registry, Unit, prefetch_templates, templates_for
from fhir_module.knowledge import ENGINE_VARIABLES, KINDS, Declaration, Knowledge, default_files

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = "Library-baclofen-order-safety.json"
PD = "PlanDefinition-baclofen-order-safety.json"
SD = "http://fhir-module.org/fhir/StructureDefinition/"
VS = "http://fhir-module.org/fhir/ValueSet/"
SECOND = ROOT / "tests" / "second_drug" / "knowledge"
PID = "{{context.patientId}}"
#: the templates discovery advertised before they were derived from the declarations
BACLOFEN_TEMPLATES = {
    "patient": f"Patient/{PID}",
    "observations": f"Observation?patient={PID}&code=http://loinc.org|63895-7,"
    "http://loinc.org|11449-6,http://loinc.org|82810-3&_sort=-date&_count=100",
    "conditions": f"Condition?patient={PID}&_count=100",
    "medications": f"MedicationRequest?patient={PID}"
    "&_include=MedicationRequest:medication&_count=100",
}


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    for path in default_files():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / name
    resource = json.loads(path.read_text())
    change(resource)
    path.write_text(json.dumps(resource))


def requirement(resource: dict[str, Any], variable: str) -> dict[str, Any]:
    return next(
        r
        for r in resource["dataRequirement"]
        if any(e.get("valueString") == variable for e in r["extension"])
    )


def set_extension(requirement: dict[str, Any], name: str, **value: Any) -> None:
    for ext in requirement["extension"]:
        if ext["url"] == SD + name:
            ext.clear()
            ext.update(url=SD + name, **value)


def refused(folder: Path) -> KnowledgeError:
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(folder, include_default=False)
    return err.value


def test_the_baclofen_declarations_are_read(knowledge: Knowledge) -> None:
    [drug] = knowledge.drugs
    assert [(d.variable, d.kind) for d in drug.facts] == [
        ("age", "age"),
        ("pregnant", "observation-status"),
        ("breastfeeding", "observation-status"),
        ("pregnant", "condition-active"),
        ("breastfeeding", "condition-active"),
        ("respiratoryDisease", "condition-active"),
        ("current", "current-orders"),
        ("everIntrathecal", "route-history"),
        ("dose", "order-dose"),
    ]
    [route_history] = [d for d in drug.facts if d.kind == "route-history"]
    assert route_history.route == "intrathecal"


def test_an_unknown_kind(copy: Path) -> None:
    edit(
        copy,
        LIBRARY,
        lambda r: set_extension(
            requirement(r, "respiratoryDisease"), "fact-kind", valueCode="condition-ever"
        ),
    )
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[5]")
    assert "unknown fact-kind 'condition-ever'" in error.problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        # A canonical of the module's own base that resolves to nothing is refused first.
        (VS + "lung-disease", f"{VS}lung-disease does not resolve in the module"),
        (
            "http://example.org/fhir/ValueSet/lung-disease",
            "the ValueSet http://example.org/fhir/ValueSet/lung-disease is not loaded",
        ),
    ],
)
def test_a_value_set_that_is_not_loaded(copy: Path, url: str, problem: str) -> None:
    def change(r: dict[str, Any]) -> None:
        requirement(r, "respiratoryDisease")["codeFilter"][0]["valueSet"] = url

    edit(copy, LIBRARY, change)
    error = refused(copy)
    assert error.file == LIBRARY
    assert error.element == "dataRequirement[5].codeFilter[0].valueSet"
    assert error.problem == problem


def test_a_parameter_value_set_that_is_not_loaded(copy: Path) -> None:
    edit(
        copy,
        LIBRARY,
        lambda r: set_extension(
            requirement(r, "pregnant"),
            "fact-value-set",
            valueCanonical="http://example.org/fhir/ValueSet/gravid",
        ),
    )
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[1].extension(fact-value-set)")
    assert error.problem.endswith("gravid is not loaded")


def test_a_rule_reading_an_undeclared_variable(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["action"][0]["title"] += " {{%renalFunction.value}}"

    edit(copy, PD, change)
    error = refused(copy)
    assert (error.file, error.element) == (PD, "action[0]")
    assert "reads %renalFunction, neither an engine variable nor a fact" in error.problem


def test_a_declared_variable_no_rule_reads(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        extra = json.loads(json.dumps(requirement(r, "respiratoryDisease")))
        set_extension(extra, "fact-variable", valueString="lungDisease")
        extra["extension"] = [e for e in extra["extension"] if e["url"] != SD + "fact-output"]
        r["dataRequirement"].append(extra)

    edit(copy, LIBRARY, change)
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[9]")
    assert error.problem == f"%lungDisease is declared but read by no rule of {PD}"


def test_two_declarations_of_a_variable_that_is_not_boolean(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        r["dataRequirement"].append(json.loads(json.dumps(requirement(r, "everIntrathecal"))))

    edit(copy, LIBRARY, change)
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[9]")
    assert "%everIntrathecal is declared twice" in error.problem


def test_an_output_the_kind_does_not_have(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        for ext in requirement(r, "age")["extension"]:
            if ext["url"] == SD + "fact-output":
                ext["extension"][0]["valueCode"] = "months"

    edit(copy, LIBRARY, change)
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[0]")
    assert error.problem == "%age: the kind age has no output 'months' (it has text)"


def test_a_route_that_is_not_a_route_value_set(copy: Path) -> None:
    edit(
        copy,
        LIBRARY,
        lambda r: set_extension(
            requirement(r, "everIntrathecal"), "fact-route", valueCanonical=VS + "tablet-units"
        ),
    )
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[7].extension(fact-route)")


def test_a_plan_without_its_logic_library(copy: Path) -> None:
    edit(copy, PD, lambda r: r.pop("library"))
    error = refused(copy)
    assert (error.file, error.element) == (PD, "library")


def test_a_date_filter_on_the_wrong_element(copy: Path) -> None:
    def change(r: dict[str, Any]) -> None:
        requirement(r, "pregnant")["dateFilter"] = [
            {"path": "authoredOn", "valueDuration": {"value": 9, "code": "mo"}}
        ]

    edit(copy, LIBRARY, change)
    error = refused(copy)
    assert (error.file, error.element) == (LIBRARY, "dataRequirement[1].dateFilter.path")


# ----- prefetch templates
def test_with_baclofen_alone_the_templates_are_unchanged(knowledge: Knowledge) -> None:
    assert dict(prefetch_templates(knowledge)) == BACLOFEN_TEMPLATES


def test_a_module_declaring_an_observation_adds_its_codes() -> None:
    templates = prefetch_templates(load_knowledge(SECOND))
    assert list(templates) == list(BACLOFEN_TEMPLATES)
    assert templates["observations"] == (
        f"Observation?patient={PID}&code=http://loinc.org|63895-7,http://loinc.org|11449-6,"
        "http://loinc.org|82810-3,http://loinc.org|2164-2,http://loinc.org|62238-1"
        "&_sort=-date&_count=100"
    )
    assert {k: v for k, v in templates.items() if k != "observations"} == {
        k: v for k, v in BACLOFEN_TEMPLATES.items() if k != "observations"
    }


class Declared:
    """Knowledge reduced to some declarations: all prefetch_templates reads."""

    def __init__(self, declarations: tuple[Declaration, ...]) -> None:
        self.declarations = declarations


#: the engine variables' registry with no unit reading the record: the declarations alone
DECLARATIONS_ONLY = Registry([Unit(u.names, u.build) for u in REGISTRY.units], ENGINE_VARIABLES)


def declared_templates(knowledge: Declared) -> Any:
    """The templates of the declarations alone (not of the engine variables' reads)."""
    return templates_for(knowledge, DECLARATIONS_ONLY)  # type: ignore[arg-type]


def test_a_type_no_declaration_reads_gets_no_key(knowledge: Knowledge) -> None:
    orders_only = tuple(d for d in knowledge.declarations if d.resource_type == "MedicationRequest")
    templates = declared_templates(Declared(orders_only))
    assert dict(templates) == {"medications": BACLOFEN_TEMPLATES["medications"]}
    # order-dose reads the hook's own draft orders: alone, it prefetches nothing.
    dose_only = tuple(d for d in orders_only if d.kind == "order-dose")
    assert dict(declared_templates(Declared(dose_only))) == {}


def test_an_observation_value_set_a_search_cannot_carry_reads_every_observation(
    knowledge: Knowledge,
) -> None:
    [pregnant] = [d for d in knowledge.declarations if d.kind == "observation-status"][:1]
    filtered = replace(pregnant, filters=(knowledge.value_sets[VS + "respiratory-diseases"],))
    templates = declared_templates(Declared((filtered,)))
    assert dict(templates) == {"observations": f"Observation?patient={PID}&_sort=-date&_count=100"}


# ----- nothing of the shipped knowledge in the engine's Python
ENGINE_FOLDERS = ("facts", "engine", "cards", "hooks")


def shipped_names() -> set[str]:
    """Every ValueSet id, route category and declared variable of the shipped knowledge (and of
    the tizanidine module) that could be written in Python."""
    names: set[str] = set()
    for folder in (ROOT / "fhir_module" / "knowledge" / "data", ROOT / "modules" / "tizanidine"):
        for path in folder.glob("*.json"):
            resource = json.loads(path.read_text())
            if resource["resourceType"] == "ValueSet":
                names.add(resource["id"])
                if resource["id"].startswith("route-"):
                    names.add(resource["id"].removeprefix("route-"))
            for requirement_ in resource.get("dataRequirement") or []:
                for ext in requirement_.get("extension") or []:
                    if ext["url"] == SD + "fact-variable":
                        names.add(ext["valueString"])
                    for part in ext.get("extension") or []:
                        if part["url"] == "variable":
                            names.add(part["valueString"])
    # The kinds' own vocabulary (docs/facts.md) is the engine's contract, not a module's:
    # a kind output may share a name with a module's variable (current-orders `dailyDose`).
    vocabulary = set(KINDS) | {o for k in KINDS.values() for o in k.outputs}
    return names - vocabulary


def test_the_shipped_names_are_found_in_the_knowledge() -> None:
    names = shipped_names()
    assert {"pregnancy-findings", "intrathecal", "everIntrathecal", "renalFunction"} <= names


def test_no_value_set_route_or_fact_name_of_the_knowledge_is_in_the_engine() -> None:
    names = shipped_names()
    pattern = re.compile(r"""["'`%]([A-Za-z][A-Za-z0-9-]*)["'`]|%([A-Za-z][A-Za-z0-9]*)""")
    found = []
    for folder in ENGINE_FOLDERS:
        for path in sorted((ROOT / "fhir_module" / folder).glob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in pattern.finditer(line):
                    name = match.group(1) or match.group(2)
                    if name in names:
                        found.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert found == []
