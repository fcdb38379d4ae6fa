"""The files of one load hold each plain object (a Coding, a Quantity) once: equal in keys,
key order and value types, or kept as read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fhir_module import load_knowledge
from fhir_module.knowledge._load import read_resources, shared_strings

TIZANIDINE = Path(__file__).resolve().parents[2] / "modules" / "tizanidine"


def test_equal_plain_objects_are_one() -> None:
    objects: dict[int, dict[str, Any]] = {}
    first = shared_strings(
        {"resourceType": "MedicationKnowledge", "code": {"coding": [{"system": "s", "code": "a"}]}},
        objects,
    )
    second = shared_strings(
        json.loads('{"resourceType": "ValueSet", "x": [{"system": "s", "code": "a"}]}'), objects
    )
    assert second["x"][0] is first["code"]["coding"][0]
    assert second is not first


def test_objects_that_differ_in_order_or_types_stay_apart() -> None:
    objects: dict[int, dict[str, Any]] = {}
    one = shared_strings({"a": 1, "b": True}, objects)
    assert shared_strings({"a": 1, "b": 1}, objects) is not one  # True == 1, not the same
    reordered = shared_strings({"b": True, "a": 1}, objects)
    assert reordered is not one and list(reordered) == ["b", "a"]
    assert shared_strings({"a": 1.0, "b": True}, objects) is not one
    assert shared_strings({"a": 1, "b": True}, objects) is one
    assert shared_strings({"a": 1, "b": True}) is not one  # no table: nothing shared


def test_a_profiles_elements_are_not_shared() -> None:
    objects: dict[int, dict[str, Any]] = {}
    element = {"id": "Extension.url", "path": "Extension.url", "min": 1}
    a = shared_strings({"resourceType": "StructureDefinition", "e": [dict(element)]}, objects)
    b = shared_strings({"resourceType": "StructureDefinition", "e": [dict(element)]}, objects)
    assert a["e"][0] is not b["e"][0]


def test_the_files_of_a_load_share_their_plain_objects() -> None:
    files = read_resources(sorted(TIZANIDINE.glob("*.json")))
    seen: dict[str, list[int]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if all(not isinstance(v, dict | list) for v in node.values()):
                seen.setdefault(json.dumps(list(node.items())), []).append(id(node))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for f in files:
        if f.resource["resourceType"] != "StructureDefinition":
            walk(f.resource)
    repeated = [ids for ids in seen.values() if len(ids) > 1]
    assert repeated  # the module repeats codings and quantities
    assert all(len(set(ids)) == 1 for ids in repeated)
    # and the knowledge loaded so is the knowledge loaded from copies read one by one
    assert [f.resource for f in files] == [
        json.loads(p.read_text()) for p in sorted(TIZANIDINE.glob("*.json"))
    ]
    assert len(load_knowledge(TIZANIDINE).drugs) == 2


def test_profiles_read_with_other_files_keep_their_own_objects() -> None:
    profiles = sorted((Path(__file__).resolve().parents[2] / "profiles").glob("*.json"))
    files = read_resources([*profiles, *sorted(TIZANIDINE.glob("*.json"))])
    ids: dict[int, int] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ids[id(node)] = ids.get(id(node), 0) + 1
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    definitions = [f.resource for f in files if f.resource["resourceType"] == "StructureDefinition"]
    assert len(definitions) >= 5
    for f in files:
        walk(f.resource)
    for definition in definitions:
        for element in definition["differential"]["element"]:
            assert ids[id(element)] == 1
    assert [f.resource for f in files] == [
        json.loads(p.read_text()) for p in [*profiles, *sorted(TIZANIDINE.glob("*.json"))]
    ]
