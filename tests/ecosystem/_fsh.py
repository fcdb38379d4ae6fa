"""FHIR Shorthand for a SUSHI project: profiles derived from ours, and our resources as instances.

A resource becomes assignment rules (`* path = value`), each value written as FSH
writes its FHIR type (codes as #code, strings quoted, dates bare), which the element
definitions tell: the profile's snapshot, then the R4 data types below it. An
extension that one of the profile's slices names by profile URL is written by its
slice name (`extension[citation]`), as SUSHI counts slices by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from fhir_module.package import Definitions

Elements = dict[str, dict[str, Any]]
_CODE = re.compile(r"[A-Za-z0-9\-._]+")
_SKIP = frozenset({"resourceType", "id", "meta", "text"})


def _elements(definition: Mapping[str, Any]) -> Elements:
    return {str(e["id"]): dict(e) for e in definition["snapshot"]["element"]}


def fsh_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def fsh_value(value: Any, type_code: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if type_code == "code":
        return f"#{text}" if _CODE.fullmatch(text) else f"#{fsh_string(text)}"
    if type_code in ("date", "dateTime", "instant", "time"):
        return text
    return fsh_string(text)


class Writer:
    """Assignment rules for resources, typed by the given definitions."""

    def __init__(self, definitions: Definitions) -> None:
        self.definitions = definitions

    def rules(self, resource: Mapping[str, Any], profile: Mapping[str, Any]) -> list[str]:
        root = str(resource["resourceType"])
        out: list[str] = []
        for key, value in resource.items():
            if key not in _SKIP:
                out += self._walk(value, key, _elements(profile), f"{root}.{key}", key)
        return out

    # ----- the element definition of a JSON key, and its type
    def _type_definition(self, code: str) -> Elements:
        found = self.definitions.resolve(f"http://hl7.org/fhir/StructureDefinition/{code}")
        assert found is not None, f"no definition of {code}"
        return _elements(found)

    def _element(self, elements: Elements, element_id: str) -> tuple[Elements, str, str]:
        """(definitions, id, type code) of an element, descending into data types as needed."""
        if element_id in elements:
            element = elements[element_id]
            reference = element.get("contentReference")
            if reference:
                return self._element(elements, reference[1:])
            codes = [str(t.get("code")) for t in element.get("type") or []]
            return elements, element_id, codes[0] if len(codes) == 1 else ""
        parent, _, last = element_id.rpartition(".")
        defs, parent_id, code = self._element(elements, parent)
        if f"{parent_id}.{last}" in defs:
            return self._element(defs, f"{parent_id}.{last}")
        choice = self._choice(defs, parent_id, last)
        if choice is not None:
            return choice
        assert code, f"{element_id}: not an element of one type"
        return self._element(self._type_definition(code), f"{code}.{last}")

    def _choice(
        self, elements: Elements, parent: str, key: str
    ) -> tuple[Elements, str, str] | None:
        for element_id in elements:
            if element_id.startswith(parent + ".") and element_id.endswith("[x]"):
                stem = element_id[len(parent) + 1 : -3]
                if "." not in stem and ":" not in stem and key.startswith(stem):
                    suffix = key[len(stem) :]
                    if suffix[:1].isupper():
                        code = (
                            suffix
                            if suffix[1:2].isupper() or suffix in _COMPLEX
                            else (suffix[:1].lower() + suffix[1:])
                        )
                        if code[:1].isupper():  # below it, the chosen type's elements
                            return self._type_definition(code), code, code
                        return elements, element_id, code
        return None

    def _slices(self, elements: Elements, element_id: str) -> dict[str, str]:
        """Extension URL -> slice name, for the slices of an extension element."""
        out = {}
        for eid, element in elements.items():
            if eid.startswith(element_id + ":") and "." not in eid[len(element_id) :]:
                name = str(element.get("sliceName"))
                profiles = [p for t in element.get("type") or [] for p in t.get("profile") or []]
                url = profiles[0] if profiles else None
                fixed = elements.get(f"{eid}.url", {}).get("fixedUri")
                out[str(url or fixed or name)] = name
        return out

    # ----- walking the JSON
    def _walk(
        self, value: Any, fsh: str, elements: Elements, element_id: str, key: str
    ) -> list[str]:
        if isinstance(value, list):
            if key in ("extension", "modifierExtension"):
                return list(self._extensions(value, fsh, elements, element_id))
            out: list[str] = []
            for i, item in enumerate(value):
                out += self._walk(item, f"{fsh}[{i}]", elements, element_id, key)
            return out
        defs, eid, code = self._element(elements, element_id)
        if isinstance(value, Mapping):
            out = []
            for child, item in value.items():
                out += self._walk(item, f"{fsh}.{child}", defs, f"{eid}.{child}", child)
            return out
        return [f"* {fsh} = {fsh_value(value, code)}"]

    def _extensions(
        self, items: list[Any], fsh: str, elements: Elements, element_id: str
    ) -> Iterator[str]:
        defs, eid, _ = self._element(elements, element_id)
        slices = self._slices(defs, eid)
        seen: dict[str, int] = {}
        for i, ext in enumerate(items):
            url = str(ext.get("url"))
            name = slices.get(url)
            if name is None:
                base = f"{fsh}[{i}]"
                yield f"* {base}.url = {fsh_string(url)}"
                inner, inner_id = self._type_definition("Extension"), "Extension"
            else:
                n = seen.get(name, 0)
                seen[name] = n + 1
                base = f"{fsh}[{name}][{n}]"
                profile = self.definitions.resolve(url)
                if profile is not None:
                    inner, inner_id = _elements(profile), "Extension"
                else:
                    inner, inner_id = defs, f"{eid}:{name}"
            for child, item in ext.items():
                if child != "url":
                    yield from self._walk(
                        item, f"{base}.{child}", inner, f"{inner_id}.{child}", child
                    )


_COMPLEX = frozenset(
    {
        "Address",
        "Age",
        "Annotation",
        "Attachment",
        "CodeableConcept",
        "Coding",
        "ContactPoint",
        "Count",
        "Distance",
        "Duration",
        "HumanName",
        "Identifier",
        "Money",
        "Period",
        "Quantity",
        "Range",
        "Ratio",
        "Reference",
        "SampledData",
        "Signature",
        "Timing",
        "Dosage",
        "Expression",
        "Meta",
    }
)
