"""Checks resources against the module's profiles (StructureDefinition differentials).

Supported, as the module's profiles use them: cardinality (min/max), fixed[x] and
pattern[x] values, extension slices by profile URL (required extensions),
closed slicing of complex extensions, value[x] types of extensions, and
invariants written in FHIRPath. Extensions whose URL is a module
StructureDefinition are checked against that definition wherever they occur.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

R4 = models["r4"]

Node = tuple[str, Any]


def _children(nodes: list[Node], key: str) -> list[Node]:
    out: list[Node] = []
    for path, node in nodes:
        if not isinstance(node, Mapping):
            continue
        for name, value in _matching(node, key):
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                suffix = f"[{i}]" if isinstance(value, list) else ""
                out.append((f"{path}.{name}{suffix}" if path else f"{name}{suffix}", item))
    return out


def _matching(node: Mapping[str, Any], key: str) -> Iterator[tuple[str, Any]]:
    if key.endswith("[x]"):
        stem = key[:-3]
        for name, value in node.items():
            if name.startswith(stem) and name[len(stem) :][:1].isupper():
                yield name, value
    elif key in node:
        yield key, node[key]


def _count(node: Any, key: str) -> int:
    if not isinstance(node, Mapping):
        return 0
    total = 0
    for _, value in _matching(node, key):
        total += len(value) if isinstance(value, list) else 1
    return total


def _pattern_matches(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, Mapping):
        return isinstance(value, Mapping) and all(
            _pattern_matches(v, value.get(k)) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(
            any(_pattern_matches(p, v) for v in value) for p in pattern
        )
    return bool(pattern == value)


class ProfileChecker:
    """Checks resources against a set of StructureDefinitions, keyed by canonical URL."""

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self.definitions = definitions
        self._compiled: dict[str, Any] = {}

    def _invariant(self, expression: str) -> Any:
        if expression not in self._compiled:
            self._compiled[expression] = fhirpathpy.compile(expression, R4)
        return self._compiled[expression]

    def check(self, resource: Mapping[str, Any]) -> list[str]:
        """Problems of a resource against its declared module profiles and extensions."""
        problems: list[str] = []
        for url in (resource.get("meta") or {}).get("profile") or []:
            definition = self.definitions.get(str(url).split("|")[0])
            if definition is not None:
                problems += self._check_against(resource, definition, "")
                problems += self._invariants(resource, _invariants(definition, ""))
        used = self._used_extensions(resource)
        for path, ext in _extensions(resource, ""):
            definition = self.definitions.get(str(ext.get("url")))
            if definition is not None:
                problems += self._check_against(ext, definition, path)
        for url in used:
            problems += self._invariants(resource, _invariants(self.definitions[url], _scope(url)))
        return problems

    def invariant_checks(self, resource: Mapping[str, Any]) -> list[Invariant]:
        """Every invariant `check` evaluates on a resource, as FHIRPath from its root."""
        found: list[Invariant] = []
        for url in (resource.get("meta") or {}).get("profile") or []:
            definition = self.definitions.get(str(url).split("|")[0])
            if definition is not None:
                found += _invariants(definition, "")
        for url in self._used_extensions(resource):
            found += _invariants(self.definitions[url], _scope(url))
        return found

    def _used_extensions(self, resource: Mapping[str, Any]) -> list[str]:
        return sorted(
            {
                str(ext.get("url"))
                for _, ext in _extensions(resource, "")
                if str(ext.get("url")) in self.definitions
            }
        )

    def _invariants(self, resource: Mapping[str, Any], checks: list[Invariant]) -> list[str]:
        """Invariants, evaluated from the resource root so that FHIR's types are known."""
        return [
            f"{c.element}: {c.key}: {c.human}"
            for c in checks
            if self._invariant(c.expression)(resource) == [False]
        ]

    def _check_against(self, root: Any, definition: Mapping[str, Any], base: str) -> list[str]:
        problems: list[str] = []
        slice_nodes: dict[str, list[Node]] = {}
        for element in definition.get("differential", {}).get("element", []):
            problems += self._element(root, element, base, slice_nodes)
        return problems

    def _nodes(
        self, root: Any, element: Mapping[str, Any], base: str, slice_nodes: dict[str, list[Node]]
    ) -> tuple[list[Node], str]:
        """Parent nodes of the element and the child key, honouring slices in the id."""
        parts = element["id"].split(".")
        nodes: list[Node] = [(base, root)]
        for depth, part in enumerate(parts[1:-1], start=1):
            name, _, slice_name = part.partition(":")
            nodes = _children(nodes, name)
            if slice_name:
                nodes = slice_nodes.get(".".join(parts[: depth + 1]), [])
        return nodes, parts[-1]

    def _element(
        self, root: Any, element: Mapping[str, Any], base: str, slice_nodes: dict[str, list[Node]]
    ) -> list[str]:
        problems: list[str] = []
        parents, last = self._nodes(root, element, base, slice_nodes)
        key, _, slice_name = last.partition(":")
        label = element["id"]
        if slice_name:
            wanted = _slice_url(element, slice_name)
            selected: list[Node] = []
            for path, parent in parents:
                hits = [
                    n
                    for n in _children([(path, parent)], key)
                    if isinstance(n[1], Mapping) and n[1].get("url") == wanted
                ]
                selected += hits
                problems += _cardinality(label, path, len(hits), element)
            slice_nodes[element["id"]] = selected
            return problems
        for path, parent in parents:
            if isinstance(parent, Mapping):
                problems += _cardinality(label, path, _count(parent, key), element)
        values = _children(parents, key)
        if element.get("slicing", {}).get("rules") == "closed":
            allowed = {_slice_url(e, e["sliceName"]) for e in self._siblings(element)}
            for path, value in values:
                if isinstance(value, Mapping) and value.get("url") not in allowed:
                    problems.append(
                        f"{path or label}: extension {value.get('url')!r} is not allowed here"
                    )
        for name, value in element.items():
            if name.startswith("fixed"):
                problems += [f"{p or label}: must be {value!r}" for p, v in values if v != value]
            elif name.startswith("pattern"):
                problems += [
                    f"{p or label}: must match {value!r}"
                    for p, v in values
                    if not _pattern_matches(value, v)
                ]
        types = [t.get("code") for t in element.get("type") or [] if key.endswith("[x]")]
        for path, parent in parents if types else []:
            for name, _ in _matching(parent, key) if isinstance(parent, Mapping) else ():
                if name[len(key) - 3 :] not in {str(t)[:1].upper() + str(t)[1:] for t in types}:
                    problems.append(
                        f"{path}.{name}: type must be one of {', '.join(map(str, types))}"
                    )
        return problems

    def _siblings(self, element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        for definition in self.definitions.values():
            elements = definition.get("differential", {}).get("element", [])
            if any(e is element for e in elements):
                return [e for e in elements if e.get("sliceName") and e["path"] == element["path"]]
        return []


@dataclass(frozen=True)
class Invariant:
    """A profile's invariant on one element, as an expression from the resource root."""

    element: str
    key: str
    human: str
    expression: str


def _scope(url: str) -> str:
    return f"descendants().where(url = '{url}')"


def _invariants(definition: Mapping[str, Any], scope: str) -> list[Invariant]:
    found = []
    for element in definition.get("differential", {}).get("element", []):
        nav = ".".join(element["path"].split(".")[1:])
        target = ".".join(p for p in (scope, nav) if p)
        for constraint in element.get("constraint") or []:
            expr = constraint["expression"]
            full = f"{target}.all({expr})" if target else expr
            found.append(Invariant(element["path"], constraint["key"], constraint["human"], full))
    return found


def _slice_url(element: Mapping[str, Any], slice_name: str) -> str:
    for t in element.get("type") or []:
        for profile in t.get("profile") or []:
            return str(profile)
    return slice_name


def _cardinality(label: str, path: str, count: int, element: Mapping[str, Any]) -> list[str]:
    problems = []
    low = element.get("min")
    high = element.get("max")
    where = f"{path}.{label.split('.')[-1]}" if path else label
    if isinstance(low, int) and count < low:
        problems.append(f"{where}: at least {low} required, found {count}")
    if high not in (None, "*") and count > int(high):
        problems.append(f"{where}: at most {high} allowed, found {count}")
    return problems


def _extensions(node: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if key in ("extension", "modifierExtension") and isinstance(value, list):
                for i, ext in enumerate(value):
                    if isinstance(ext, Mapping):
                        yield f"{sub}[{i}]", ext
            yield from _extensions(value, sub)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _extensions(item, f"{path}[{i}]")
