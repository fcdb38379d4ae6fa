"""The first look at FHIR structure (_structure.plainly_valid) calls a resource valid only
where fhir.resources accepts it, on every shipped resource and on broken copies of them;
and the structure check answers as fhir.resources does whether the first look was enough."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fhir_module.knowledge import structure_problems
from fhir_module.knowledge._load import UNREADABLE_STRUCTURE, _loc
from fhir_module.knowledge._structure import plainly_valid

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    [
        *(ROOT / "fhir_module" / "knowledge" / "data").glob("*.json"),
        *(ROOT / "profiles").glob("*.json"),
        *(ROOT / "modules" / "tizanidine").glob("*.json"),
    ]
)
RESOURCES = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SHIPPED}


def library_problems(resource: dict[str, Any]) -> list[str]:
    """The problems fhir.resources alone finds, worded as structure_problems words them."""
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        return [f"{_loc(err['loc'])}: {err['msg']}" for err in exc.errors()]
    except (AttributeError, TypeError, ValueError):  # the library fails on such a value
        return [UNREADABLE_STRUCTURE]
    return []


def library_accepts(resource: dict[str, Any]) -> bool:
    return not library_problems(resource)


def test_every_shipped_resource_is_plainly_valid() -> None:
    # the shipped knowledge loads without building a model object (else no time is spared)
    assert len(RESOURCES) > 40
    for name, resource in RESOURCES.items():
        assert library_accepts(resource), name
        assert plainly_valid(resource), name


def _with(resource: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _without(resource: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    node = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


MK = RESOURCES["MedicationKnowledge-baclofen-10mg-tablet.json"]
PLAN = RESOURCES["PlanDefinition-baclofen-order-safety.json"]

#: broken or unusual copies the first look must hand to fhir.resources, each with a
#: reason; fhir.resources may still accept some (those the check then passes)
CASES = {
    "a code with a space inside twice": _with(MK, ["status"], "active  x"),
    "a code with a trailing space": _with(MK, ["status"], "active "),
    "an empty string": _with(MK, ["code", "text"], ""),
    "a number for a string": _with(MK, ["code", "text"], 5),
    "a null member": _with(MK, ["code"], None),
    "an empty list": _with(MK, ["intendedRoute"], []),
    "an empty object": _with(MK, ["code"], {}),
    "a null in a list": _with(MK, ["intendedRoute"], [None]),
    "a list for a single value": _with(MK, ["status"], ["active"]),
    "an unknown member": _with(MK, ["strength"], "10 mg"),
    "a member by its Python name": _with(MK, ["status__ext"], {"id": "x"}),
    "a primitive's extension for a missing value": _with(
        _without(PLAN, ["status"]),
        ["_status"],
        {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                    "valueCode": "unknown",
                }
            ]
        },
    ),
    "a required element missing": _without(PLAN, ["status"]),
    "a wrong nested resourceType": _with(MK, ["code", "resourceType"], "Quantity"),
    "a right nested resourceType": _with(MK, ["code", "resourceType"], "CodeableConcept"),
    "a wrong top resourceType member order": {"id": "x", **_without(MK, ["id"])},
    "fhir_comments": _with(MK, ["fhir_comments"], ["a comment"]),
    "an id too long": _with(MK, ["id"], "x" * 300),
    "an id with a space": _with(MK, ["id"], "a b"),
    "a date not of the calendar": _with(PLAN, ["date"], "2026-02-30"),
    "a boolean as text": _with(PLAN, ["experimental"], "true"),
    "a contained resource": _with(MK, ["contained"], [copy.deepcopy(MK)]),
    "a primitive's extension that is not an object": _with(MK, ["_status"], "true"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_check_answers_as_fhir_resources(case: str) -> None:
    resource = CASES[case]
    if plainly_valid(resource):
        assert library_accepts(resource), case
    assert structure_problems(resource) == library_problems(resource), case


def test_what_is_not_plain_is_handed_on() -> None:
    # these are valid to fhir.resources but not plainly so: the check asks it and passes them
    for case in (
        "a primitive's extension for a missing value",
        "a right nested resourceType",
        "a contained resource",
    ):
        assert not plainly_valid(CASES[case]), case
        assert structure_problems(CASES[case]) == [], case
    assert structure_problems(CASES["an unknown member"]) == [
        "strength: Extra inputs are not permitted"
    ]
    # where fhir.resources fails rather than naming the element, the check still answers
    assert structure_problems(CASES["a primitive's extension that is not an object"]) == [
        UNREADABLE_STRUCTURE
    ]


#: values a broken file may hold where anything else was meant
NASTY = [
    None,
    "",
    " ",
    "a b",
    "a  b",
    "x\n",
    "\t",
    0,
    -1,
    1.5,
    -0.0,
    10**12,
    True,
    False,
    "true",
    "1e5",
    "2026-13-01",
    "2026-02-30",
    "2026-11-26T10:00:00",
    "2026-11-26T10:00:00+01:00",
    "urn:oid:1.2",
    "x" * 70,
    [],
    {},
    [None],
    [{}],
    ["text"],
    {"text": "x"},
    {"coding": [{"code": "x"}]},
    {"value": 1, "unit": "mg"},
    {"resourceType": "Coding"},
    {"extension": []},
]


def _locations(node: Any, path: list[Any]) -> list[list[Any]]:
    """Every member and list item of the JSON, as paths from the root."""
    found: list[list[Any]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in items:
        here = [*path, key]
        found.append(here)
        found += _locations(value, here)
    return found


def _mutate(resource: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    for _ in range(data.draw(st.integers(1, 3))):
        places = _locations(out, [])
        path = data.draw(st.sampled_from(places))
        parent = out
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = data.draw(st.sampled_from(["set", "delete", "wrap", "unwrap", "sibling"]))
        if action == "set":
            parent[key] = copy.deepcopy(data.draw(st.sampled_from(NASTY)))
        elif action == "delete":
            del parent[key]
        elif action == "wrap":
            parent[key] = [parent[key]]
        elif action == "unwrap" and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key][0]
        elif action == "sibling" and isinstance(parent, dict):
            name = data.draw(
                st.sampled_from(
                    [
                        "valueString",
                        "valueBoolean",
                        "valueQuantity",
                        "extension",
                        "id",
                        "text",
                        "code",
                        "_code",
                        "system",
                        "resourceType",
                        "unknownMember",
                    ]
                )
            )
            parent[name] = copy.deepcopy(data.draw(st.sampled_from(NASTY)))
        if (
            not out
            or not isinstance(out, dict)
            or out.get("resourceType") != resource["resourceType"]
        ):
            out = copy.deepcopy(resource)
    return out


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(name=st.sampled_from(sorted(RESOURCES)), data=st.data())
def test_plainly_valid_only_where_fhir_resources_accepts(name: str, data: st.DataObject) -> None:
    broken = _mutate(RESOURCES[name], data)
    if plainly_valid(broken):
        assert library_problems(broken) == [], name
    assert structure_problems(broken) == library_problems(broken)
