"""Clinical Reasoning conventions: CPG claims, the Library, card texts as dynamic values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeError, load_knowledge
from fhir_module.facts._requirements import KEYS
from fhir_module.fhirpath import compile_expression, evaluate
from fhir_module.knowledge import VARIABLES, Knowledge, Template, default_files
from fhir_module.knowledge._cpg import string_literal, text_expression

PD = "PlanDefinition-baclofen-order-safety.json"
CPG = "http://hl7.org/fhir/uv/cpg/StructureDefinition/"
BASE = "http://fhir-module.org/fhir/"


def resource(knowledge: Knowledge, key: str) -> dict[str, Any]:
    return dict(knowledge.by_key[key].resource)


@pytest.mark.parametrize(
    "template, expression",
    [
        ("plain text", "'plain text'"),
        ("", "''"),
        ("{{%doseText}}", "(%doseText).select(toString()).join(', ')"),
        ("a {{ %x }} b", "'a ' & (%x).select(toString()).join(', ') & ' b'"),
        ('it\'s \\ "q"\n', "'it\\'s \\\\ \"q\"\\n'"),
    ],
)
def test_a_template_becomes_one_fhirpath_expression(template: str, expression: str) -> None:
    assert text_expression(template) == expression


@pytest.mark.parametrize("text", ["", "a'b", "back\\slash", "line\nbreak\ttab", "ünïcode µg"])
def test_string_literals_read_back_as_the_text(text: str) -> None:
    compiled = compile_expression(string_literal(text), VARIABLES)
    assert evaluate(compiled, {}) == ([text] if text else [""])


def test_every_rule_has_its_card_texts_as_dynamic_values(knowledge: Knowledge) -> None:
    plan = resource(knowledge, "PlanDefinition/baclofen-order-safety")
    for action in plan["action"]:
        values = {v["path"]: v["expression"] for v in action["dynamicValue"]}
        # The values go on the RequestGroup's action: the RequestGroup has no title.
        assert "title" not in values and "description" not in values
        for element in ("title", "description"):
            assert values["action." + element] == {
                "language": "text/fhirpath",
                "expression": text_expression(action[element]),
            }


def test_the_dynamic_values_give_the_texts_the_engine_renders(knowledge: Knowledge) -> None:
    # Every variable as a word: the standard expression and the template agree.
    [baclofen] = knowledge.drugs
    names = set(VARIABLES).union(*(d.names for d in baclofen.facts))
    env = {name: [f"<{name}>"] for name in names}
    env["guideline"] = [
        {
            role: {
                "maxDaily": "<max>",
                "quote": "<quote>",
                "note": [],
                "text": "<text>",
                "low": "<low>",
                "high": "<high>",
                "step": "<step>",
                "intervalDays": "<days>",
                "instruction": "<instr>",
                "band": "<band>",
            }
            for role in (
                "maximum",
                "ceiling",
                "starting",
                "usual",
                "titration",
                "testDose",
                "lower",
                "contraindicated",
                "supervision",
                "counselling",
            )
        }
    ]
    plan = resource(knowledge, "PlanDefinition/baclofen-order-safety")
    for action in plan["action"]:
        for value in action["dynamicValue"]:
            if value["path"] in ("action.title", "action.description"):
                template = action[value["path"][len("action.") :]]
                rendered = Template.compile(template, names).render(env)
                compiled = compile_expression(value["expression"]["expression"], names)
                assert evaluate(compiled, env) == [rendered]


def test_the_plan_claims_cpg_computable_and_names_its_library(knowledge: Knowledge) -> None:
    plan = resource(knowledge, "PlanDefinition/baclofen-order-safety")
    assert CPG + "cpg-computableplandefinition" in plan["meta"]["profile"]
    capabilities = {
        e["valueCode"] for e in plan["extension"] if e["url"] == CPG + "cpg-knowledgeCapability"
    }
    assert capabilities == {"shareable", "computable"}
    [library] = plan["library"]
    assert knowledge.by_url[library.split("|")[0]].resource["resourceType"] == "Library"


def test_the_library_declares_the_data_the_prefetch_reads(knowledge: Knowledge) -> None:
    library = resource(knowledge, "Library/baclofen-order-safety")
    assert library["type"]["coding"][0]["code"] == "logic-library"
    requirements = library["dataRequirement"]
    assert {r["type"] for r in requirements} == set(KEYS.values())
    observed = sorted(
        f["valueSet"].removeprefix(BASE + "ValueSet/")
        for r in requirements
        if r["type"] == "Observation"
        for f in r["codeFilter"]
    )
    assert observed == ["breastfeeding-status-observations", "pregnancy-status-observations"]
    for requirement in requirements:
        for code_filter in requirement.get("codeFilter") or []:
            assert code_filter["valueSet"] in knowledge.value_sets


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    for path in default_files():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def edit_plan(folder: Path, change: Any) -> None:
    path = folder / PD
    plan = json.loads(path.read_text())
    change(plan)
    path.write_text(json.dumps(plan))


def test_a_dynamic_value_that_drifted_from_its_template_stops_loading(copy: Path) -> None:
    def drift(plan: dict[str, Any]) -> None:
        plan["action"][3]["title"] = "Baclofen {{%doseText}} is too much"

    edit_plan(copy, drift)
    with pytest.raises(KnowledgeError, match="the action.title dynamic value must be") as err:
        load_knowledge(copy, include_default=False)
    assert err.value.element == "action[3]"


@pytest.mark.parametrize("element", ["title", "description"])
def test_a_card_text_value_on_the_request_group_itself_stops_loading(
    copy: Path, element: str
) -> None:
    def bare(plan: dict[str, Any]) -> None:
        for value in plan["action"][2]["dynamicValue"]:
            if value["path"] == "action." + element:
                value["path"] = element

    edit_plan(copy, bare)
    with pytest.raises(KnowledgeError, match=f"'{element}' would set the RequestGroup") as err:
        load_knowledge(copy, include_default=False)
    assert err.value.element == "action[2]"


def test_a_library_that_does_not_resolve_stops_loading(copy: Path) -> None:
    (copy / "Library-baclofen-order-safety.json").unlink()
    with pytest.raises(KnowledgeError, match="Library/baclofen-order-safety.* does not resolve"):
        load_knowledge(copy, include_default=False)
