"""The registry of the engine variables rule expressions read: each name, its builder and
the resource types of the patient's record it needs.

knowledge/_variables.py lists the engine variables (the loader's strict compile allows those
and the facts a module declares, no others) and their meanings; this module registers the
builder of every one of them, from what the engine works out for a judged order (`Inputs`).
Building the registry refuses a name listed and not built, built and not listed, or built
twice, so the module cannot be imported with the two out of step. The engine's environment
is the registry, run, plus the facts the judged drug's Library declares (_kinds.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..knowledge import ENGINE_VARIABLES
from ._kinds import Judged, Sources, fact_values


@dataclass(frozen=True)
class Inputs:
    """What the variables of one judged order are built from."""

    hook: str
    orders: list[dict[str, Any]]  # copies of the drafts judged with it
    patient: Any  # a copy of the Patient, or [] without one
    medication: dict[str, Any]
    judged: Judged
    sources: Sources


@dataclass(frozen=True)
class Unit:
    """A builder and the names it builds: one value, or a group built together (a dict);
    `reads`: the FHIR resource types of the patient's record it needs (prefetched, else read
    from the FHIR server: see _requirements.py)."""

    names: tuple[str, ...]
    build: Callable[[Inputs], Any]
    reads: tuple[str, ...] = ()

    @property
    def group(self) -> bool:
        return len(self.names) > 1


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    unit: Unit


class Registry:
    """The engine variables, each with the unit that builds it."""

    def __init__(self, units: Sequence[Unit], declared: Sequence[tuple[str, str]]) -> None:
        meanings = dict(declared)
        built: dict[str, Unit] = {}
        for unit in units:
            for name in unit.names:
                if name in built:
                    raise ValueError(f"variable %{name} is built twice")
                built[name] = unit
        missing = sorted(set(meanings) - set(built))
        if missing:
            raise ValueError(f"declared but not built: {', '.join('%' + n for n in missing)}")
        extra = sorted(set(built) - set(meanings))
        if extra:
            raise ValueError(f"built but not declared: {', '.join('%' + n for n in extra)}")
        self.units = tuple(units)
        self.variables = tuple(Variable(n, meanings[n], built[n]) for n, _ in declared)
        self.names = frozenset(meanings)
        #: the resource types some variable needs of the patient's record
        self.reads = frozenset(t for unit in self.units for t in unit.reads)
        self._plan = tuple((u.names[0] if not u.group else None, u.build) for u in self.units)

    def environment(self, inputs: Inputs) -> dict[str, Any]:
        """Every variable for one judged order (%citation empty: it is the rule's own), the
        engine's and the facts the drug's Library declares."""
        env: dict[str, Any] = {}
        for name, build in self._plan:
            if name is None:
                env.update(build(inputs))
            else:
                env[name] = build(inputs)
        env.update(fact_values(inputs.judged.drug.facts, inputs.sources, inputs.judged))
        return env


def _one(name: str, build: Callable[[Inputs], Any], reads: tuple[str, ...] = ()) -> Unit:
    return Unit((name,), build, reads)


UNITS: tuple[Unit, ...] = (
    _one("order", lambda i: dict(i.judged.order)),
    _one("orders", lambda i: i.orders),
    _one("patient", lambda i: i.patient, reads=("Patient",)),
    _one("medication", lambda i: i.medication),
    _one("hook", lambda i: i.hook),
    _one("route", lambda i: i.judged.route),
    _one("routeText", lambda i: i.judged.route_words),
    _one("routeName", lambda i: i.judged.route.replace("-", " ")),
    _one("unit", lambda i: i.judged.unit),
    _one("guideline", lambda i: i.judged.guideline),
    _one("citation", lambda i: []),
)

#: the registry every evaluation runs
REGISTRY = Registry(UNITS, ENGINE_VARIABLES)
