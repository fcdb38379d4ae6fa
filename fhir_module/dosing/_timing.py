"""FHIR Timing -> the largest number of doses that can fall on one day.

For a *daily* limit the busiest day counts: frequencyMax over frequency, the
shorter of period/periodMax, a dose on Mondays only is its full amount on a
Monday. A period that does not divide the day rounds up (every 5 h can put five
doses on one calendar day), and a period longer than a day gives the doses that
can fall on one dosing day (once a week -> one dose).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from ..errors import UnreadableDose
from ..ucum import DAY_SECONDS, ONE, UP, ceil_div, fmt, positive, show_value, time_seconds
from ._memo import memo

# HL7 v3 GTSAbbreviation codes: doses on a dosing day.
_GTS: dict[str, Decimal] = {
    code: Decimal(n)
    for code, n in (
        ("QD", 1),
        ("BID", 2),
        ("TID", 3),
        ("QID", 4),
        ("QOD", 1),
        ("AM", 1),
        ("PM", 1),
        ("BED", 1),
        ("WK", 1),
        ("MO", 1),
        ("Q1H", 24),
        ("Q2H", 12),
        ("Q3H", 8),
        ("Q4H", 6),
        ("Q6H", 4),
        ("Q8H", 3),
        ("Q12H", 2),
    )
}
_NOT_DAILY = {"QOD": "every other day", "WK": "once a week", "MO": "once a month"}

# EventTiming codes that stand for every meal of the day, not one meal.
_MEALS = {"C": "at meals", "AC": "before meals", "PC": "after meals"}
_THREE = Decimal(3)


class Events(NamedTuple):
    """Doses on the busiest day, and what was assumed to get there."""

    per_day: Decimal
    notes: tuple[str, ...]


def events_per_day(timing: dict[str, Any]) -> Events | None:
    """The most doses a Timing puts on one day; None if it states no frequency or times.

    Raises UnreadableDose for a timing that states a frequency it does not let us read.
    """
    # Most orders say "n times per period unit" and nothing else; few such timings recur.
    # Kept for the README's "same order again and again" dose goal (at most 1x json.loads):
    # benchmarks/bench_dose.py, medians of 5 runs, 0.88x with it, 1.43x without.
    if len(timing) == 1:
        repeat = timing.get("repeat")
        if type(repeat) is dict and len(repeat) == 3:
            frequency, period = repeat.get("frequency"), repeat.get("period")
            unit = repeat.get("periodUnit")
            if type(frequency) is int and type(period) is int and type(unit) is str:
                return _every(frequency, period, unit)
    return _events(timing)


@memo
def _every(frequency: int, period: int, unit: str) -> Events | None:
    """``events_per_day`` of a timing of ``frequency`` doses every ``period`` ``unit``s."""
    return _events({"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}})


def _events(timing: dict[str, Any]) -> Events | None:
    found: list[Decimal] = []
    notes: list[str] = []
    count: Decimal | None = None
    repeat = timing.get("repeat")
    if repeat is not None:
        if type(repeat) is not dict:
            raise UnreadableDose(f"the timing's repeat is {show_value(repeat)}, not an object")
        count = _from_repeat(repeat, found, notes)
    code = timing.get("code")
    if type(code) is dict:
        _from_code(code, found, notes)
    event = timing.get("event")
    if type(event) is list and event:
        days: dict[str, int] = {}
        for moment in event:
            if type(moment) is str:
                days[moment[:10]] = days.get(moment[:10], 0) + 1
        if days:
            found.append(Decimal(max(days.values())))
    if not found:
        if count is None:
            return None
        notes.append(f"a count of {fmt(count)} with no frequency: all could fall on one day")
        return Events(count, tuple(notes))
    best = max(found)
    if min(found) != best:
        notes.append(
            f"the timing gives {' and '.join(fmt(n) for n in found)} doses a day; "
            f"the larger, {fmt(best)}, is used"
        )
    if count is not None and count < best:
        notes.append(f"only {fmt(count)} doses in all, so at most {fmt(count)} on one day")
        best = count
    return Events(best, tuple(notes))


def _from_repeat(repeat: dict[str, Any], found: list[Decimal], notes: list[str]) -> Decimal | None:
    frequency = repeat.get("frequency")
    frequency_max = repeat.get("frequencyMax")
    period = repeat.get("period")
    period_max = repeat.get("periodMax")
    if period is not None or period_max is not None or frequency is not None:
        if period is None:
            if period_max is None:
                raise UnreadableDose(f"a frequency of {show_value(frequency)} with no period")
            period, period_max = period_max, None
        length = positive(period, "timing period")
        if period_max is not None:
            # The largest daily amount comes from the shortest period.
            longest = positive(period_max, "timing periodMax")
            if longest != length:
                notes.append(f"period {fmt(length)} to {fmt(longest)}: the shorter is used")
                length = min(length, longest)
        times = ONE if frequency is None else positive(frequency, "timing frequency")
        if frequency_max is not None:
            most = positive(frequency_max, "timing frequencyMax")
            if most > times:
                notes.append(f"frequency {fmt(times)} to {fmt(most)}: the most is used")
                times = most
        unit = repeat.get("periodUnit")
        seconds = time_seconds(unit) if type(unit) is str else None
        if seconds is None:
            raise UnreadableDose(
                f"the timing periodUnit {show_value(unit)} is not a time unit the module recognises"
            )
        span = length * seconds
        per_day, exact = ceil_div(times * DAY_SECONDS, span)
        if span > DAY_SECONDS:
            notes.append(
                f"{fmt(times)} time(s) every {fmt(length)} {unit}: "
                f"the amount on one dosing day counts"
            )
        elif not exact:
            average = fmt(UP.divide(times * DAY_SECONDS, span).quantize(Decimal("0.01")))
            notes.append(
                f"{fmt(times)} time(s) every {fmt(length)} {unit} is {average} doses "
                f"a day on average; up to {fmt(per_day)} can fall on one day"
            )
        found.append(per_day)
    times_of_day = repeat.get("timeOfDay")
    if type(times_of_day) is list and times_of_day:
        found.append(Decimal(len({t for t in times_of_day if type(t) is str} or {""})))
    when = repeat.get("when")
    if type(when) is list and when:
        total = Decimal(0)
        for event in {w for w in when if type(w) is str} or {""}:
            if event in _MEALS:
                notes.append(f"'{event}' ({_MEALS[event]}) read as three meals a day")
                total += _THREE
            else:
                total += ONE
        found.append(total)
    days = repeat.get("dayOfWeek")
    if type(days) is list and days:
        named = ", ".join(d for d in days if type(d) is str)
        notes.append(f"given on {named} only: the amount on a dosing day counts")
    count: Decimal | None = None
    for key in ("count", "countMax"):
        if repeat.get(key) is not None:
            value = positive(repeat[key], f"timing {key}")
            count = value if count is None else max(count, value)
    return count


def _from_code(code: dict[str, Any], found: list[Decimal], notes: list[str]) -> None:
    candidates = []
    codings = code.get("coding")
    if type(codings) is list:
        candidates = [c.get("code") for c in codings if type(c) is dict]
    candidates.append(code.get("text"))
    for candidate in candidates:
        if type(candidate) is str:
            key = candidate.strip().upper()
            if key in _GTS:
                if key in _NOT_DAILY:
                    notes.append(f"{key} ({_NOT_DAILY[key]}): the amount on a dosing day counts")
                found.append(_GTS[key])
                return
