"""The two answers ``daily_dose`` gives."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..ucum import MASS_TO_MG, mass_factor

#: the route of an order that states a route the knowledge does not classify
UNRECOGNISED = "unrecognised"


@dataclass(frozen=True, slots=True)
class DailyDose:
    """The largest daily amount of the ingredient an order allows, with how it was reached."""

    route: str
    mg_per_day: Decimal
    arithmetic: str
    assumptions: tuple[str, ...] = ()

    def in_unit(self, ucum: str) -> Decimal:
        """The daily amount in another mass unit ('mg', 'ug' or 'g'; 'mcg' is read as 'ug').

        Raises ValueError for a unit that is not a mass unit.
        """
        factor = mass_factor(ucum)
        if factor is None:
            raise ValueError(f"{ucum!r} is not a mass unit (expected one of {sorted(MASS_TO_MG)})")
        return self.mg_per_day / factor


_new = object.__new__
_set_route = vars(DailyDose)["route"].__set__
_set_mg = vars(DailyDose)["mg_per_day"].__set__
_set_arithmetic = vars(DailyDose)["arithmetic"].__set__
_set_assumptions = vars(DailyDose)["assumptions"].__set__


def daily(
    route: str, mg_per_day: Decimal, arithmetic: str, assumptions: tuple[str, ...]
) -> DailyDose:
    """``DailyDose(...)`` for the package's own hot path: the same object, its slots filled
    directly. (A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` for
    each field, which costs a tenth of the whole dose computation.)"""
    dose: DailyDose = _new(DailyDose)
    _set_route(dose, route)
    _set_mg(dose, mg_per_day)
    _set_arithmetic(dose, arithmetic)
    _set_assumptions(dose, assumptions)
    return dose


@dataclass(frozen=True, slots=True)
class DoseUnknown:
    """An order whose daily dose cannot be computed, and why."""

    route: str
    reason: str
    assumptions: tuple[str, ...] = ()
