"""Snapshots of constraint profiles: the base definition's elements with the differential applied.

The rules are those of the FHIR specification (profiling, "snapshot generation")
as far as the module's profiles use them:

- the snapshot starts as a copy of the base definition's snapshot;
- a differential element is matched to a snapshot element by its id; an element
  below one whose children are not yet in the snapshot makes that element unfold,
  from its data type's definition or, for a `contentReference`, from the elements it
  names (which then stands for them no longer);
- a slice (`path:name`) is a copy of the sliced element, placed after the earlier
  slices of the same element and their children;
- the differential's values replace the snapshot's, except `constraint`, which is
  added to (each new constraint with `source` set to the profile).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import FhirModuleError

Definition = Mapping[str, Any]
Resolver = Callable[[str], Definition | None]

CORE = "http://hl7.org/fhir/StructureDefinition/"
# Values of a differential element that say where it is, not what it constrains.
_POSITION = frozenset({"id", "path"})


class SnapshotError(FhirModuleError, ValueError):
    """A differential that cannot be applied to its base, with the element named."""


def generate_snapshot(profile: Definition, resolve: Resolver) -> list[dict[str, Any]]:
    """The snapshot elements of a constraint profile.

    `resolve(url)` returns a StructureDefinition by canonical URL (base
    definitions, data types, the module's own profiles); the base of `profile`
    needs a snapshot, or a differential this function can expand in turn.
    """
    return _Builder(profile, resolve).build()


class _Builder:
    def __init__(self, profile: Definition, resolve: Resolver) -> None:
        self.profile = profile
        self.resolve = resolve
        self.url = str(profile.get("url", ""))

    def build(self) -> list[dict[str, Any]]:
        base_url = str(self.profile.get("baseDefinition") or "")
        base = self.resolve(base_url)
        if base is None:
            raise SnapshotError(f"{self.url}: base definition {base_url} is not available")
        self.base_elements = _snapshot_of(base, self.resolve)
        self.elements = copy.deepcopy(self.base_elements)
        for diff in (self.profile.get("differential") or {}).get("element") or []:
            element_id = str(diff.get("id") or diff.get("path") or "")
            if not element_id:
                raise SnapshotError(f"{self.url}: a differential element has neither id nor path")
            index = self._locate(element_id)
            _merge(self.elements[index], diff, self.url)
        return self.elements

    # ----- finding (and making) the element a differential entry constrains
    def _index(self, element_id: str) -> int | None:
        for i, element in enumerate(self.elements):
            if element.get("id") == element_id:
                return i
        return None

    def _locate(self, element_id: str) -> int:
        found = self._index(element_id)
        if found is not None:
            return found
        parent_id, _, last = element_id.rpartition(".")
        name, _, slice_name = last.partition(":")
        if slice_name:
            return self._add_slice(f"{parent_id}.{name}" if parent_id else name, slice_name)
        if not parent_id:
            raise SnapshotError(f"{self.url}: {element_id}: not an element of the base")
        parent = self._locate(parent_id)
        if self._children_end(parent) == parent + 1:
            self._unfold(parent)
        found = self._index(element_id)
        if found is None:
            raise SnapshotError(f"{self.url}: {element_id}: not an element of the base")
        return found

    def _children_end(self, index: int) -> int:
        """The index after the last element below elements[index] (its children, its slices')."""
        prefix = str(self.elements[index]["id"])
        end = index + 1
        while end < len(self.elements):
            other = str(self.elements[end]["id"])
            if not (other.startswith(prefix + ".") or other.startswith(prefix + ":")):
                break
            end += 1
        return end

    def _add_slice(self, sliced_id: str, slice_name: str) -> int:
        sliced = self._locate(sliced_id)
        element = copy.deepcopy(self.elements[sliced])
        element.pop("slicing", None)
        element["id"] = f"{sliced_id}:{slice_name}"
        element["sliceName"] = slice_name
        # The sliced element's own children first, then each earlier slice with its children.
        position = self._children_end(sliced)
        self.elements.insert(position, element)
        return position

    def _unfold(self, index: int) -> None:
        element = self.elements[index]
        element_id, path = str(element["id"]), str(element["path"])
        reference = element.get("contentReference")
        if isinstance(reference, str) and reference.startswith("#"):
            source_path = reference[1:]
            children = [
                e for e in self.base_elements if str(e["path"]).startswith(source_path + ".")
            ]
            source_id = source_path
            # Its children are now in the snapshot itself.
            del element["contentReference"]
        else:
            types = element.get("type") or []
            codes = {t.get("code") for t in types}
            if len(codes) != 1:
                raise SnapshotError(
                    f"{self.url}: {element_id}: cannot constrain below an element of "
                    f"{len(codes)} types"
                )
            code = str(next(iter(codes)))
            definition = self.resolve(CORE + code)
            if definition is None:
                raise SnapshotError(f"{self.url}: {element_id}: no definition of type {code}")
            type_elements = _snapshot_of(definition, self.resolve)
            children = type_elements[1:]
            source_path = str(type_elements[0]["path"])
            source_id = str(type_elements[0].get("id") or source_path)
        unfolded = []
        for child in children:
            new = copy.deepcopy(child)
            new["path"] = path + str(child["path"])[len(source_path) :]
            new["id"] = element_id + str(child.get("id") or child["path"])[len(source_id) :]
            unfolded.append(new)
        self.elements[index + 1 : index + 1] = unfolded


def _snapshot_of(definition: Definition, resolve: Resolver) -> list[dict[str, Any]]:
    snapshot = (definition.get("snapshot") or {}).get("element")
    if snapshot:
        return [dict(e) for e in snapshot]
    if definition.get("derivation") == "constraint" and definition.get("differential"):
        return generate_snapshot(definition, resolve)
    raise SnapshotError(f"{definition.get('url')}: has no snapshot")


def _merge(target: dict[str, Any], diff: Mapping[str, Any], source: str) -> None:
    for key, value in diff.items():
        if key in _POSITION:
            continue
        if key == "constraint":
            keep = {c.get("key"): c for c in target.get("constraint") or []}
            for constraint in value:
                added = dict(constraint)
                added.setdefault("source", source)
                keep[added.get("key")] = added
            target["constraint"] = list(keep.values())
        else:
            if key.startswith(("fixed", "pattern")):
                for old in [k for k in target if k.startswith(("fixed", "pattern"))]:
                    del target[old]
            target[key] = copy.deepcopy(value)
