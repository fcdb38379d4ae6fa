"""fhir-package-loader loads the module's package and finds every resource by URL and version."""

from __future__ import annotations

from .conftest import Node


def test_every_resource_is_found_by_url_with_its_version(node: Node) -> None:
    result = node.script("fpl-find.mjs", node.name, node.version)
    assert result["status"] == "LOADED", result["log"]
    assert not [m for m in result["log"] if m["level"] == "error"]
    index = node.package["package/.index.json"]["files"]
    assert len(result["found"]) == len(index)
    for entry, found in zip(index, result["found"], strict=True):
        assert found["sameJson"], entry["filename"]
        assert (found["resourceType"], found["id"]) == (entry["resourceType"], entry["id"])
        assert found["url"] == entry.get("url")
        assert found["version"] == entry.get("version")
        assert found["packageVersion"] == node.version
