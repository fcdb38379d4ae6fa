"""Checking FHIR resources against R4 structure and the module's profiles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import KnowledgeError
from .knowledge import (
    ProfileChecker,
    default_files,
    is_description,
    is_package,
    knowledge_paths,
    package_members,
    read_json,
    structure_problems,
)


def _resources(document: Any) -> Iterable[tuple[str, Any]]:
    yield "", document
    if isinstance(document, Mapping) and document.get("resourceType") == "Bundle":
        for i, entry in enumerate(document.get("entry") or []):
            if isinstance(entry, Mapping) and "resource" in entry:
                yield f"entry[{i}].resource.", entry["resource"]


def _documents(paths: list[Path]) -> tuple[list[tuple[str, Any]], list[str]]:
    """(name, parsed JSON) of each document the paths name, read as the knowledge loader
    reads them: a folder's *.json files and those of its subfolders (not hidden entries,
    npm manifests or ImplementationGuides), a FHIR package's resources, each file once;
    and the problems of those that cannot be read."""
    documents: list[tuple[str, Any]] = []
    problems: list[str] = []
    files, in_folders = knowledge_paths(p for p in paths if not is_package(p))
    for path in files:
        try:
            found = read_json(path)
        except KnowledgeError as exc:
            problems.append(str(exc))
            continue
        if path in in_folders:
            if not is_description(found):  # a file found in a folder: named by its path
                documents.append((str(path), found))
        else:
            documents.append((path.name, found))
    for package in dict.fromkeys(p for p in paths if is_package(p)):
        try:
            documents += [(name, found) for name, _, found in package_members(package)]
        except KnowledgeError as exc:
            problems.append(str(exc))
    return documents, problems


def validate_files(paths: list[Path]) -> tuple[int, list[str]]:
    """(resources checked, 'file: element: problem' lines) for the files, folders (read as
    the knowledge loader reads them) and FHIR packages (.tgz) given (default: the module's
    own knowledge)."""
    documents, problems = _documents(paths or default_files())
    definitions = {}
    for path in default_files():
        try:
            res = read_json(path)
        except KnowledgeError:
            continue
        if isinstance(res, Mapping) and res.get("resourceType") == "StructureDefinition":
            definitions[str(res.get("url"))] = res
    for _, res in documents:
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
