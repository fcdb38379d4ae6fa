"""Checking FHIR resources against R4 structure and the module's profiles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import KnowledgeError
from .knowledge import ProfileChecker, default_files, read_json, structure_problems


def _resources(document: Any) -> Iterable[tuple[str, Any]]:
    yield "", document
    if isinstance(document, Mapping) and document.get("resourceType") == "Bundle":
        for i, entry in enumerate(document.get("entry") or []):
            if isinstance(entry, Mapping) and "resource" in entry:
                yield f"entry[{i}].resource.", entry["resource"]


def validate_files(paths: list[Path]) -> tuple[int, list[str]]:
    """(resources checked, 'file: element: problem' lines) for the files (default: the module's)."""
    files = paths or default_files()
    documents: list[tuple[str, Any]] = []
    problems: list[str] = []
    for path in files:
        try:
            documents.append((path.name, read_json(path)))
        except KnowledgeError as exc:
            problems.append(str(exc))
    definitions = {}
    for path in default_files() + files:
        try:
            res = read_json(path)
        except KnowledgeError:
            continue
        if isinstance(res, Mapping) and res.get("resourceType") == "StructureDefinition":
            definitions[str(res.get("url"))] = res
    checker = ProfileChecker(definitions)
    count = 0
    for name, document in documents:
        for prefix, resource in _resources(document):
            count += 1
            found = structure_problems(resource)
            if not found:
                found = checker.check(resource)
            problems += [f"{name}: {prefix}{p}" for p in found]
    return count, problems
