"""Base definitions by canonical URL, read from FHIR packages or Bundles of them."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


class Definitions:
    """Conformance resources by canonical URL (a later one never replaces an earlier one)."""

    def __init__(self) -> None:
        self.by_url: dict[str, Mapping[str, Any]] = {}

    def add(self, resource: Any) -> None:
        if isinstance(resource, Mapping) and isinstance(resource.get("url"), str):
            self.by_url.setdefault(resource["url"], resource)

    def resolve(self, url: str) -> Mapping[str, Any] | None:
        return self.by_url.get(url.split("|")[0])

    def read(self, path: Path) -> None:
        """Resources from a Bundle (.json), a FHIR package (.tgz) or a folder of either."""
        for resource in _resources(path):
            if resource.get("resourceType") == "Bundle":
                for entry in resource.get("entry") or []:
                    if isinstance(entry, Mapping):
                        self.add(entry.get("resource"))
            else:
                self.add(resource)


def _resources(path: Path) -> Iterator[Mapping[str, Any]]:
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.is_dir() or (child.suffix == ".json" and not child.name.startswith(".")):
                yield from _resources(child)
        return
    if path.name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name
                if member.isfile() and name.endswith(".json") and "/." not in name:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        document = json.loads(handle.read())
                        if isinstance(document, Mapping) and "resourceType" in document:
                            yield document
        return
    if path.name == "package.json":
        return
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, Mapping) and "resourceType" in document:
        yield document
