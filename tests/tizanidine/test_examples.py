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
