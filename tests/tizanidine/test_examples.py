"""The tizanidine module loaded beside baclofen: each example fires exactly its rule's card,
as saved, and the baclofen examples answer as they do without it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module._validate import validate_files
from fhir_module.knowledge import Knowledge, load_knowledge

from ..test_examples import check_cds_hooks_response, without_uuids
from .conftest import MODULE, ROOT

EXAMPLES = ROOT / "examples" / "tizanidine"
BACLOFEN_EXAMPLES = ROOT / "examples"
DAY = date(2026, 11, 26)
REQUESTS = sorted(EXAMPLES.glob("*.request.json"))
RULE_OF = {"order-select-counselling": "counselling"}


@pytest.fixture(scope="module")
def both() -> Knowledge:
    return load_knowledge(MODULE)


def _name(path: Path) -> str:
    return path.name.split(".")[0]


def _rule(path: Path) -> str:
    name = _name(path)
    return RULE_OF.get(name, name.removeprefix("order-sign-"))


def test_the_module_loads_beside_baclofen(both: Knowledge) -> None:
    assert [d.id for d in both.drugs] == ["baclofen", "tizanidine"]


@pytest.mark.parametrize("request_path", REQUESTS, ids=[_name(p) for p in REQUESTS])
def test_example(both: Knowledge, request_path: Path) -> None:
    response = evaluate(json.loads(request_path.read_text()), knowledge=both, today=DAY)
    saved = json.loads(request_path.with_name(_name(request_path) + ".response.json").read_text())
    assert without_uuids(response) == without_uuids(saved)
    check_cds_hooks_response(response)
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == [_rule(request_path)]
    [card] = response["cards"]
    assert card["source"]["topic"]["system"].endswith("/CodeSystem/tizanidine-rules")
    assert "tizanidine" in card["summary"].lower()


def test_every_tizanidine_rule_has_its_example(both: Knowledge) -> None:
    [tizanidine] = [d for d in both.drugs if d.id == "tizanidine"]
    assert {_rule(p) for p in REQUESTS} == {r.rule_id for r in tizanidine.rules}


BACLOFEN = sorted(BACLOFEN_EXAMPLES.glob("*.request.json"))


@pytest.mark.parametrize("request_path", BACLOFEN, ids=[_name(p) for p in BACLOFEN])
def test_baclofen_answers_the_same_with_tizanidine_loaded(
    both: Knowledge, request_path: Path
) -> None:
    response = evaluate(json.loads(request_path.read_text()), knowledge=both, today=DAY)
    saved: Any = json.loads(
        request_path.with_name(_name(request_path) + ".response.json").read_text()
    )
    assert without_uuids(response) == without_uuids(saved)


def test_the_module_conforms_to_its_profiles() -> None:
    files = sorted(MODULE.glob("*.json"))
    assert validate_files(files) == (len(files), [])


@pytest.fixture(scope="module")
def alone() -> Knowledge:
    return load_knowledge(MODULE, include_default=False)


def test_the_module_loads_without_the_builtin_baclofen_module(alone: Knowledge) -> None:
    assert [d.id for d in alone.drugs] == ["tizanidine"]
    types = {f.resource["resourceType"] for f in alone.files}
    assert "StructureDefinition" in types  # the profiles are always loaded
    ids = {f.resource["id"] for f in alone.files}
    # What only baclofen reads is left out; what tizanidine reads is there.
    assert {"baclofen-medications", "respiratory-diseases", "cds-rules"}.isdisjoint(ids)
    assert {"pregnancy-findings", "not-pregnant-findings", "route-oral"} <= ids


@pytest.mark.parametrize("request_path", REQUESTS, ids=[_name(p) for p in REQUESTS])
def test_example_without_the_builtin_module(alone: Knowledge, request_path: Path) -> None:
    response = evaluate(json.loads(request_path.read_text()), knowledge=alone, today=DAY)
    saved = json.loads(request_path.with_name(_name(request_path) + ".response.json").read_text())
    assert without_uuids(response) == without_uuids(saved)


def test_a_base_resource_the_given_knowledge_brings_is_taken_from_it(tmp_path: Path) -> None:
    for path in MODULE.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    own = json.loads((ROOT / "fhir_module/knowledge/data/ValueSet-route-oral.json").read_text())
    own["title"] = "Oral routes (site edition)"
    (tmp_path / "ValueSet-route-oral.json").write_text(json.dumps(own))
    knowledge = load_knowledge(tmp_path, include_default=False)
    [route] = [f for f in knowledge.files if f.resource["id"] == "route-oral"]
    assert route.resource["title"] == "Oral routes (site edition)"
