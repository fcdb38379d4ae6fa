"""Each FHIRPath expression is compiled once per process and each profile invariant checked
once per element value, and neither ever hides an error or names the wrong file for it."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fhir_module import KnowledgeError, load_knowledge
from fhir_module.fhirpath import FhirPathError, check_expression, compile_expression, compiled
from fhir_module.fhirpath._compile import _grammar_tree, _parse
from fhir_module.knowledge._cpg import check_text_values

FORMULARY = Path(__file__).resolve().parents[2] / "benchmarks" / "_formulary.py"
TIZANIDINE = Path(__file__).resolve().parents[2] / "modules" / "tizanidine"
AGE_RANGE = "http://fhir-module.org/fhir/StructureDefinition/age-range"


@pytest.fixture(scope="module")
def formulary() -> ModuleType:
    spec = importlib.util.spec_from_file_location("formulary", FORMULARY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def two_drugs(formulary: ModuleType, folder: Path) -> list[Any]:
    drugs: list[Any] = formulary.write_formulary(folder, 2)
    return drugs


def edit(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / name
    resource = json.loads(path.read_text())
    change(resource)
    path.write_text(json.dumps(resource))


def break_condition(resource: dict[str, Any]) -> None:
    expression = resource["action"][2]["condition"][0]["expression"]
    expression["expression"] += " and ("


@pytest.mark.parametrize(
    "text",
    [
        "'plain text'",
        "''",
        "'it\\'s'",
        "'a \\\\ b'",
        "'line\\nbreak \\t tab \\/ slash \\` tick'",
        "'caf\\u00e9'",
        "  'spaced'\n",
        "'Dose ' & (%doseText).select(toString()).join(', ') & ' exceeds ' & %max.toString()",
        "%`odd 'name'`.exists() and 'x' = 'y' /* it's a comment */ // and 'another'",
        "%'quoted constant' = 'a'",
        "iif(%a, 'yes', 'no')",
        "%a",
        "%guideline.maximum.maxDaily",
        "%a_1.B2",
        "%a.b.where(c)",
    ],
)
def test_an_expression_gets_the_tree_the_grammar_gives_it(text: str) -> None:
    assert _parse(text) == _grammar_tree(text)


@pytest.mark.parametrize(
    "text",
    [
        "%true",
        "%a.and",
        "%a.day",
        "%in.b",
        "%a.",
        "%a..b",
        "'unclosed",
        "'a' 'b'",
        "'a\\qb' = 'c'",
        "'a' + ",
        "'x\x01' & 'y'",
        "%a = 'b' 'c'",
    ],
)
def test_broken_or_odd_text_gets_what_the_grammar_says(text: str) -> None:
    try:
        expected: Any = _grammar_tree(text)
    except FhirPathError as exc:
        expected = str(exc)
    try:
        found: Any = _parse(text)
    except FhirPathError as exc:
        found = str(exc)
    assert found == expected


def expressions(knowledge: Any) -> set[str]:
    """Every FHIRPath text of the loaded rules: conditions, card texts, suggestion values
    and the texts for a standard engine."""
    found: set[str] = set()
    for drug in knowledge.drugs:
        for rule in drug.rules:
            found.add(rule.condition.text)
            templates = [rule.summary, rule.detail, *(s.label for s in rule.suggestions)]
            found |= {p.text for t in templates for p in t.parts if not isinstance(p, str)}
            found |= {e.text for s in rule.suggestions for _, e in s.values}
    for source in knowledge.files:
        for action in source.resource.get("action") or []:
            found |= set(check_text_values(action))
    return found


def test_every_expression_of_the_knowledge_gets_the_grammars_tree(
    formulary: ModuleType, tmp_path: Path
) -> None:
    drug = formulary.write_formulary(tmp_path, 1)[0]
    knowledge = load_knowledge(TIZANIDINE, drug.folder)
    texts = expressions(knowledge)
    assert len(texts) > 150
    for text in sorted(texts):
        assert _parse(text) == _grammar_tree(text), text


def test_an_expression_is_compiled_once_for_every_caller() -> None:
    text = "%dailyDose > %maximum and %route = 'oral'"
    first = compile_expression(text, ["dailyDose", "maximum", "route"])
    assert compile_expression(text, ["dailyDose", "maximum", "route", "other"]) is first
    assert compiled(text) is first
    assert first({}, {"dailyDose": [160], "maximum": [100], "route": ["oral"]}) == [True]


def test_a_failing_expression_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(FhirPathError, match="syntax error"):
            compiled("%dailyDose > (")
    # one that parses but does not run is refused for each set of variables it is given
    for _ in range(2):
        with pytest.raises(FhirPathError):
            compile_expression("%a.noSuchFunction()", ["a"])


def test_a_faulty_expression_in_a_second_module_names_its_own_file(
    formulary: ModuleType, tmp_path: Path
) -> None:
    first, second = two_drugs(formulary, tmp_path)
    load_knowledge(first.folder, second.folder)  # every expression of both now compiled
    plan = "PlanDefinition-drug0002-order-safety.json"
    edit(second.folder, plan, break_condition)
    for _ in range(2):  # and again, once the first module's texts are all compiled
        with pytest.raises(KnowledgeError) as caught:
            load_knowledge(first.folder, second.folder)
        assert caught.value.file == plan
        assert caught.value.element == "action[2]"
        assert "syntax error" in str(caught.value)


def test_the_same_faulty_expression_is_reported_in_the_first_file_that_has_it(
    formulary: ModuleType, tmp_path: Path
) -> None:
    first, second = two_drugs(formulary, tmp_path)
    for drug in (first, second):
        edit(drug.folder, f"PlanDefinition-{drug.name}-order-safety.json", break_condition)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(first.folder, second.folder)
    assert caught.value.file == "PlanDefinition-drug0001-order-safety.json"
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(second.folder)
    assert caught.value.file == "PlanDefinition-drug0002-order-safety.json"


def ages_in_months(resource: dict[str, Any]) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("url") == AGE_RANGE:
                for bound in ("low", "high"):
                    if bound in node["valueRange"]:
                        node["valueRange"][bound]["code"] = "mo"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resource)


def test_a_broken_extension_is_named_in_its_file_when_an_equal_one_was_checked_before(
    formulary: ModuleType, tmp_path: Path
) -> None:
    first, second = two_drugs(formulary, tmp_path)
    edit(second.folder, "MedicationKnowledge-drug0002.json", ages_in_months)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(first.folder, second.folder)
    assert caught.value.file == "MedicationKnowledge-drug0002.json"
    assert caught.value.element == "Extension"
    assert "age-1" in str(caught.value)


def test_equal_elements_are_checked_once(formulary: ModuleType, tmp_path: Path) -> None:
    knowledge = load_knowledge(*(d.folder for d in formulary.write_formulary(tmp_path, 3)))
    checker = knowledge.profile_checker
    known = len(checker._known)
    resource = knowledge.by_key["MedicationKnowledge/drug0003"].resource
    assert checker.check(json.loads(json.dumps(resource))) == []
    assert len(checker._known) == known  # every element of it was met before
    broken = json.loads(json.dumps(resource))
    ages_in_months(broken)
    assert any(": age-1: " in p for p in checker.check(broken))
    assert len(checker._known) > known  # its changed extensions were not
    assert checker.check(resource) == []


def test_a_profile_with_an_invariant_that_does_not_compile_is_named_at_load(
    tmp_path: Path,
) -> None:
    # A site's own extension definition whose invariant is mistyped: loading stops naming
    # the profile's file and the constraint, whether or not a resource uses the extension.
    profiles = Path(__file__).resolve().parents[2] / "profiles"
    definition = json.loads((profiles / "StructureDefinition-age-range.json").read_text())
    definition["id"] = "site-age-range"
    definition["url"] = "http://example.org/fhir/StructureDefinition/site-age-range"
    definition["name"] = "SiteAgeRange"
    constraint = next(
        c for e in definition["differential"]["element"] for c in e.get("constraint") or []
    )
    constraint["expression"] += " and ("
    (tmp_path / "StructureDefinition-site-age-range.json").write_text(json.dumps(definition))
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(tmp_path)
    assert caught.value.file == "StructureDefinition-site-age-range.json"
    assert f"constraint {constraint['key']}" in caught.value.element
    assert "does not compile" in str(caught.value)


def test_a_text_for_other_engines_of_a_shape_dry_run_before_is_not_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fhir_module.fhirpath import _compile

    first = "'Dose of drugA: ' & (%doseText).select(toString()).join(', ') & ' a day'"
    check_expression(first, ["doseText"])
    made: list[str] = []
    original = _compile.Compiled.__init__

    def record(self: Any, text: str, tree: Any = None) -> None:
        made.append(text)
        original(self, text, tree)

    monkeypatch.setattr(_compile.Compiled, "__init__", record)
    check_expression(first.replace("drugA", "drugB"), ["doseText"])  # only its literals differ
    assert made == []
    # another variable set, another shape, or a broken one: checked in full, errors raised
    check_expression(first, ["doseText", "unit"])
    with pytest.raises(FhirPathError):
        check_expression(first.replace("%doseText", "%unit"), ["doseText"])
    with pytest.raises(FhirPathError):
        check_expression(first.replace("join(', ')", "jion(', ')"), ["doseText"])
    with pytest.raises(FhirPathError):
        check_expression(first + " & (", ["doseText"])
    assert len(made) == 3  # the broken syntax stops before a compile
