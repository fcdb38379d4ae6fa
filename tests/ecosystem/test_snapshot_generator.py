"""fhir-snapshot-generator, from our differentials, makes the snapshot elements we ship."""

from __future__ import annotations

from typing import Any

from .conftest import Node


def essentials(element: dict[str, Any]) -> dict[str, Any]:
    """What an element says about conforming data (not its wording)."""
    return {
        "path": element.get("path"),
        "sliceName": element.get("sliceName"),
        "min": element.get("min"),
        "max": element.get("max"),
        "contentReference": element.get("contentReference"),
        "type": sorted(
            (t.get("code"), tuple(t.get("profile") or []), tuple(t.get("targetProfile") or []))
            for t in element.get("type") or []
        ),
        "values": {k: v for k, v in element.items() if k.startswith(("fixed", "pattern"))},
        "slicing": element.get("slicing"),
        "constraints": sorted(c["key"] for c in element.get("constraint") or []),
        "binding": (element.get("binding") or {}).get("valueSet"),
    }


def test_the_independent_generator_makes_the_same_snapshots(node: Node) -> None:
    profiles = {
        r["url"]: r for r in node.package.values() if r.get("resourceType") == "StructureDefinition"
    }
    theirs = node.script(
        "fsg-snapshots.mjs", str(node.cache), f"{node.name}#{node.version}", *sorted(profiles)
    )
    assert sorted(theirs) == sorted(profiles)
    for url, profile in profiles.items():
        ours = profile["snapshot"]["element"]
        assert [e["id"] for e in ours] == [e["id"] for e in theirs[url]], url
        for mine, other in zip(ours, theirs[url], strict=True):
            assert essentials(mine) == essentials(other), (url, mine["id"])
