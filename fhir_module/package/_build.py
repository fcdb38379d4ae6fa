"""The knowledge as a FHIR NPM package: manifest, index, ImplementationGuide, resources."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from ..errors import FhirModuleError
from ..knowledge import Knowledge
from ._definitions import Definitions
from ._npm import package_files, write_tgz
from ._snapshot import generate_snapshot
from ._store import stored_snapshot

FHIR_VERSION = "4.0.1"
CORE_PACKAGE = "hl7.fhir.r4.core"
PACKAGE_PREFIX = "org.fhir-module."


class PackageError(FhirModuleError, ValueError):
    """The knowledge cannot be made into one package (the message says why)."""


def build_package(
    knowledge: Knowledge,
    *,
    name: str | None = None,
    definitions: Definitions | None = None,
) -> bytes:
    """The .tgz bytes of the knowledge's FHIR package (the same bytes for the same input).

    Profiles get their stored snapshot, or, with `definitions` (the R4 base
    definitions), one generated now.
    """
    manifest, resources = package_contents(knowledge, name=name, definitions=definitions)
    return write_tgz(package_files(manifest, resources))


def package_contents(
    knowledge: Knowledge,
    *,
    name: str | None = None,
    definitions: Definitions | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The package.json and the resources (ImplementationGuide included) of the package."""
    resources = [dict(f.resource) for f in knowledge.files]
    canonical = _canonical(resources)
    version = _version(resources)
    package_id = name or PACKAGE_PREFIX + "-".join(sorted(d.id for d in knowledge.drugs))
    if not re.fullmatch(r"[a-z][a-z0-9\-]*(\.[a-z0-9\-]+)+", package_id):
        raise PackageError(f"{package_id!r} is not a FHIR package name (lowercase, dotted)")
    _add_snapshots(resources, definitions)
    publisher = _common(resources, "publisher") or canonical
    titles = sorted(str(r.get("title")) for r in resources if r["resourceType"] == "PlanDefinition")
    title = "; ".join(titles) or package_id
    description = (
        f"FHIR R4 knowledge module ({title}): MedicationKnowledge, PlanDefinition rules for "
        "CDS Hooks, ValueSets, CodeSystems and profiles."
    )
    license_id = _license()
    guide = {
        "resourceType": "ImplementationGuide",
        "id": package_id,
        "url": f"{canonical}/ImplementationGuide/{package_id}",
        "version": version,
        "name": _computable_name(package_id),
        "title": title,
        "status": "active",
        "experimental": False,
        "date": max((str(r["date"]) for r in resources if r.get("date")), default=None),
        "publisher": publisher,
        "description": description,
        "packageId": package_id,
        "license": license_id,
        "fhirVersion": [FHIR_VERSION],
        "definition": {
            "resource": [
                {
                    "reference": {"reference": f"{r['resourceType']}/{r['id']}"},
                    "name": str(r.get("title") or r.get("name") or r["id"]),
                    "exampleBoolean": False,
                }
                for r in sorted(resources, key=lambda r: (r["resourceType"], r["id"]))
            ]
        },
    }
    if guide["date"] is None:
        del guide["date"]
    manifest = {
        "name": package_id,
        "version": version,
        "description": description,
        "author": publisher,
        "license": license_id,
        "canonical": canonical,
        "url": canonical,
        "fhirVersions": [FHIR_VERSION],
        "type": "fhir.ig",
        "dependencies": {CORE_PACKAGE: FHIR_VERSION},
    }
    return manifest, resources + [guide]


def _add_snapshots(resources: list[dict[str, Any]], definitions: Definitions | None) -> None:
    profiles = [r for r in resources if r["resourceType"] == "StructureDefinition"]
    if definitions is not None:
        for profile in profiles:
            definitions.add(profile)
    for profile in profiles:
        if definitions is not None:
            elements = generate_snapshot(profile, definitions.resolve)
        else:
            found = stored_snapshot(profile)
            if found is None:
                raise PackageError(
                    f"profile {profile['url']} has no stored snapshot made from it; "
                    "give the R4 base definitions (--definitions) to generate one"
                )
            elements = found
        profile["snapshot"] = {"element": elements}


def _canonical(resources: Sequence[Mapping[str, Any]]) -> str:
    bases = set()
    for r in resources:
        url = str(r.get("url") or "")
        suffix = f"/{r['resourceType']}/{r['id']}"
        if url.endswith(suffix):
            bases.add(url[: -len(suffix)])
    if len(bases) != 1:
        raise PackageError(f"the resources have {len(bases)} canonical bases, not one")
    return bases.pop()


def _version(resources: Sequence[Mapping[str, Any]]) -> str:
    versions = {str(r["version"]) for r in resources if r.get("url") and r.get("version")}
    if len(versions) != 1:
        found = ", ".join(sorted(versions)) or "none"
        raise PackageError(f"the canonical resources need one version, found: {found}")
    return versions.pop()


def _common(resources: Sequence[Mapping[str, Any]], field: str) -> str | None:
    values = {str(r[field]) for r in resources if r.get(field)}
    return values.pop() if len(values) == 1 else None


def _computable_name(package_id: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[.\-]", package_id) if p)


def _license() -> str:
    """The project's licence (SPDX), as its installed metadata states it."""
    try:
        meta = metadata.metadata("fhir-module")
    except metadata.PackageNotFoundError:
        return "not-open-source"
    return str(meta["License-Expression"] or meta["License"] or "not-open-source")
