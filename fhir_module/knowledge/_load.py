"""Reading knowledge files: JSON, then FHIR R4 structure (fhir.resources, after a first
look that spares it where a resource is plainly valid: _structure), then profiles."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from ..errors import KnowledgeError
from ._structure import plainly_valid

SUPPORTED_TYPES = frozenset(
    {
        "CodeSystem",
        "Library",
        "MedicationKnowledge",
        "PlanDefinition",
        "StructureDefinition",
        "ValueSet",
    }
)


@dataclass(frozen=True)
class SourceFile:
    """A knowledge resource and the file it came from."""

    name: str
    resource: dict[str, Any]
    #: where it was read from (the file's path, or package:member), for messages that must
    #: tell two files of one name apart; '' when only the name is known
    origin: str = ""

    @property
    def where(self) -> str:
        return self.origin or self.name


def default_files() -> list[Path]:
    """The module's own knowledge and profile files, from the installed package."""
    found: list[Path] = []
    for package in ("fhir_module.knowledge", "fhir_module.profiles"):
        root = resources.files(package)
        folder = root / "data" if package.endswith("knowledge") else root
        found += sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".json"))
    return found


#: the npm manifest of a FHIR package (package/package.json): describes it, not knowledge
PACKAGE_MANIFEST = "package.json"
#: the resource types that describe a package, not knowledge: skipped in a package or folder
NOT_KNOWLEDGE = frozenset({"ImplementationGuide"})


def folder_files(folder: Path) -> list[Path]:
    """The *.json files in a folder and in every folder below it (a symbolic link to a
    folder followed, each folder read once), each folder's files and folders in name order; hidden
    files and folders (a name starting with '.': .index.json, .git) and npm manifests
    (package.json) are not knowledge and are left out."""
    out: list[Path] = []
    seen: set[Path] = set()

    def walk(here: Path) -> None:
        real = here.resolve()
        if real in seen:
            return
        seen.add(real)
        try:
            children = sorted(here.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            raise KnowledgeError(str(here), "$", f"cannot be read ({exc.strerror})") from None
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                walk(child)
            elif child.name.endswith(".json") and child.name != PACKAGE_MANIFEST:
                out.append(child)

    walk(folder)
    return out


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and the *.json files in and below folders named (see
    folder_files), each file once however often it is named (twice, as a file and within
    its folder, or by a symbolic link): the first naming is kept."""
    out: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        for found in folder_files(path) if path.is_dir() else [path]:
            real = found.resolve()
            if real not in seen:
                seen.add(real)
                out.append(found)
    return out


def knowledge_paths(paths: Iterable[Path]) -> tuple[list[Path], set[Path]]:
    """The files the paths name, as the loader reads them (expand: folders read with their
    subfolders, each file once), and which of them were found in a folder rather than named:
    one of those that describes a package (is_description) is not knowledge."""
    named = list(paths)
    files = expand(named)
    return files, set(files) - {p for p in named if not p.is_dir()}


def is_description(resource: Any) -> bool:
    """Whether a resource describes a package (an ImplementationGuide), not knowledge."""
    return isinstance(resource, dict) and resource.get("resourceType") in NOT_KNOWLEDGE


#: the resource types whose plain objects are not shared: a profile's elements are told
#: apart by identity (the slices of one element)
_UNSHARED_TYPES = frozenset({"StructureDefinition"})


def shared_strings(node: Any, objects: dict[int, dict[str, Any]] | None = None) -> Any:
    """The JSON with its keys and strings interned: the systems, units, codes and texts many
    modules repeat are then held once in the process. Given `objects` (a table shared by
    the files of one load), an object of plain values only (a Coding, a Quantity) that
    equals one read before, key order and value types alike, is that one: the codings and
    doses of many modules are held once too. The knowledge is never changed once read."""
    if isinstance(node, dict):
        if objects is not None and node.get("resourceType") in _UNSHARED_TYPES:
            objects = None
        out = {sys.intern(k): shared_strings(v, objects) for k, v in node.items()}
        if objects is None or not out:
            return out
        return _shared(out, objects)
    if isinstance(node, list):
        return [shared_strings(v, objects) for v in node]
    if isinstance(node, str):
        return sys.intern(node)
    return node


#: a file that holds a profile (see _UNSHARED_TYPES) anywhere
_HOLDS_UNSHARED = re.compile(
    r'"resourceType"\s*:\s*"(?:' + "|".join(sorted(_UNSHARED_TYPES)) + ')"'
)


def _object_reader(objects: dict[int, dict[str, Any]] | None) -> Callable[..., Any]:
    """The object hook of json.loads that makes each object as shared_strings would."""
    intern = sys.intern

    def make(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = {}
        for k, v in pairs:
            kind = type(v)
            if kind is str:
                v = intern(v)
            elif kind is list:
                v = [intern(x) if type(x) is str else x for x in v]
            out[intern(k)] = v
        if objects is None or not out:
            return out
        return _shared(out, objects)

    return make


def _shared(out: dict[str, Any], objects: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The object of plain values equal to `out` met before, key order and value types
    alike, or `out` (then remembered); an object holding objects or lists is kept."""
    plain = tuple((k, type(v), v) for k, v in out.items())
    if any(t is dict or t is list for _, t, _ in plain):
        return out
    key = hash(plain)
    same = objects.get(key)
    if same is None:
        objects[key] = out
        return out
    if tuple((k, type(v), v) for k, v in same.items()) == plain:
        return same
    return out  # another object of that hash: kept as read


def read_json(path: Path, objects: dict[int, dict[str, Any]] | None = None) -> Any:
    """Parsed JSON of a file, or a KnowledgeError naming the file; `objects`: see
    shared_strings (the same JSON, read in one pass)."""
    try:
        text = path.read_text(encoding="utf-8")
        if objects is not None and _HOLDS_UNSHARED.search(text):
            objects = None
        found = json.loads(text, object_pairs_hook=_object_reader(objects))
        return shared_strings(found) if isinstance(found, list | str) else found
    except OSError as exc:
        raise KnowledgeError(path.name, "$", f"cannot be read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(path.name, "$", f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise KnowledgeError(path.name, "$", JSON_TOO_DEEP) from None
    except ValueError:  # json.loads reads integers of at most sys.get_int_max_str_digits()
        raise KnowledgeError(path.name, "$", JSON_NUMBER_TOO_LONG) from None


#: the problem of a resource fhir.resources fails on without naming an element: one of its
#: validators meets a value of a kind it does not expect (a primitive's extension `_name`
#: given as a string, a number for a url) and fails on it rather than naming it
UNREADABLE_STRUCTURE = (
    "$: not FHIR R4 structure: an element holds a value of a kind its type cannot have"
    " (a primitive's extension `_name` that is not an object, a number for a url, or the like)"
)
#: the problem of a file whose JSON is nested deeper than it can be read
JSON_TOO_DEEP = "is not readable JSON: arrays or objects nested too deep"
#: the problem of a file holding a number too long for JSON to be read
JSON_NUMBER_TOO_LONG = "is not valid JSON (a number too long to read)"
#: the problem of a resource nested deeper than its structure can be checked
TOO_DEEP = "$: elements nested too deep for their structure to be checked"


def structure_problems(resource: Any) -> list[str]:
    """FHIR R4 structural problems of a parsed resource, as 'element: problem' lines: those
    fhir.resources finds, where a first look (_structure) does not find it plainly valid."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return ["resourceType: missing; not a FHIR resource"]
    if plainly_valid(resource):
        return []
    try:
        model = get_fhir_model_class(resource["resourceType"])
    except (KeyError, ValueError):
        return [f"resourceType: unknown FHIR resource type {resource['resourceType']!r}"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [f"{_loc(err['loc'])}: {err['msg']}" for err in exc.errors()]
    except RecursionError:
        return [TOO_DEEP]
    except Exception:  # noqa: BLE001 - see UNREADABLE_STRUCTURE
        return [UNREADABLE_STRUCTURE]
    return []


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not str(part).startswith("function-after") and part != "__root__":
            text += f".{part}" if text else str(part)
    return text or "$"


def read_resource(path: Path, objects: dict[int, dict[str, Any]] | None = None) -> SourceFile:
    """A knowledge file, parsed and checked against FHIR R4 structure; `objects`: see
    shared_strings."""
    return checked_source(path.name, read_json(path, objects), str(path))


def read_resources(
    paths: Iterable[Path], descriptions: Container[Path] = frozenset()
) -> list[SourceFile]:
    """Knowledge files, read as read_resource reads each, the equal plain objects of all of
    them held once. A file of `descriptions` (one found in a folder) that describes a
    package (an ImplementationGuide, NOT_KNOWLEDGE) is left out, as a package's is."""
    objects: dict[int, dict[str, Any]] = {}
    out = []
    for path in paths:
        if path in descriptions:
            found = read_json(path, objects)
            if is_description(found):
                continue
            out.append(checked_source(path.name, found, str(path)))
        else:
            out.append(read_resource(path, objects))
    return out


def checked_source(name: str, resource: Any, origin: str = "") -> SourceFile:
    """A parsed knowledge resource, checked against FHIR R4 structure."""
    problems = structure_problems(resource)
    if problems:
        element, _, problem = problems[0].partition(": ")
        raise KnowledgeError(name, element, problem)
    if resource["resourceType"] not in SUPPORTED_TYPES:
        raise KnowledgeError(
            name,
            "resourceType",
            f"{resource['resourceType']} is not a knowledge resource type",
        )
    if not resource.get("id"):
        raise KnowledgeError(name, "id", "every knowledge resource needs an id")
    return SourceFile(name, resource, origin)
