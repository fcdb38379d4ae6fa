"""Dates of records and orders, and the patient's age range on a date."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class AgeRange:
    """Completed years on a date; low < high when the birth date is partial."""

    low: int
    high: int
    imprecise: bool

    def text(self) -> str:
        years = f"{self.low} years" if self.low == self.high else f"{self.low} to {self.high} years"
        return f"{years} (birth date imprecise)" if self.imprecise else years


def parse_date(value: Any) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) of a FHIR date or dateTime, month/day None when partial."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value)
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        # year 0000, month 00 and day 00 are no date (FHIR's date type has none of them)
        date(year, 1 if month is None else month, 1 if day is None else day)  # type: ignore[arg-type]
    except ValueError:
        return None
    return year, month, day  # type: ignore[return-value]


def _completed_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_on(birth_date: Any, on: date) -> AgeRange | None:
    """The patient's age range in completed years on a date; None without a usable birth date."""
    parsed = parse_date(birth_date)
    if parsed is None:
        return None
    year, month, day = parsed
    if day is not None and month is not None:
        earliest = latest = date(year, month, day)
    elif month is not None:
        earliest = date(year, month, 1)
        latest = date(year, month, calendar.monthrange(year, month)[1])
    else:
        earliest, latest = date(year, 1, 1), date(year, 12, 31)
    if earliest > on:
        return None
    low = max(0, _completed_years(latest, on)) if latest <= on else 0
    return AgeRange(low, _completed_years(earliest, on), earliest != latest)


def order_date(order: Mapping[str, Any], today: date) -> date:
    """The order's authoredOn date, else today."""
    parsed = parse_date(order.get("authoredOn"))
    if parsed and parsed[1] and parsed[2]:
        return date(parsed[0], parsed[1], parsed[2])
    return today
