"""ValueSet membership evaluated locally, without a terminology server.

A ValueSet may include explicit concepts (with designations: the free-text
spellings an EHR may send instead of a code) and `is-a` filters on ICD-10 or
ICD-10-CM, whose hierarchy is readable from the codes themselves: J44.9 is-a
J44, which lies in the block J40-J47 and the chapter J00-J99. Any other filter
cannot be evaluated here, so the loader refuses it rather than guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm"})
_RANGE = re.compile(r"^([A-Z][0-9][0-9A-Z])-([A-Z][0-9][0-9A-Z])$")


_NOT_WORD = re.compile(r"[\W_]+")


def normalise_text(text: str) -> str:
    """Case-, accent-, space- and punctuation-insensitive form of a free-text term:
    'Baclofène', 'BACLOFENE' and 'baclofene' are one term; letters of any script stay."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def icd10_is_a(code: str, parent: str) -> bool:
    """True when an ICD-10(-CM) code lies under a category ('Z34') or a block ('J00-J99')."""
    code = code.strip().upper()
    category = code[:3]
    match = _RANGE.match(parent.upper())
    if match:
        return match.group(1) <= category <= match.group(2)
    parent = parent.upper().rstrip(".")
    return code == parent or code.replace(".", "").startswith(parent.replace(".", ""))


@dataclass(frozen=True)
class ValueSetIndex:
    """One ValueSet, ready for membership tests of Codings and text."""

    url: str
    codes: frozenset[tuple[str, str]]
    terms: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    icd_filters: tuple[tuple[str, str], ...] = ()
    #: the displays and designations (any language) of its concepts, normalised; not codes
    phrases: frozenset[str] = frozenset()

    def has_coding(self, system: Any, code: Any) -> bool:
        """Whether a Coding (system, code) is in the value set."""
        if not isinstance(system, str) or not isinstance(code, str):
            return False
        if (system, code) in self.codes:
            return True
        return any(system == s and icd10_is_a(code, p) for s, p in self.icd_filters)

    def has_concept(self, concept: Any) -> bool:
        """Whether any coding of a CodeableConcept is in the value set."""
        return any(self.has_coding(c.get("system"), c.get("code")) for c in codings(concept))


def codings(concept: Any) -> list[Mapping[str, Any]]:
    """The Codings of a CodeableConcept, tolerating any malformed input."""
    # Parsed JSON holds plain dicts: test for them first, as isinstance(x, Mapping) is slow.
    if type(concept) is not dict and not isinstance(concept, Mapping):
        return []
    found = concept.get("coding")
    if not isinstance(found, list):
        return []
    return [c for c in found if type(c) is dict or isinstance(c, Mapping)]


#: the designation use of a word that, in a medication's name, implies the concept
NAME_WORD = ("http://fhir-module.org/fhir/CodeSystem/designation-use", "name-word")


def is_name_word(designation: Any) -> bool:
    """Whether a designation is a name word (not a spelling of the concept)."""
    use = designation.get("use") if isinstance(designation, Mapping) else None
    return isinstance(use, Mapping) and (use.get("system"), use.get("code")) == NAME_WORD


def name_words(concept: Mapping[str, Any]) -> list[str]:
    """The name words of a ValueSet concept."""
    return [
        str(d["value"])
        for d in concept.get("designation") or []
        if is_name_word(d) and isinstance(d.get("value"), str) and d["value"]
    ]


def build_value_set(
    resource: Mapping[str, Any], code_systems: Mapping[str, Mapping[str, Any]]
) -> tuple[ValueSetIndex, list[str]]:
    """Index a ValueSet; the second item lists problems (element paths) the loader reports.

    `code_systems` maps the canonical URL of each CodeSystem in the module to the
    resource, so that a whole-system include of one of them can be expanded.
    """
    codes: set[tuple[str, str]] = set()
    terms: dict[str, tuple[str, str]] = {}
    phrases: set[str] = set()
    filters: list[tuple[str, str]] = []
    problems: list[str] = []
    compose = resource.get("compose") or {}
    if compose.get("exclude"):
        problems.append("compose.exclude: exclusions are not evaluated locally")
    for i, inc in enumerate(compose.get("include") or []):
        system = inc.get("system")
        if inc.get("valueSet"):
            problems.append(f"compose.include[{i}].valueSet: nested value sets are not supported")
        for concept in inc.get("concept") or []:
            codes.add((system, concept["code"]))
            words = [concept.get("display")] + [
                d.get("value") for d in concept.get("designation") or [] if not is_name_word(d)
            ]
            for term in [*words, concept["code"]]:
                if isinstance(term, str) and term:
                    terms.setdefault(normalise_text(term), (system, concept["code"]))
            phrases.update(normalise_text(w) for w in words if isinstance(w, str) and w)
        for j, flt in enumerate(inc.get("filter") or []):
            if (
                system in ICD10_SYSTEMS
                and flt.get("op") == "is-a"
                and flt.get("property") == "concept"
            ):
                filters.append((system, flt["value"]))
            else:
                where = f"compose.include[{i}].filter[{j}]"
                problems.append(f"{where}: only is-a on ICD-10 can be evaluated locally")
        if not inc.get("concept") and not inc.get("filter") and system:
            if system in code_systems:
                for concept in code_systems[system].get("concept") or []:
                    codes.add((system, concept["code"]))
            else:
                problems.append(
                    f"compose.include[{i}]: {system} is not in the module, so it cannot be expanded"
                )
    phrases.discard("")
    index = ValueSetIndex(
        resource["url"], frozenset(codes), terms, tuple(filters), frozenset(phrases)
    )
    return index, problems
