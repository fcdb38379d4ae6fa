"""Checks resources against the module's profiles (StructureDefinition differentials).

Supported, as the module's profiles use them: cardinality (min/max), fixed[x] and
pattern[x] values, extension slices by profile URL (required extensions),
closed slicing of complex extensions, value[x] types of extensions, and
invariants written in FHIRPath. Extensions whose URL is a module
StructureDefinition are checked against that definition wherever they occur.

An invariant holds on a resource when its constraint holds on each element it applies to.
Each constraint is evaluated once per (constraint, element type, element value): the
value is keyed by a digest of its canonical JSON, so the same element in many resources
(an extension every product carries, a dose of every module) is checked once. Of that
value, the key holds only what the constraint can read (see `reads`): the values of
members it never names are left out (their names stay), so the doses and actions of many
modules that differ only in their texts and ids share one evaluation. A
constraint that may look beyond its element (`%resource`, `%context`, `$index`,
`resolve()`) is evaluated from the resource root, as the invariant's whole expression.
Problems name the same files and elements whether the answer was known or not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from ..errors import FhirModuleError
from ..fhirpath import FhirPathError, compiled

R4 = models["r4"]
#: the element type of every node an extension scope selects
EXTENSION_TYPE = "Extension"
#: text by which a constraint may read beyond the element it is evaluated on
_BEYOND_ELEMENT = ("%", "$index", "resolve(")

Node = tuple[str, Any]
#: beside the slices, the nodes of every path walked to are kept under this prefix of its id
_WALKED = "\x00walked:"


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
        #: (constraint or expression, element type, digest of the element's JSON) -> holds
        self._known: dict[tuple[str, str, bytes], bool] = {}
        #: the resource being checked, its elements with a url by that url (see _by_url)
        self._urls: tuple[Any, dict[str, list[Any] | None]] = (None, {})

    def _invariant(self, expression: str) -> Callable[[Any], list[Any]]:
        """The invariant's whole expression, run from a resource root with R4's types."""
        found = compiled(expression)
        return lambda resource: found.typed(resource, R4)

    def check(self, resource: Mapping[str, Any]) -> list[str]:
        """Problems of a resource against its declared module profiles and extensions."""
        self._urls = _by_url(resource)
        problems: list[str] = []
        for url in (resource.get("meta") or {}).get("profile") or []:
            definition = self.definitions.get(str(url).split("|")[0])
            if definition is not None:
                problems += self._check_against(resource, definition, "")
                problems += self._invariants(resource, _invariants(definition, ""))
        extensions = list(_extensions(resource, ""))
        used = self._used_extensions(resource, extensions)
        for path, ext in extensions:
            definition = self.definitions.get(str(ext.get("url")))
            if definition is not None:
                problems += self._check_against(ext, definition, path)
        for url in used:
            problems += self._invariants(resource, _invariants(self.definitions[url], _scope(url)))
        return problems

    def faults(self, url: str) -> list[tuple[str, str]]:
        """(element, problem) for each invariant of the definition at `url` whose FHIRPath
        does not compile, as it is used on a resource and on one element."""
        definition = self.definitions[url]
        scope = _scope(url) if definition.get("type") == "Extension" else ""
        found = []
        for check in _invariants(definition, scope):
            for text in (check.expression, f"all({check.constraint})"):
                try:
                    compiled(text)
                except FhirPathError as exc:
                    where = f"{check.element}: constraint {check.key}"
                    found.append((where, f"its expression does not compile: {exc}"))
                    break
        return found

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

    def _used_extensions(
        self,
        resource: Mapping[str, Any],
        extensions: list[tuple[str, Mapping[str, Any]]] | None = None,
    ) -> list[str]:
        return sorted(
            {
                str(ext.get("url"))
                for _, ext in (_extensions(resource, "") if extensions is None else extensions)
                if str(ext.get("url")) in self.definitions
            }
        )

    def _invariants(self, resource: Mapping[str, Any], checks: list[Invariant]) -> list[str]:
        """Invariants, with FHIR's types known as from the resource root."""
        return [f"{c.element}: {c.key}: {c.human}" for c in checks if not self._holds(resource, c)]

    def _holds(self, resource: Mapping[str, Any], check: Invariant) -> bool:
        nodes = self._elements(resource, check)
        if nodes is None:  # evaluated whole, from the root (the type '': no element's)
            return self._known_or(
                check.expression,
                "",
                resource,
                lambda: self._invariant(check.expression)(resource) != [False],
            )
        whole = compiled(f"all({check.constraint})")  # the constraint on one element

        def on(node: Any, base: str) -> Callable[[], bool]:
            return lambda: whole.typed(node, R4, base) == [True]

        return all(
            self._known_or(check.constraint, base, data, on(node, base))
            for base, data, node in nodes
        )

    def _known_or(self, text: str, base: str, value: Any, evaluate: Callable[[], bool]) -> bool:
        """Whether the constraint holds on the value, evaluated once per canonical JSON of
        what of the value it reads."""
        names = reads(text)
        keyed = value if names is None else read_part(value, names)
        try:
            canonical = json.dumps(keyed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):  # not JSON: nothing to key it by
            return evaluate()
        key = (text, base, hashlib.blake2b(canonical.encode(), digest_size=16).digest())
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = evaluate()
        return known

    def _elements(
        self, resource: Mapping[str, Any], check: Invariant
    ) -> list[tuple[str, Any, Any]] | None:
        """(type, JSON, node) of each element the constraint applies to (the node as
        fhirpathpy typed it, or the JSON to be typed so), or None when the invariant is to be
        evaluated whole from the resource root."""
        if not check.constraint or any(t in check.constraint for t in _BEYOND_ELEMENT):
            return None
        if check.extension:
            found = _with_url(resource, check.extension, self._urls)
            if found is None:
                return None
            return [(EXTENSION_TYPE, e, e) for e in found]
        if not check.target:
            return None
        nodes = compiled(check.target).typed(resource, R4, raw=True)
        if not all(
            isinstance(n, ResourceNode) and isinstance(n.path, str) and n.path for n in nodes
        ):
            return None
        return [(n.path, [n.data, n._data], n) for n in nodes]

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
            prefix = ".".join(parts[: depth + 1])
            if slice_name:
                nodes = slice_nodes.get(prefix, [])
                continue
            if ":" in prefix:  # under a slice: its nodes are known once the slice is checked
                nodes = _children(nodes, name)
                continue
            # the parents of the elements under one path, walked to once per definition
            walked = slice_nodes.get(_WALKED + prefix)
            if walked is None:
                walked = slice_nodes[_WALKED + prefix] = _children(nodes, name)
            nodes = walked
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
    #: the elements it applies to, as FHIRPath from the root ('': the resource itself)
    target: str = ""
    #: the constraint each of those elements must meet
    constraint: str = ""
    #: for an extension's invariant, its URL: it applies to every extension of that URL
    extension: str = ""


class Reads:
    """What an expression reads of a value: the members it navigates to, by name, each with
    what it reads of them; `whole` when it reads the value itself (compares it, tests a
    string), not only whether it is there."""

    __slots__ = ("members", "whole")

    def __init__(self) -> None:
        self.members: dict[str, Reads] = {}
        self.whole = False

    def member(self, name: str) -> Reads:
        found = self.members.get(name)
        if found is None:
            found = self.members[name] = Reads()
        return found

    def covering(self, key: str) -> Reads | None:
        """What is read of the member `key` of a JSON object: by its name, by a name of
        which it is a choice type (`value` covers `valueRange`), and the same of `_name`,
        the extensions of its primitive; None when it is not read."""
        plain = key[1:] if key.startswith("_") else key
        found = self.members.get(plain)
        if found is not None:
            return found
        for i in range(1, len(plain)):
            if plain[i].isupper() and plain[:i] in self.members:
                return self.members[plain[:i]]
        return None


class _Unread(FhirModuleError):
    """The expression may read more than the members it names."""


#: functions whose input is their result, the criterion (if any) read on each item
_FILTERS = frozenset({"where", "first", "last", "single", "tail", "ofType", "as"})
#: functions that read only whether their input has items (and a criterion on each)
_PRESENCE = frozenset({"exists", "empty", "count", "hasValue", "all"})
#: functions that read their input's values
_VALUE_READERS = frozenset(
    {
        "not",
        "allTrue",
        "anyTrue",
        "allFalse",
        "anyFalse",
        "startsWith",
        "endsWith",
        "matches",
        "contains",
        "length",
        "is",
    }
)
_LOGIC = frozenset({"AndExpression", "OrExpression", "ImpliesExpression", "XorExpression"})
_COMPARISONS = frozenset({"EqualityExpression", "InequalityExpression"})


def _kids(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(node.get("children") or [])


def _is_literal(node: Mapping[str, Any]) -> bool:
    """A string or boolean literal, as an operand of a comparison."""
    while node.get("type") in ("TermExpression", "LiteralTerm", "ParenthesizedTerm"):
        children = _kids(node)
        if len(children) != 1:
            return False
        node = children[0]
    return node.get("type") in ("StringLiteral", "BooleanLiteral")


def _read_all(found: list[Reads]) -> list[Reads]:
    for r in found:
        r.whole = True
    return []


def _walk(node: Mapping[str, Any], focus: list[Reads]) -> list[Reads]:
    """What the items of the node's result are, of the value, given what its focus is."""
    kind = node.get("type")
    children = _kids(node)
    if (
        kind in (None, "TermExpression", "ParenthesizedTerm", "InvocationTerm")
        and len(children) == 1
    ):
        return _walk(children[0], focus)
    if kind == "LiteralTerm":
        return []
    if kind == "ThisInvocation":
        return focus
    if kind == "MemberInvocation" and len(children) == 1:
        name = str(children[0].get("text"))
        if name.startswith("`"):
            raise _Unread
        return [r.member(name) for r in focus]
    if kind == "FunctionInvocation" and len(children) == 1:
        return _call(children[0], focus, focus)
    if kind == "InvocationExpression" and len(children) == 2:
        base = _walk(children[0], focus)
        call = children[1]
        if call.get("type") == "FunctionInvocation" and len(_kids(call)) == 1:
            return _call(_kids(call)[0], base, focus)
        return _walk(call, base)
    if kind in _LOGIC and len(children) == 2:
        for child in children:
            _read_all(_walk(child, focus))
        return []
    if kind in _COMPARISONS and len(children) == 2 and any(_is_literal(c) for c in children):
        for child in children:
            _read_all(_walk(child, focus))
        return []
    raise _Unread


def _call(functn: Mapping[str, Any], base: list[Reads], focus: list[Reads]) -> list[Reads]:
    """A function called on `base`, its arguments in the context `focus`."""
    parts = _kids(functn)
    if not parts or parts[0].get("type") != "Identifier":
        raise _Unread
    name = str(parts[0].get("text"))
    params = _kids(parts[1]) if len(parts) == 2 else []
    if name in ("ofType", "as", "is"):
        # a type name, not a path: the type of each item is known from where it is
        if name == "is":
            return _read_all(base)
        return base
    if name == "extension":
        found = [r.member("extension") for r in base]
        for r in found:
            r.member("url").whole = True
        for p in params:
            if not _is_literal(p):
                raise _Unread
        return found
    if name == "select" and len(params) == 1:
        return _walk(params[0], base)
    if name == "iif" and len(params) in (2, 3) and base is focus:
        _read_all(_walk(params[0], focus))
        return [r for p in params[1:] for r in _walk(p, focus)]
    if name in _FILTERS or name in _PRESENCE:
        for p in params:  # a criterion, on each item
            _read_all(_walk(p, base))
        return base if name in _FILTERS else []
    if name in _VALUE_READERS:
        for p in params:  # read from the input (as fhirpathpy does) or the context
            _read_all(_walk(p, base + focus))
        return _read_all(base)
    raise _Unread


@lru_cache(maxsize=1024)
def reads(text: str) -> Reads | None:
    """What an expression can read of the value it runs on, or None when it may read more
    than the members it names (a function other than the common ones, a comparison of two
    elements, a %variable, `$index`): then every part of a value counts."""
    if any(t in text for t in _BEYOND_ELEMENT):
        return None
    try:
        tree = compiled(text).tree
        root = Reads()
        _read_all(_walk(tree, [root]))
    except (FhirPathError, _Unread):
        return None
    return root


def read_part(value: Any, read: Reads) -> Any:
    """The value with each member it does not read set to 0 (its name kept, and the items of
    a list counted): what an expression reading so can tell apart. A resource's type is
    kept everywhere."""
    if read.whole:
        return value
    if isinstance(value, list):
        return [read_part(v, read) for v in value]
    if not isinstance(value, Mapping):
        return value
    out = {}
    for k, v in value.items():
        member = read.covering(k)
        out[k] = v if k == "resourceType" else 0 if member is None else read_part(v, member)
    return out


def _scope(url: str) -> str:
    return f"descendants().where(url = '{url}')"


def _invariants(definition: Mapping[str, Any], scope: str) -> list[Invariant]:
    extension = str(definition.get("url", "")) if scope else ""
    found = []
    for element in definition.get("differential", {}).get("element", []):
        nav = ".".join(element["path"].split(".")[1:])
        target = ".".join(p for p in (scope, nav) if p)
        for constraint in element.get("constraint") or []:
            expr = constraint["expression"]
            full = f"{target}.all({expr})" if target else expr
            found.append(
                Invariant(
                    element["path"],
                    constraint["key"],
                    constraint["human"],
                    full,
                    target,
                    expr,
                    extension if not nav else "",
                )
            )
    return found


def _by_url(resource: Any) -> tuple[Any, dict[str, list[Any] | None]]:
    """The resource, and for each url its extensions of that url in document order, as
    `descendants().where(url = ...)` selects them; None for a url that an element other
    than an extension (or one on a primitive value, `_name`) has too."""
    found: dict[str, list[Any] | None] = {}

    def walk(node: Any, key: str, primitive: bool) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, key, primitive)
            return
        if not isinstance(node, Mapping):
            return
        url = node.get("url")
        if isinstance(url, str):
            if primitive or key not in ("extension", "modifierExtension"):
                found[url] = None
            else:
                listed = found.setdefault(url, [])
                if listed is not None:
                    listed.append(node)
        for k, v in node.items():
            walk(v, k, primitive or k.startswith("_"))

    if isinstance(resource, Mapping):
        for k, v in resource.items():
            walk(v, k, k.startswith("_"))
    return resource, found


def _with_url(
    resource: Any, url: str, index: tuple[Any, dict[str, list[Any] | None]]
) -> list[Any] | None:
    """Every extension of that URL in the resource (None: see _by_url), from the index
    made for it when its check began, or made now."""
    indexed, found = index if index[0] is resource else _by_url(resource)
    return found.get(url, [])


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
