"""ValueSet membership evaluated locally, without a terminology server.

A ValueSet may include explicit concepts (with designations: the free-text
spellings an EHR may send instead of a code) and `is-a` filters on code systems
whose hierarchy is readable from the codes themselves: ICD-10 and ICD-10-CM
(J44.9 is-a J44, which lies in the block J40-J47 and the chapter J00-J99) and
the WHO ATC classification, which is positional (G03AA07 is-a G03AA, G03A, G03
and G). Any other filter cannot be evaluated here, so the loader refuses it
rather than guess. An NDC package code (labeler-product-package) is a member
when its product code (labeler-product) is; an NDC of 10 digits without hyphens, which
does not say where its labeler and product end, when the product of one of its layouts is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm"})
ATC_SYSTEM = "http://www.whocc.no/atc"
_RANGE = re.compile(r"^([A-Z][0-9][0-9A-Z])-([A-Z][0-9][0-9A-Z])$")
#: an ATC code of any level: anatomical group (1 letter), therapeutic (+2 digits),
#: pharmacological (+1 letter), chemical (+1 letter) subgroup, substance (+2 digits)
_ATC = re.compile(r"^[A-Z](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?$")


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


NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
_NDC_PARTS = {(4, 4), (5, 3), (5, 4)}  # labeler and product lengths; package 1 or 2 digits
#: the labeler and product lengths of the 10-digit layouts 4-4-2, 5-3-2 and 5-4-1: a 10-digit
#: NDC without hyphens may be any of them, and an 8-digit product code 4-4 or 5-3
_NDC_LAYOUTS = {10: ((4, 4), (5, 3), (5, 4)), 8: ((4, 4), (5, 3))}


def ndc_product(code: Any) -> str | None:
    """The product of an NDC as 5-4 digits ('57664-0502'), from a product code
    ('57664-502'), a package code in any 10-digit configuration ('57664-502-88',
    '0093-0058-01') or the 11-digit form without hyphens ('57664050288'); None for
    anything else (a 10-digit code without hyphens cannot be split: see ndc_candidates)."""
    if not isinstance(code, str):
        return None
    text = code.strip()
    parts = text.split("-")
    if not all(p.isascii() and p.isdigit() for p in parts):
        return None
    if len(parts) == 1:
        if len(text) in (9, 11):
            return f"{text[:5]}-{text[5:9]}"
        return None
    if len(parts) > 3 or (len(parts) == 3 and len(parts[2]) not in (1, 2)):
        return None
    labeler, product = parts[0], parts[1]
    if (len(labeler), len(product)) not in _NDC_PARTS:
        return None
    return f"{labeler.zfill(5)}-{product.zfill(4)}"


def ndc_candidates(code: Any) -> tuple[str, ...]:
    """The products (as ndc_product gives them) an NDC may be: ndc_product's one; for a
    10-digit package code without hyphens ('5766405030') the product of each layout it may
    be written in (4-4-2 '05766-4050', 5-3-2 '57664-0050', 5-4-1 '57664-0503'), and for an
    8-digit product code without hyphens that of 4-4 and of 5-3; () for anything else."""
    product = ndc_product(code)
    if product is not None:
        return (product,)
    if not isinstance(code, str):
        return ()
    text = code.strip()
    layouts = _NDC_LAYOUTS.get(len(text), ()) if text.isascii() and text.isdigit() else ()
    found = (f"{text[:a].zfill(5)}-{text[a : a + b].zfill(4)}" for a, b in layouts)
    return tuple(dict.fromkeys(found))


def ndc_problem(code: Any) -> str:
    """Why an NDC in the knowledge is refused (ndc_product found no product in it)."""
    ambiguous = len(ndc_candidates(code)) > 1
    if ambiguous and len(code.strip()) == 10:
        return (
            f"{code!r} is an NDC of 10 digits without hyphens, which may be written 4-4-2, "
            "5-3-2 or 5-4-1, so its product cannot be told: write it with its hyphens, or as "
            "the 11-digit code"
        )
    if ambiguous:
        return (
            f"{code!r} is an NDC product code of 8 digits without a hyphen, which may be "
            "written 4-4 or 5-3, so its product cannot be told: write it with its hyphen, or "
            "as the 9-digit code"
        )
    return f"{code!r} is not an NDC product or package code"


def atc_is_a(code: str, parent: str) -> bool:
    """True when an ATC code is the parent or lies under it: each level of ATC extends the
    code of the level above, so is-a is a prefix match on whole codes."""
    code, parent = code.strip().upper(), parent.strip().upper()
    return bool(_ATC.match(code)) and code.startswith(parent)


#: the systems whose is-a filters are read from the codes, and how
IS_A = {**{s: icd10_is_a for s in ICD10_SYSTEMS}, ATC_SYSTEM: atc_is_a}


def _valid_parent(system: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    if system == ATC_SYSTEM:
        return bool(_ATC.match(value.strip().upper()))
    return True


@dataclass(frozen=True)
class ValueSetIndex:
    """One ValueSet, ready for membership tests of Codings and text."""

    url: str
    codes: frozenset[tuple[str, str]]
    terms: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: the is-a filters (system, parent code) of systems in IS_A
    filters: tuple[tuple[str, str], ...] = ()
    #: the displays and designations (any language) of its concepts, normalised; not codes
    phrases: frozenset[str] = frozenset()
    #: the NDC products of its NDC concepts, as ndc_product gives them
    ndc_products: frozenset[str] = frozenset()
    #: (system, code) -> the display of each listed concept that has one
    displays: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def has_coding(self, system: Any, code: Any) -> bool:
        """Whether a Coding (system, code) is in the value set."""
        if not isinstance(system, str) or not isinstance(code, str):
            return False
        if (system, code) in self.codes:
            return True
        if system == NDC_SYSTEM and self.ndc_products:
            # any of the products an NDC without hyphens may be: membership says "may be one
            # of these", the safe reading for the medications a fact looks for
            return any(p in self.ndc_products for p in ndc_candidates(code))
        return any(system == s and IS_A[s](code, p) for s, p in self.filters)

    def display_of(self, system: Any, code: Any) -> str | None:
        """The display of the listed concept a Coding is (an NDC package: its product's)."""
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        found = self.displays.get((system, code))
        if found is None and system == NDC_SYSTEM:
            # an NDC without hyphens that fits the products of several listed concepts has
            # none of their displays
            products = set(ndc_candidates(code))
            shown: dict[str | None, str] = {}
            for (s, c), d in self.displays.items():
                if s == system and ndc_product(c) in products:
                    shown.setdefault(ndc_product(c), d)
            found = next(iter(shown.values())) if len(shown) == 1 else None
        return found

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
    displays: dict[tuple[str, str], str] = {}
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
        for k, concept in enumerate(inc.get("concept") or []):
            if system == NDC_SYSTEM and ndc_product(concept["code"]) is None:
                problems.append(
                    f"compose.include[{i}].concept[{k}].code: {ndc_problem(concept['code'])}"
                )
            codes.add((system, concept["code"]))
            if isinstance(concept.get("display"), str) and concept["display"]:
                displays.setdefault((system, concept["code"]), concept["display"])
            words = [concept.get("display")] + [
                d.get("value") for d in concept.get("designation") or [] if not is_name_word(d)
            ]
            for term in [*words, concept["code"]]:
                if isinstance(term, str) and term:
                    terms.setdefault(normalise_text(term), (system, concept["code"]))
            phrases.update(normalise_text(w) for w in words if isinstance(w, str) and w)
        for j, flt in enumerate(inc.get("filter") or []):
            where = f"compose.include[{i}].filter[{j}]"
            if system in IS_A and flt.get("op") == "is-a" and flt.get("property") == "concept":
                if _valid_parent(system, flt.get("value")):
                    filters.append((system, flt["value"].strip()))
                else:
                    problems.append(f"{where}.value: {flt.get('value')!r} is not a {system} code")
            else:
                problems.append(
                    f"{where}: only is-a on ICD-10, ICD-10-CM or ATC can be evaluated locally"
                )
        if not inc.get("concept") and not inc.get("filter") and system:
            if system in code_systems:
                for concept in code_systems[system].get("concept") or []:
                    codes.add((system, concept["code"]))
            else:
                problems.append(
                    f"compose.include[{i}]: {system} is not in the module, so it cannot be expanded"
                )
    phrases.discard("")
    ndc = {ndc_product(code) for system, code in codes if system == NDC_SYSTEM}
    index = ValueSetIndex(
        resource["url"],
        frozenset(codes),
        terms,
        tuple(filters),
        frozenset(phrases),
        frozenset(p for p in ndc if p is not None),
        displays,
    )
    return index, problems
