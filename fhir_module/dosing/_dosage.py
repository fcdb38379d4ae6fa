"""One Dosage -> its largest daily amount (a ``Part``), or UnreadableDose saying why not."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from ..errors import UnreadableDose
from ..ucum import (
    DAY_SECONDS,
    LARGEST,
    MASS_TO_MG,
    ONE,
    TABLET_SPELLINGS,
    UNITS,
    UP,
    Unit,
    ceil_div,
    fmt,
    number,
    per_words,
    positive,
    quantity_unit_texts,
    rate_unit,
    show_value,
    tidy,
    time_seconds,
    unit_named,
)
from ._memo import memo
from ._order import OrderContext
from ._strength import Strength
from ._timing import events_per_day

_STU3_KEYS = ("doseQuantity", "doseRange", "rateQuantity", "rateRatio", "rateRange")
AS_NEEDED = "as needed: the most the order allows"


@dataclass(slots=True)
class Part:
    """A daily amount in mg, the mass unit to show it in, its arithmetic, what was assumed.

    ``mg`` and ``single`` are tidy (``ucum.tidy``: no trailing zeros, no exponent for a
    whole number) wherever a Part is made, so that an order of one instruction gives its
    figures as they are, with nothing more to do.
    """

    mg: Decimal
    unit: str
    words: str
    notes: list[str]
    #: the amount of one administration in mg, and the administrations on the busiest day
    #: (None for a rate or a dose known only by the order's maximum per period)
    single: Decimal | None = None
    per_day: Decimal | None = None


def shown(mg: Decimal, unit: str) -> str:
    """A daily amount in words, in a mass unit: '80 mg/day'."""
    return f"{fmt(mg if unit == 'mg' else mg / MASS_TO_MG[unit])} {unit}/day"


class _Amount(NamedTuple):
    mg: Decimal
    unit: str  # mass unit to show results in
    words: str  # e.g. "2 tablets x 10 mg/tablet"


def dosage_part(dosage: dict[str, Any], ctx: OrderContext) -> Part:
    """The largest daily amount one Dosage allows; raises UnreadableDose when it cannot be known."""
    notes: list[str] = []
    prn = (
        dosage.get("asNeededBoolean") is True
        or type(dosage.get("asNeededCodeableConcept")) is dict
        or dosage.get("asNeeded") is True
    )
    entries = dosage.get("doseAndRate")
    if type(entries) is list:
        for entry in entries:
            if type(entry) is not dict:
                raise UnreadableDose("a doseAndRate entry is not an object")
    else:
        entries = _entries(entries, dosage, notes)
    cap = _cap(dosage, ctx, notes) if "maxDosePerPeriod" in dosage else None
    timing = dosage.get("timing")
    if timing is not None and type(timing) is not dict:
        raise UnreadableDose(f"the timing is {show_value(timing)}, not an object")
    if prn:
        notes.append(AS_NEEDED)
    if len(entries) == 1:
        best = _entry_part(entries[0], timing, prn, cap, ctx)
    elif entries:
        best = _largest(entries, timing, prn, cap, ctx, notes)
    elif cap is not None:
        best = Part(
            cap.mg, cap.unit, cap.words, ["no dose given: the order's maximum per period counts"]
        )
    else:
        raise UnreadableDose("the dosage gives no dose")
    if cap is None and not notes:
        return best
    if best.notes:
        notes.extend(best.notes)
    if cap is not None:
        notes.extend(cap.notes)
        if cap.mg < best.mg:
            return Part(
                cap.mg, best.unit, f"{best.words}; capped by {cap.words}", notes, best.single
            )
    return Part(best.mg, best.unit, best.words, notes, best.single, best.per_day)


def _largest(
    entries: list[dict[str, Any]],
    timing: dict[str, Any] | None,
    prn: bool,
    cap: Part | None,
    ctx: OrderContext,
    notes: list[str],
) -> Part:
    """Several doseAndRate entries state one dose several ways (ordered, calculated)."""
    parts: list[Part] = []
    failures: list[str] = []
    for entry in entries:
        try:
            parts.append(_entry_part(entry, timing, prn, cap, ctx))
        except UnreadableDose as failure:
            failures.append(failure.reason)
    if not parts:
        raise UnreadableDose(failures[0])
    notes.append(f"{len(entries)} doseAndRate entries describe one dose; the largest counts")
    notes.extend(f"a doseAndRate entry could not be read ({reason})" for reason in failures)
    return max(parts, key=lambda part: part.mg)


def _entries(dose_and_rate: Any, dosage: dict[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    """The dose entries of a Dosage whose doseAndRate is not a list: absent, an object, or
    the STU3 shape with the dose on the Dosage itself."""
    if type(dose_and_rate) is dict:
        notes.append("doseAndRate sent as an object; read as one entry")
        return [dose_and_rate]
    if dose_and_rate is not None:
        raise UnreadableDose(f"doseAndRate is {show_value(dose_and_rate)}, not a list")
    if any(key in dosage for key in _STU3_KEYS):
        notes.append("dose sent directly on the Dosage (STU3 shape); read as one doseAndRate entry")
        return [dosage]
    return []


def _entry_part(
    entry: dict[str, Any],
    timing: dict[str, Any] | None,
    prn: bool,
    cap: Part | None,
    ctx: OrderContext,
) -> Part:
    if "rateQuantity" in entry or "rateRange" in entry or "rateRatio" in entry:
        rate = _rate_part(entry, ctx)
        if "doseQuantity" in entry or "doseRange" in entry:
            rate.notes.append(
                "a dose beside a rate is read as the infusion's content; "
                "the rate gives the daily amount"
            )
        return rate
    quantity = entry["doseQuantity"] if "doseQuantity" in entry else _dose_quantity(entry)
    raw = _raw_value(quantity, "dose")
    unit = _unit(quantity, "dose", ctx)
    strength = _dose_strength(unit, ctx)
    events = events_per_day(timing) if timing is not None else None
    if events is None:
        if cap is not None:
            what = "as needed" if prn else "no timing"
            return Part(
                cap.mg,
                _shown_unit(unit, strength),
                f"{what}, {cap.words}",
                [f"{what}: the order's maximum per period is the most it allows"],
            )
        if prn:
            raise UnreadableDose("as needed with neither a timing nor a maximum dose per period")
        raise UnreadableDose(
            "no timing" if timing is None else "the timing gives no frequency or times"
        )
    per_day = events.per_day
    mg, mass_unit, words, single = _daily_words(raw, unit, per_day, strength)
    return Part(mg, mass_unit, words, list(events.notes) if events.notes else [], single, per_day)


# The same few doses of the same few products at the same few frequencies recur. Keyed by the
# JSON number as sent, and its type: 10**23 == 1e23 in Python, but they read as different
# Decimals (the float is read as its shortest text, 1E+23).
@memo
def _daily_words(
    raw: int | float, unit: Unit, per_day: Decimal, strength: Strength | None
) -> tuple[Decimal, str, str, Decimal]:
    """A dose as sent, of a unit and strength, ``per_day`` times a day -> (mg a day, the mass
    unit it is shown in, the arithmetic in words, mg a dose)."""
    value = number(raw, "dose value")
    # The dose first, then the doses a day, as everywhere in the package: each product
    # is rounded to 28 digits, so the order of the factors can show in the last digit.
    single = _mg(value, unit, strength)
    mg = single * per_day
    mass_unit = _shown_unit(unit, strength)
    times = "" if per_day == 1 else f" x {fmt(per_day)} a day"
    words = _unit_words(unit, strength, ONE if value == 1 else _TWO)  # 'tablet', 'tablets'
    return tidy(mg), mass_unit, f"{fmt(value)}{words}{times} = {shown(mg, mass_unit)}", tidy(single)


_TWO = Decimal(2)


def _dose_quantity(entry: dict[str, Any]) -> Any:
    """The dose an entry without doseQuantity gives: its doseRange's upper end."""
    dose_range = entry.get("doseRange")
    if dose_range is None:
        raise UnreadableDose("the dosage gives no dose")
    if type(dose_range) is not dict:
        raise UnreadableDose(f"doseRange is {show_value(dose_range)}, not an object")
    if "high" not in dose_range:
        raise UnreadableDose("the dose range has no upper end")
    return dose_range["high"]


def _unit(quantity: dict[str, Any], what: str, ctx: OrderContext) -> Unit:
    code = quantity.get("code")
    if type(code) is str:
        unit = UNITS.get(code)
        if unit is not None and code == unit.ucum:
            return unit
        system = quantity.get("system")
        if system is not None and type(system) is str:
            # units of presentation coded in their own system (EDQM Tablet, ...): knowledge
            unit = UNITS["{tbl}"] if (system, code) in ctx.knowledge.tablet_unit_codes else None
            if unit is not None:
                ctx.notes.append(f"unit {system} {code[:20]} read as one {per_words(unit.ucum)}")
                return unit
    texts = quantity_unit_texts(quantity)
    for text in texts:
        unit = unit_named(text)
        if unit is not None:
            if unit.kind == "mass" and text != unit.ucum:
                # mcg for mg is a classic misreading: say how the spelling was taken.
                ctx.notes.append(f"unit {text[:40]!r} read as {unit.ucum}")
            elif unit.kind == "{tbl}" and text.strip().lower() not in TABLET_SPELLINGS:
                ctx.notes.append(f"unit {text[:40]!r} read as one tablet")
            return unit
    if not texts:
        raise UnreadableDose(f"the {what} has no unit")
    raise UnreadableDose(
        f"the {what} unit {texts[0][:40]!r} is not a mass, tablet or volume unit "
        "the module recognises"
    )


def _value(quantity: Any, what: str) -> Decimal:
    """A Quantity's value as an exact Decimal; raises UnreadableDose unless a finite positive
    number."""
    return number(_raw_value(quantity, what), f"{what} value")


def _raw_value(quantity: Any, what: str) -> int | float:
    """A Quantity's value as the JSON number sent, checked finite and positive; raises
    UnreadableDose otherwise (an open-ended comparator, a string, zero, ...)."""
    if type(quantity) is not dict:
        raise UnreadableDose(f"the {what} is {show_value(quantity)}, not a Quantity")
    if "comparator" in quantity and quantity["comparator"] in (">", ">="):
        raise UnreadableDose(f"the {what} is open-ended ('{quantity['comparator']}')")
    value: Any = quantity.get("value")
    kind = type(value)
    if (kind is int or kind is float) and 0 < value <= LARGEST:
        number: int | float = value
        return number
    positive(value, f"{what} value")  # raises, saying why
    raise UnreadableDose(f"the {what} value {show_value(value)} is not a positive number")


def _amount(quantity: Any, what: str, ctx: OrderContext) -> _Amount:
    value = _value(quantity, what)
    unit = _unit(quantity, what, ctx)
    strength = _dose_strength(unit, ctx)
    return _Amount(
        _mg(value, unit, strength),
        _shown_unit(unit, strength),
        f"{fmt(value)}{_unit_words(unit, strength, value)}",
    )


def _dose_strength(unit: Unit, ctx: OrderContext) -> Strength | None:
    """The strength a dose in tablets or mL is read by, noted as assumed; None for a mass."""
    if unit.kind == "mass":
        return None
    strength = ctx.strength(unit.kind)
    ctx.notes.append(strength.source)
    return strength


def _mg(value: Decimal, unit: Unit, strength: Strength | None) -> Decimal:
    """A dose as mg: by its mass unit, or in tablets or mL by the strength."""
    base = value * unit.factor
    return base if strength is None else base * strength.mg_per_unit


def _shown_unit(unit: Unit, strength: Strength | None) -> str:
    """The mass unit a dose's daily amount is shown in: its own, or its strength's."""
    return unit.ucum if strength is None else strength.unit


def _unit_words(unit: Unit, strength: Strength | None, value: Decimal) -> str:
    """The words after a dose's figure: ' mg', ' tablets x 10 mg/tablet', ' mL x ...'."""
    if strength is None:
        return f" {unit.ucum}"
    amount = per_words(unit.ucum, value) if unit.kind == "{tbl}" else unit.ucum
    return f" {amount} x {strength.shown}"


def _rate_part(entry: dict[str, Any], ctx: OrderContext) -> Part:
    """The daily amount of an entry that states a rate (rateQuantity, rateRange or rateRatio)."""
    if "rateQuantity" in entry:
        quantity, what = entry["rateQuantity"], "rate"
    elif "rateRange" in entry:
        rate_range = entry["rateRange"]
        if type(rate_range) is not dict or "high" not in rate_range:
            raise UnreadableDose("the rate range has no upper end")
        quantity, what = rate_range["high"], "rate range's upper end"
    else:
        return _ratio_part(entry["rateRatio"], ctx)
    value = _value(quantity, what)
    texts = quantity_unit_texts(quantity)
    for text in texts:
        parsed = rate_unit(text)
        if parsed is not None:
            unit, seconds = parsed
            label = text.split("/", 1)[1].strip()
            return _per_time(
                value * unit.factor, unit, f"{fmt(value)} {unit.ucum}/{label}", seconds, ctx
            )
    raise UnreadableDose(
        f"the {what} unit {(texts or [''])[0][:40]!r} is not a mass or volume per time "
        "the module recognises"
    )


def _ratio_part(ratio: Any, ctx: OrderContext) -> Part:
    if type(ratio) is not dict:
        raise UnreadableDose(f"rateRatio is {show_value(ratio)}, not a Ratio")
    numerator: Any = ratio.get("numerator")
    value = _value(numerator, "rate numerator")
    unit = _unit(numerator, "rate numerator", ctx)
    denominator: Any = ratio.get("denominator")
    length, seconds, per = _duration(denominator, "rate")
    label = f"{fmt(value)} {unit.ucum}/{'' if length == 1 else fmt(length) + ' '}{per}"
    return _per_time(value * unit.factor, unit, label, seconds, ctx)


def _duration(quantity: Any, what: str) -> tuple[Decimal, Decimal, str]:
    """(length, seconds, the time unit as it was read) of a Ratio's denominator."""
    if type(quantity) is not dict:
        raise UnreadableDose(f"the {what} has no time denominator")
    length = positive(quantity.get("value", 1), f"{what} denominator value")
    for text in quantity_unit_texts(quantity):
        seconds = time_seconds(text)
        if seconds is not None:
            return length, length * seconds, text.strip()
    texts = quantity_unit_texts(quantity)
    raise UnreadableDose(
        f"the {what} denominator unit {(texts or [''])[0][:40]!r} is not a time unit "
        "the module recognises"
    )


def _per_time(base: Decimal, unit: Unit, label: str, seconds: Decimal, ctx: OrderContext) -> Part:
    """A continuous rate: base amount (mg, mL or tablets) per ``seconds`` -> per day."""
    per_day = UP.divide(base * DAY_SECONDS, seconds)
    words = label if seconds == DAY_SECONDS else f"{label} over 24 h"
    strength = _dose_strength(unit, ctx)
    if strength is None:
        return Part(tidy(per_day), unit.ucum, f"{words} = {shown(per_day, unit.ucum)}", [])
    mg = per_day * strength.mg_per_unit
    return Part(
        tidy(mg), strength.unit, f"{words} x {strength.shown} = {shown(mg, strength.unit)}", []
    )


def _cap(dosage: dict[str, Any], ctx: OrderContext, notes: list[str]) -> Part | None:
    """The order's own maxDosePerPeriod as a daily amount; several (R5) -> the smallest."""
    ratios = dosage["maxDosePerPeriod"]
    caps: list[Part] = []
    for ratio in ratios if type(ratios) is list else [ratios]:
        try:
            caps.append(_one_cap(ratio, ctx))
        except UnreadableDose as failure:
            notes.append(f"the order's maximum dose per period was not applied: {failure.reason}")
    return min(caps, key=lambda cap: cap.mg) if caps else None


def _one_cap(ratio: Any, ctx: OrderContext) -> Part:
    if type(ratio) is not dict:
        raise UnreadableDose(f"it is {show_value(ratio)}, not a Ratio")
    amount = _amount(ratio.get("numerator"), "maximum dose", ctx)
    length, seconds, unit = _duration(ratio.get("denominator"), "maximum dose per period")
    # A cap over a period shorter than a day repeats through the day; a longer one
    # could all be taken on one day.
    windows, _ = ceil_div(DAY_SECONDS, seconds)
    per = f"{fmt(length)} {unit}"
    mg = amount.mg * windows
    times = "" if windows == 1 else f" x {fmt(windows)}"
    return Part(
        tidy(mg),
        amount.unit,
        f"the order's maximum {amount.words} per {per}{times} = {shown(mg, amount.unit)}",
        [],
    )
