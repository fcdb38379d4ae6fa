"""The registry of the variables rule expressions read: each declared name and its builder.

knowledge/_variables.py declares the names (the loader's strict compile allows those and no
others) and their meanings; this module registers the builder of every one of them, from
what the engine works out for a judged order (`Inputs`). Building the registry refuses a
name declared and not built, built and not declared, or built twice, so the module cannot
be imported with the two out of step; the engine's environment is the registry, run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..dosing import DailyDose
from ..knowledge import DECLARED
from ._facts import AgeRange, PatientFacts
from ._variables import PIECE_LIMIT, Dose, clip, dose_variable, in_unit, show


@dataclass(frozen=True)
class Inputs:
    """What the variables of one judged order are built from."""

    hook: str
    order: Mapping[str, Any]  # the MedicationRequest judged
    orders: list[dict[str, Any]]  # copies of the drafts judged with it
    patient: Any  # a copy of the Patient, or [] without one
    medication: dict[str, Any]
    route: str
    route_words: str  # the order's own words for its route, bounded
    unit: str
    on: date  # the order's date
    age: AgeRange | None
    facts: PatientFacts
    dose: Dose
    total: Decimal  # mg/day of the computable drafts judged together
    arithmetic: str
    assumptions: str
    guideline: dict[str, Any]
    current: list[dict[str, Any]]  # copies of the active orders (not among the drafts)
    current_doses: Sequence[Dose]
    current_latest: date | None  # the latest full-date authoredOn among them
    current_undated: bool  # whether another has an authoredOn that is no full date
    ever_intrathecal: bool


@dataclass(frozen=True)
class Unit:
    """A builder and the names it builds: one value, or a group built together (a dict)."""

    names: tuple[str, ...]
    build: Callable[[Inputs], Any]

    @property
    def group(self) -> bool:
        return len(self.names) > 1


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str
    unit: Unit


class Registry:
    """The declared variables, each with the unit that builds it."""

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
        self._plan = tuple((u.names[0] if not u.group else None, u.build) for u in self.units)

    def environment(self, inputs: Inputs) -> dict[str, Any]:
        """Every variable for one judged order (%citation empty: it is the rule's own)."""
        env: dict[str, Any] = {}
        for name, build in self._plan:
            if name is None:
                env.update(build(inputs))
            else:
                env[name] = build(inputs)
        return env


NOT_COMPUTED = "cannot be computed"


def _computed(i: Inputs) -> bool:
    """Whether the judged order's own daily dose was computed (by a route with limits)."""
    return bool(dose_variable(i.dose, i.route_words)["computed"])


def _current_group(i: Inputs) -> dict[str, Any]:
    """The active orders' dose, days since the latest, and combined with the drafts."""
    doses = i.current_doses
    computed = [d for d in doses if isinstance(d, DailyDose)]
    out: dict[str, Any] = {
        "currentDailyDose": [],
        "currentDailyDoseText": [],
        "currentText": [],
        "currentDays": [],
        "combinedText": [],
        "combinedExceedsMaximum": [],
    }
    if not i.current:
        return out
    # An authoredOn that is no full date reads as the day of this order.
    dates = [d for d in (i.current_latest, i.on if i.current_undated else None) if d is not None]
    if dates:
        out["currentDays"] = (i.on - max(dates)).days
    if len(computed) < len(doses):
        out["currentText"] = "an order whose daily dose cannot be computed"
        out["currentDailyDoseText"] = "unknown dose"
        out["combinedText"] = NOT_COMPUTED
        return out
    current_mg = sum((d.mg_per_day for d in computed), Decimal(0))
    out["currentDailyDose"] = in_unit(current_mg, i.unit)
    out["currentDailyDoseText"] = show(current_mg, i.unit)
    arithmetic = "; ".join(clip(d.arithmetic, PIECE_LIMIT) for d in computed)
    out["currentText"] = f"{show(current_mg, i.unit)} ({arithmetic})"
    if not _computed(i):
        # This order's dose is unknown: no combined figure, and no word on the maximum.
        out["combinedText"] = NOT_COMPUTED
        return out
    out["combinedText"] = show(i.total + current_mg, i.unit)
    maximum = (i.guideline.get("maximum") or {}).get("maxDaily")
    if maximum is not None:
        out["combinedExceedsMaximum"] = in_unit(i.total + current_mg, i.unit) > maximum
    return out


def _one(name: str, build: Callable[[Inputs], Any]) -> Unit:
    return Unit((name,), build)


UNITS: tuple[Unit, ...] = (
    _one("order", lambda i: dict(i.order)),
    _one("orders", lambda i: i.orders),
    _one("patient", lambda i: i.patient),
    _one("medication", lambda i: i.medication),
    _one("hook", lambda i: i.hook),
    _one("route", lambda i: i.route),
    _one("routeText", lambda i: i.route_words),
    _one("routeName", lambda i: i.route.replace("-", " ")),
    _one("unit", lambda i: i.unit),
    _one("age", lambda i: {"low": i.age.low, "high": i.age.high} if i.age else []),
    _one("ageText", lambda i: i.age.text() if i.age else []),
    _one("pregnant", lambda i: i.facts.pregnant.present),
    _one("pregnancyEvidence", lambda i: clip(i.facts.pregnant.evidence, PIECE_LIMIT)),
    _one("breastfeeding", lambda i: i.facts.breastfeeding.present),
    _one("breastfeedingEvidence", lambda i: clip(i.facts.breastfeeding.evidence, PIECE_LIMIT)),
    _one("respiratoryDisease", lambda i: i.facts.respiratory.present),
    _one("respiratoryEvidence", lambda i: clip(i.facts.respiratory.evidence, PIECE_LIMIT)),
    _one("dose", lambda i: dose_variable(i.dose, i.route_words)),
    _one("dailyDose", lambda i: in_unit(i.total, i.unit)),
    _one("doseText", lambda i: show(i.total, i.unit) if _computed(i) else NOT_COMPUTED),
    _one("arithmetic", lambda i: i.arithmetic or []),
    _one("assumptionsText", lambda i: i.assumptions),
    _one("guideline", lambda i: i.guideline),
    _one("current", lambda i: i.current),
    _one("everIntrathecal", lambda i: i.ever_intrathecal),
    _one("citation", lambda i: []),
    Unit(
        (
            "currentDailyDose",
            "currentDailyDoseText",
            "currentText",
            "currentDays",
            "combinedText",
            "combinedExceedsMaximum",
        ),
        _current_group,
    ),
)

#: the registry every evaluation runs
REGISTRY = Registry(UNITS, DECLARED)
