"""fhirpath.js evaluates every invariant of our profiles as `fhir-module validate` does."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_module._validate import validate_files
from fhir_module.knowledge import Knowledge

from .conftest import Node

Change = Callable[[dict[str, Any]], None]
MK = "MedicationKnowledge/baclofen"
PRODUCT = "MedicationKnowledge/baclofen-10mg-tablet"
PLAN = "PlanDefinition/baclofen-order-safety"


def _guideline_dosage(r: dict[str, Any], role: str) -> dict[str, Any]:
    return next(
        d
        for g in r["administrationGuidelines"]
        for d in g["dosage"]
        if d["type"]["coding"][0]["code"] == role
    )


def _ext(node: Any, tail: str) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "extension":
                found += [e for e in value if str(e.get("url")).endswith(tail)]
            found += _ext(value, tail)
    elif isinstance(node, list):
        for item in node:
            found += _ext(item, tail)
    return found


def _no_products(r: dict[str, Any]) -> None:
    r["relatedMedicationKnowledge"] = [
        x for x in r["relatedMedicationKnowledge"] if x["type"]["coding"][0]["code"] != "product"
    ]


def _age_in_months(r: dict[str, Any]) -> None:
    for e in _ext(r, "/age-range"):
        for bound in ("low", "high"):
            if bound in e["valueRange"]:
                e["valueRange"][bound]["code"] = "mo"


def _step_per_hour(r: dict[str, Any]) -> None:
    _ext(r, "/daily-dose-increment")[0]["valueRatio"]["denominator"]["code"] = "h"


def _role_uncoded(r: dict[str, Any]) -> None:
    _guideline_dosage(r, "maximum")["type"]["coding"][0]["system"] = "http://example.org/x"


def _max_without_ucum(r: dict[str, Any]) -> None:
    dosage = _guideline_dosage(r, "maximum")["dosage"][0]
    dosage["maxDosePerPeriod"]["numerator"]["system"] = "http://example.org/units"


def _rule_uncoded(r: dict[str, Any]) -> None:
    r["action"][0]["code"][0]["coding"][0]["system"] = "http://example.org/rules"


def _suggestions_without_behaviour(r: dict[str, Any]) -> None:
    del r["action"][0]["selectionBehavior"]


def _no_knowledge_link(r: dict[str, Any]) -> None:
    r["relatedArtifact"] = [a for a in r["relatedArtifact"] if a.get("label") != "knowledge"]


def _strength_without_ucum(r: dict[str, Any]) -> None:
    r["ingredient"][0]["strength"]["numerator"]["system"] = "http://example.org/units"


def _no_ingredient_link(r: dict[str, Any]) -> None:
    r["relatedMedicationKnowledge"] = []


# (resource, change, the invariant it breaks)
FAULTS: list[tuple[str, Change, str]] = [
    (MK, _no_products, "dk-1"),
    (MK, _role_uncoded, "dk-2"),
    (MK, _max_without_ucum, "dk-3"),
    (MK, _age_in_months, "age-1"),
    (MK, _step_per_hour, "ddi-1"),
    (PLAN, _no_knowledge_link, "eca-1"),
    (PLAN, _rule_uncoded, "eca-2"),
    (PLAN, _suggestions_without_behaviour, "eca-3"),
    (PRODUCT, _strength_without_ucum, "dpk-2"),
    (PRODUCT, _no_ingredient_link, "dpk-1"),
]


def cases(knowledge: Knowledge) -> list[tuple[str, dict[str, Any], str | None]]:
    out: list[tuple[str, dict[str, Any], str | None]] = [
        (key, dict(f.resource), None)
        for key, f in sorted(knowledge.by_key.items())
        if f.resource["resourceType"] != "StructureDefinition"
    ]
    for key, change, broken in FAULTS:
        resource = copy.deepcopy(dict(knowledge.by_key[key].resource))
        change(resource)
        out.append((f"{key} ({change.__name__})", resource, broken))
    return out


def test_every_invariant_gives_the_same_result_in_fhirpath_js(
    node: Node, knowledge: Knowledge, tmp_path: Path
) -> None:
    checker = knowledge.profile_checker
    checks = []
    for label, resource, broken in cases(knowledge):
        for invariant in checker.invariant_checks(resource):
            checks.append((label, resource, broken, invariant))
    assert {c[3].key for c in checks} >= {broken for _, _, broken in FAULTS}
    js = node.script(
        "fhirpath-eval.mjs",
        stdin=json.dumps([{"resource": r, "expression": i.expression} for _, r, _, i in checks]),
    )
    assert len(js) == len(checks)
    failing_js: dict[str, set[str]] = {}
    for (label, resource, _, invariant), result in zip(checks, js, strict=True):
        assert not (isinstance(result, dict) and "error" in result), (label, invariant, result)
        python = checker._invariant(invariant.expression)(resource)
        assert result == python, (label, invariant.key)
        if result == [False]:
            failing_js.setdefault(label, set()).add(invariant.key)
    # validate reports exactly the invariants that fhirpath.js finds false
    for i, (label, resource, broken) in enumerate(cases(knowledge)):
        path = tmp_path / f"case-{i}.json"
        path.write_text(json.dumps(resource))
        _, problems = validate_files([path])
        reported = {
            p.split(": ")[2] for p in problems if p.split(": ")[2] in {c[3].key for c in checks}
        }
        assert reported == failing_js.get(label, set()), label
        assert (broken in reported) if broken else not problems, (label, problems)


@pytest.mark.parametrize("key, change, broken", FAULTS, ids=[f[2] for f in FAULTS])
def test_each_fault_breaks_the_invariant_it_aims_at(
    knowledge: Knowledge, key: str, change: Change, broken: str
) -> None:
    resource = copy.deepcopy(dict(knowledge.by_key[key].resource))
    change(resource)
    assert any(f": {broken}: " in p for p in knowledge.profile_checker.check(resource))
