"""A SUSHI project that depends on the module's package: derived profiles and instances."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._fsh import Writer

CANONICAL = "http://example.org/fhir/derived"


def derived_name(profile: Mapping[str, Any]) -> str:
    return f"Derived{profile['name']}"


def derived_profile(profile: Mapping[str, Any]) -> str:
    keyword = "Extension" if profile["type"] == "Extension" else "Profile"
    return "\n".join(
        [
            f"{keyword}: {derived_name(profile)}",
            f"Parent: {profile['url']}",
            f"Id: derived-{profile['id']}",
            f'Title: "Derived from {profile["title"]}"',
            f'Description: "A profile an IG author derives from {profile["url"]}"',
            "",
        ]
    )


def instance(
    writer: Writer, name: str, resource: Mapping[str, Any], profile: Mapping[str, Any]
) -> str:
    lines = [
        f"Instance: {name}",
        f"InstanceOf: {derived_name(profile)}",
        "Usage: #example",
        *writer.rules(resource, profile),
        "",
    ]
    return "\n".join(lines)


def write_project(folder: Path, package: tuple[str, str], fsh: Iterable[str]) -> Path:
    name, version = package
    (folder / "input" / "fsh").mkdir(parents=True, exist_ok=True)
    (folder / "sushi-config.yaml").write_text(
        "\n".join(
            [
                f"canonical: {CANONICAL}",
                "status: draft",
                "version: 0.1.0",
                "fhirVersion: 4.0.1",
                "FSHOnly: true",
                "dependencies:",
                f"  {name}: {version}",
                "",
            ]
        )
    )
    (folder / "input" / "fsh" / "derived.fsh").write_text("\n".join(fsh))
    return folder
