"""The two answers ``daily_dose`` gives."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..ucum import MASS_TO_MG, mass_factor

#: the route of an order that states a route the knowledge does not classify
UNRECOGNISED = "unrecognised"
#: the route of an order that states none, and whose product, form and name imply none
UNKNOWN_ROUTE = "unknown"


@dataclass(frozen=True, slots=True)
class DailyDose:
    """The largest daily amount of the ingredient an order allows, with how it was reached."""

    route: str
    mg_per_day: Decimal
    arithmetic: str
    assumptions: tuple[str, ...] = ()
    #: the largest amount of one administration in mg, and the most administrations on one
    #: day (None when the order gives a rate, or its dose only as a maximum per period)
    single_mg: Decimal | None = None
    per_day: Decimal | None = None

    def in_unit(self, ucum: str) -> Decimal:
        """The daily amount in another mass unit ('mg', 'ug' or 'g'; 'mcg' is read as 'ug').

        Raises ValueError for a unit that is not a mass unit.
        """
        factor = mass_factor(ucum)
        if factor is None:
            raise ValueError(f"{ucum!r} is not a mass unit (expected one of {sorted(MASS_TO_MG)})")
        return self.mg_per_day / factor


@dataclass(frozen=True, slots=True)
class DoseUnknown:
    """An order whose daily dose cannot be computed, and why."""

    route: str
    reason: str
    assumptions: tuple[str, ...] = ()
