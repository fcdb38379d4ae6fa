"""SUSHI builds an IG author's project that derives from the module's profiles.

The project depends on the package, derives a profile from each of ours and writes
each of our resources as an instance of the derived profile: 0 errors, and SUSHI's
instances are our resources again. Instances that break our profiles fail the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fhir_module.package import Definitions

from ._fsh import Writer
from ._sushi import derived_profile, instance, write_project
from .conftest import MEDPLUM, TOOLS, Node


@pytest.fixture(scope="module")
def project(node: Node) -> tuple[Writer, dict[str, Any], list[str]]:
    definitions = Definitions()
    definitions.read(MEDPLUM / "profiles-types.json")
    definitions.read(MEDPLUM / "profiles-resources.json")
    profiles = {
        r["url"]: r for r in node.package.values() if r.get("resourceType") == "StructureDefinition"
    }
    for profile in profiles.values():
        definitions.add(profile)
    writer = Writer(definitions)
    fsh = [derived_profile(p) for p in sorted(profiles.values(), key=lambda p: p["id"])]
    for resource in sorted(node.package.values(), key=lambda r: str(r.get("id"))):
        for url in (resource.get("meta") or {}).get("profile") or []:
            if url.split("|")[0] in profiles:
                fsh.append(instance(writer, resource["id"], resource, profiles[url.split("|")[0]]))
    return writer, profiles, fsh


def sushi(node: Node, folder: Path) -> tuple[int, int, str]:
    done = node.run(str(TOOLS / "node_modules/.bin/sushi"), "build", str(folder), cwd=folder)
    output = done.stdout + done.stderr
    found = re.search(r"(\d+) Errors?\s+(\d+) Warnings?", output)
    assert found, output[-3000:]
    return int(found.group(1)), done.returncode, output


def test_a_project_deriving_from_every_profile_builds_with_no_error(
    node: Node, project: tuple[Writer, dict[str, Any], list[str]], tmp_path: Path
) -> None:
    _, profiles, fsh = project
    folder = write_project(tmp_path / "good", (node.name, node.version), fsh)
    errors, code, output = sushi(node, folder)
    assert (errors, code) == (0, 0), output[-3000:]
    generated = folder / "fsh-generated" / "resources"
    derived = [json.loads(p.read_text()) for p in generated.glob("StructureDefinition-*.json")]
    assert sorted(d["baseDefinition"] for d in derived) == sorted(profiles)
    instances = 0
    for name, resource in node.package.items():
        if name.startswith("package/") and any(
            u.split("|")[0] in profiles for u in (resource.get("meta") or {}).get("profile") or []
        ):
            made = json.loads((generated / name.removeprefix("package/")).read_text())
            assert {k: v for k, v in made.items() if k != "meta"} == {
                k: v for k, v in resource.items() if k != "meta"
            }, name
            instances += 1
    assert instances == 8  # the ingredient, six products and the rules


def test_instances_that_break_our_profiles_fail_the_build(
    node: Node, project: tuple[Writer, dict[str, Any], list[str]], tmp_path: Path
) -> None:
    writer, profiles, fsh = project
    drug = node.package["package/MedicationKnowledge-baclofen.json"]
    profile = profiles["http://fhir-module.org/fhir/StructureDefinition/drug-knowledge"]
    no_text = json.loads(json.dumps(drug))
    del no_text["code"]["text"]
    no_citation = json.loads(json.dumps(drug))
    del no_citation["extension"]
    broken = [
        instance(writer, "drug-without-text", no_text, profile),
        instance(writer, "drug-without-citation", no_citation, profile),
    ]
    folder = write_project(tmp_path / "broken", (node.name, node.version), fsh + broken)
    errors, code, output = sushi(node, folder)
    assert code != 0 and errors >= 2, output[-3000:]
    assert "MedicationKnowledge.code.text has minimum cardinality 1 but occurs 0" in output
    # SUSHI makes the required citation slice itself, then finds its quote and source empty
    citation = r"MedicationKnowledge\.extension:citation\S* has minimum cardinality 1"
    assert re.search(citation, output)
