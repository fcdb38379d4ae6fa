"""The patient facts a module's rules read, as its logic Library declares them (docs/facts.md).

One `Library.dataRequirement` per fact: the extensions `fact-variable` and `fact-kind`, the
kind's parameters, and the FHIR elements `type`, `codeFilter` and `dateFilter`. This module
reads and checks them; facts/_kinds.py computes each kind. Nothing here knows a drug, a
ValueSet or a variable name: they all come from the Library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ._terminology import ValueSetIndex

EXTENSION = "http://fhir-module.org/fhir/StructureDefinition/"
LOGIC_LIBRARY = ("http://terminology.hl7.org/CodeSystem/library-type", "logic-library")
_IDENTIFIER = re.compile(r"^[a-z][A-Za-z0-9]*$")
#: dateFilter.valueDuration units (UCUM) -> days
DURATION_DAYS = {
    "d": Decimal(1),
    "wk": Decimal(7),
    "mo": Decimal("30.4375"),
    "a": Decimal("365.25"),
    "h": Decimal(1) / 24,
}


@dataclass(frozen=True)
class Kind:
    """A fact kind: the resource type it reads, its outputs, its parameters."""

    resource_type: str
    outputs: tuple[str, ...]
    #: whether several declarations of one variable combine (Boolean kinds)
    boolean: bool = False
    #: the codeFilter path its records are matched by ('' when it reads none)
    code_path: str = ""
    #: the dateFilter path it applies ('' when it takes none)
    date_path: str = ""


#: the kinds of CodeSystem fact-kind; facts/_kinds.py implements exactly these
KINDS: dict[str, Kind] = {
    "observation-status": Kind(
        "Observation", ("evidence", "unreadable"), True, "code", "effective"
    ),
    "condition-active": Kind("Condition", ("evidence", "unreadable"), True, "code"),
    "observation-quantity": Kind("Observation", ("unreadable",), False, "code", "effective"),
    "other-orders": Kind("MedicationRequest", ("unidentified",), False, "medication", "authoredOn"),
    "current-orders": Kind(
        "MedicationRequest",
        (
            "dailyDose",
            "dailyDoseText",
            "singleDose",
            "text",
            "days",
            "combinedText",
            "combinedExceedsMaximum",
            "uncomputed",
        ),
        False,
        "medication",
        "authoredOn",
    ),
    "route-history": Kind("MedicationRequest", (), False, "medication", "authoredOn"),
    "order-dose": Kind(
        "MedicationRequest",
        ("daily", "dailyText", "arithmetic", "assumptions"),
        False,
        "medication",
    ),
    "age": Kind("Patient", ("text",)),
}


@dataclass(frozen=True, eq=False)
class Declaration:
    """One declared fact (compared by identity: the engine caches per declaration)."""

    variable: str
    kind: str
    resource_type: str
    #: (output name, the variable that receives it)
    outputs: tuple[tuple[str, str], ...]
    #: the codeFilter ValueSets (their canonicals, and indexed)
    filter_urls: tuple[str, ...]
    filters: tuple[ValueSetIndex, ...]
    present: ValueSetIndex | None = None
    absent: ValueSetIndex | None = None
    units: tuple[str, ...] = ()
    #: the route category of `fact-route` (route-history)
    route: str | None = None
    #: the dateFilter window in days (None: any age counts)
    within_days: Decimal | None = None
    #: `sort` on value (observation-quantity): which of the results of the latest date
    #: counts, 'ascending' (the lowest) or 'descending' (the highest)
    value_order: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The variables it gives: its own, then its outputs'."""
        return (self.variable, *(v for _, v in self.outputs))

    def matches(self, concept: Any) -> bool:
        """Whether a CodeableConcept is in one of the codeFilter ValueSets."""
        return any(vs.has_concept(concept) for vs in self.filters)


def _value(ext: Mapping[str, Any]) -> Any:
    return next((v for k, v in ext.items() if k.startswith("value")), None)


def _is_logic_library(library: Mapping[str, Any]) -> bool:
    return any(
        (c.get("system"), c.get("code")) == LOGIC_LIBRARY
        for c in (library.get("type") or {}).get("coding") or []
        if isinstance(c, Mapping)
    )


def read_declarations(
    library: Mapping[str, Any],
    value_sets: Mapping[str, ValueSetIndex],
    route_sets: Mapping[str, ValueSetIndex],
) -> tuple[Declaration, ...]:
    """The fact declarations of a logic Library; ValueError 'element: problem' on the first
    wrong one (the caller names the file)."""
    if not _is_logic_library(library):
        raise ValueError("type: the PlanDefinition's library must be a logic-library")
    found: list[Declaration] = []
    for i, requirement in enumerate(library.get("dataRequirement") or []):
        found.append(_declaration(requirement, f"dataRequirement[{i}]", value_sets, route_sets))
    seen: dict[str, tuple[tuple[str, str], Declaration]] = {}
    boolean = ", ".join(k for k, v in KINDS.items() if v.boolean)
    for i, declaration in enumerate(found):
        if len(set(declaration.names)) < len(declaration.names):
            raise ValueError(
                f"dataRequirement[{i}]: %{declaration.variable} names a variable twice"
            )
        for name in declaration.names:
            role = ("variable" if name == declaration.variable else "output", declaration.variable)
            first = seen.setdefault(name, (role, declaration))
            if first[1] is declaration:
                continue
            if not (KINDS[first[1].kind].boolean and KINDS[declaration.kind].boolean) or (
                first[0] != role
            ):
                raise ValueError(
                    f"dataRequirement[{i}]: %{name} is declared twice; only declarations of one "
                    f"variable of the Boolean kinds ({boolean}) combine"
                )
    return tuple(found)


def _declaration(
    requirement: Mapping[str, Any],
    where: str,
    value_sets: Mapping[str, ValueSetIndex],
    route_sets: Mapping[str, ValueSetIndex],
) -> Declaration:
    params: dict[str, list[Any]] = {}
    for ext in requirement.get("extension") or []:
        url = str(ext.get("url", ""))
        if url.startswith(EXTENSION + "fact-"):
            name = url[len(EXTENSION) :]
            if name == "fact-output":
                parts = {e.get("url"): _value(e) for e in ext.get("extension") or []}
                params.setdefault(name, []).append((parts.get("name"), parts.get("variable")))
            else:
                params.setdefault(name, []).append(_value(ext))
    variables, kinds = params.get("fact-variable", []), params.get("fact-kind", [])
    if len(variables) != 1 or not isinstance(variables[0], str):
        raise ValueError(f"{where}.extension: a declaration needs one fact-variable")
    variable = variables[0]
    if not _IDENTIFIER.match(variable):
        raise ValueError(f"{where}: fact-variable {variable!r} is not a FHIRPath identifier")
    if len(kinds) != 1:
        raise ValueError(f"{where}.extension: %{variable} needs one fact-kind")
    kind_code = kinds[0]
    kind = KINDS.get(kind_code)
    if kind is None:
        raise ValueError(
            f"{where}: %{variable} has the unknown fact-kind {kind_code!r} "
            f"(known: {', '.join(KINDS)})"
        )
    if requirement.get("type") != kind.resource_type:
        raise ValueError(
            f"{where}.type: the kind {kind_code} reads {kind.resource_type}, "
            f"not {requirement.get('type')}"
        )
    outputs: list[tuple[str, str]] = []
    for name, target in params.get("fact-output", []):
        if name not in kind.outputs:
            raise ValueError(
                f"{where}: %{variable}: the kind {kind_code} has no output {name!r} "
                f"(it has {', '.join(kind.outputs) or 'none'})"
            )
        if not isinstance(target, str) or not _IDENTIFIER.match(target):
            raise ValueError(f"{where}: %{variable}: output {name!r} needs a variable")
        outputs.append((name, target))

    def value_set(url: Any, element: str) -> ValueSetIndex:
        plain = str(url).split("|")[0]
        if plain not in value_sets:
            raise ValueError(f"{where}.{element}: the ValueSet {url} is not loaded")
        return value_sets[plain]

    filter_urls: list[str] = []
    for j, code_filter in enumerate(requirement.get("codeFilter") or []):
        if code_filter.get("valueSet") is None:
            continue
        if kind.code_path and code_filter.get("path") != kind.code_path:
            raise ValueError(
                f"{where}.codeFilter[{j}].path: the kind {kind_code} filters on "
                f"{kind.code_path!r}, not {code_filter.get('path')!r}"
            )
        value_set(code_filter["valueSet"], f"codeFilter[{j}].valueSet")
        filter_urls.append(str(code_filter["valueSet"]).split("|")[0])
    if kind.code_path and not filter_urls:
        raise ValueError(f"{where}.codeFilter: the kind {kind_code} needs a codeFilter ValueSet")
    present = absent = None
    units: tuple[str, ...] = ()
    route = None
    if kind_code == "observation-status":
        if len(params.get("fact-value-set", [])) != 1:
            raise ValueError(f"{where}: %{variable} needs one fact-value-set")
        present = value_set(params["fact-value-set"][0], "extension(fact-value-set)")
        if params.get("fact-absent-value-set"):
            absent = value_set(
                params["fact-absent-value-set"][0], "extension(fact-absent-value-set)"
            )
    if kind_code == "observation-quantity":
        units = tuple(str(u) for u in params.get("fact-unit", []))
        if not units:
            raise ValueError(f"{where}: %{variable} needs at least one fact-unit")
    if kind_code == "route-history":
        if len(params.get("fact-route", [])) != 1:
            raise ValueError(f"{where}: %{variable} needs one fact-route")
        wanted = value_set(params["fact-route"][0], "extension(fact-route)")
        route = next((c for c, vs in route_sets.items() if vs.url == wanted.url), None)
        if route is None:
            raise ValueError(
                f"{where}.extension(fact-route): {params['fact-route'][0]} is not a route "
                "ValueSet (route-<category>) the module's PlanDefinition names"
            )
    return Declaration(
        variable,
        kind_code,
        kind.resource_type,
        tuple(outputs),
        tuple(filter_urls),
        tuple(value_sets[u] for u in filter_urls),
        present,
        absent,
        units,
        route,
        _window(requirement, kind, where),
        _value_order(requirement, kind_code, where),
    )


#: the kinds that take a `sort` on the value: which of the latest date's results counts
_SORTED_KINDS = frozenset({"observation-quantity"})


def _value_order(requirement: Mapping[str, Any], kind_code: str, where: str) -> str | None:
    """The `sort` direction on `value` of a quantity fact: of the results of the latest
    date, the first in that order counts (the least safe one for the rule's comparison)."""
    sorts = requirement.get("sort") or []
    if kind_code not in _SORTED_KINDS:
        if sorts:
            raise ValueError(f"{where}.sort: the kind {kind_code} takes no sort")
        return None
    if len(sorts) != 1 or not isinstance(sorts[0], Mapping) or sorts[0].get("path") != "value":
        raise ValueError(
            f"{where}.sort: the kind {kind_code} needs one sort on 'value', saying which of "
            "the results of the latest date counts (ascending: the lowest; descending: the "
            "highest), the least safe for the rule's comparison"
        )
    direction = sorts[0].get("direction")
    if direction not in ("ascending", "descending"):
        raise ValueError(
            f"{where}.sort.direction: must be 'ascending' or 'descending', not {direction!r}"
        )
    return str(direction)


def _window(requirement: Mapping[str, Any], kind: Kind, where: str) -> Decimal | None:
    """The dateFilter window in days, or None."""
    filters = requirement.get("dateFilter") or []
    if not filters:
        return None
    if len(filters) > 1 or not kind.date_path:
        raise ValueError(f"{where}.dateFilter: this kind takes at most one dateFilter")
    date_filter = filters[0]
    if date_filter.get("path") != kind.date_path:
        raise ValueError(
            f"{where}.dateFilter.path: must be {kind.date_path!r}, not {date_filter.get('path')!r}"
        )
    duration = date_filter.get("valueDuration")
    if not isinstance(duration, Mapping):
        raise ValueError(f"{where}.dateFilter: only valueDuration windows are supported")
    unit = duration.get("code") or duration.get("unit")
    if unit not in DURATION_DAYS:
        raise ValueError(
            f"{where}.dateFilter.valueDuration: unit {unit!r} is not one of "
            f"{', '.join(DURATION_DAYS)} (UCUM)"
        )
    try:
        value = Decimal(str(duration.get("value")))
    except InvalidOperation:
        raise ValueError(f"{where}.dateFilter.valueDuration: needs a value") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{where}.dateFilter.valueDuration: the value must be positive")
    return value * DURATION_DAYS[unit]
