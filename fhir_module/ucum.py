"""Standard unit definitions (UCUM and the spellings real feeds send), and FHIR numbers.

Only generic definitions live here: masses, tablets, volumes and times. Which
drug a unit applies to is the knowledge's business.

Month: a UCUM ``mo`` is 30.4375 d, but for a *largest* daily amount the shorter
reading is the safe one (a rate or frequency per month spread over fewer days
is more per day), so a month is read as 30 d. A year is the UCUM 365.25 d.
"""

from __future__ import annotations

import math
import re
import sys
from decimal import ROUND_CEILING, Context, Decimal
from typing import Any, NamedTuple

from .errors import UnreadableDose

# Division rounds up: every figure this package derives is an upper bound.
UP = Context(prec=28, rounding=ROUND_CEILING)

ONE = Decimal(1)
DAY_SECONDS = Decimal(86400)

MASS_TO_MG: dict[str, Decimal] = {"g": Decimal(1000), "mg": ONE, "ug": Decimal("0.001")}


class Unit(NamedTuple):
    """A dose unit: its kind ('mass', '{tbl}' or 'mL'), UCUM name and factor to mg/tablet/mL."""

    kind: str
    ucum: str
    factor: Decimal


TABLET_SPELLINGS = (
    "{tbl}",
    "{tablet}",
    "{tablets}",
    "tbl",
    "tab",
    "tabs",
    "tablet",
    "tablets",
    "tablet(s)",
)


def _spellings() -> dict[str, Unit]:
    table: dict[str, Unit] = {}
    groups: list[tuple[Unit, tuple[str, ...]]] = [
        (
            Unit("mass", "mg", MASS_TO_MG["mg"]),
            ("mg", "mgs", "milligram", "milligrams", "milligramme", "milligrammes"),
        ),
        (Unit("mass", "g", MASS_TO_MG["g"]), ("g", "gm", "gram", "grams", "gramme", "grammes")),
        (
            Unit("mass", "ug", MASS_TO_MG["ug"]),
            (
                "ug",
                "mcg",
                "mcgs",
                "\u00b5g",
                "\u03bcg",
                "microgram",
                "micrograms",
                "microgramme",
                "microgrammes",
            ),
        ),
        (Unit("{tbl}", "{tbl}", ONE), TABLET_SPELLINGS),
        # One solid unit of presentation, as clients send it: counted as one tablet of a
        # product whose strength per tablet is known (the dose says it was read so).
        (
            Unit("{tbl}", "{tbl}", ONE),
            (
                "{pill}",
                "{pills}",
                "{tab}",
                "{tabs}",
                "{capsule}",
                "{capsules}",
                "{cap}",
                "{caps}",
                "{caplet}",
                "{caplets}",
                "pill",
                "pills",
                "capsule",
                "capsules",
                "capsule(s)",
                "cap",
                "caps",
                "caplet",
                "caplets",
                "comprim\u00e9",
                "comprim\u00e9s",
                "comprime",
                "cp",
                "cpr",
                "g\u00e9lule",
                "g\u00e9lules",
                "tablette",
                "tabletten",
                "tableta",
                "tabletas",
                "compressa",
                "compresse",
                "comprimido",
                "comprimidos",
                "c\u00e1psula",
                "c\u00e1psulas",
                "kapsel",
                "kapseln",
            ),
        ),
        (
            Unit("mL", "mL", ONE),
            ("ml", "mls", "cc", "milliliter", "milliliters", "millilitre", "millilitres"),
        ),
        (
            Unit("mL", "uL", Decimal("0.001")),
            (
                "ul",
                "\u00b5l",
                "\u03bcl",
                "mcl",
                "microliter",
                "microliters",
                "microlitre",
                "microlitres",
            ),
        ),
        (
            Unit("mL", "cL", Decimal(10)),
            ("cl", "centiliter", "centiliters", "centilitre", "centilitres"),
        ),
        (
            Unit("mL", "dL", Decimal(100)),
            ("dl", "deciliter", "deciliters", "decilitre", "decilitres"),
        ),
        (Unit("mL", "L", Decimal(1000)), ("l", "liter", "liters", "litre", "litres")),
    ]
    for unit, names in groups:
        for name in names:
            table[name] = unit
    return table


UNITS: dict[str, Unit] = _spellings()

TIME_SECONDS: dict[str, Decimal] = {}
for _names, _seconds in (
    (("s", "sec", "second", "seconds"), 1),
    (("min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("wk", "week", "weeks"), 604800),
    (("mo", "month", "months"), 30 * 86400),
    (("a", "yr", "year", "years"), 31557600),
):
    for _name in _names:
        TIME_SECONDS[_name] = Decimal(_seconds)


def unit_named(text: str) -> Unit | None:
    """The dose unit a spelling names ('mcg' -> ug, 'TAB' -> {tbl}), else None."""
    unit = UNITS.get(text)
    if unit is None:
        unit = UNITS.get(text.strip().lower())
    return unit


def mass_factor(text: str) -> Decimal | None:
    """mg in one of the mass unit a spelling names, else None."""
    unit = unit_named(text)
    return unit.factor if unit is not None and unit.kind == "mass" else None


def time_seconds(text: str) -> Decimal | None:
    """Seconds in the time unit a spelling names ('h', 'hour', 'd', ...), else None."""
    seconds = TIME_SECONDS.get(text)
    if seconds is None:
        seconds = TIME_SECONDS.get(text.strip().lower())
    return seconds


_PER_TIME = re.compile(r"^\(?\s*(\d+(?:\.\d+)?)?\s*\.?\s*([^\d\s().]+)\s*\)?$")


def rate_unit(text: str) -> tuple[Unit, Decimal] | None:
    """A rate unit such as 'ug/h', 'mL/(24.h)' or 'mcg/day' -> (dose unit, seconds), else None."""
    found: tuple[Unit, Decimal] | None = None
    head, slash, tail = text.partition("/")
    if slash:
        unit = unit_named(head)
        match = _PER_TIME.match(tail.strip())
        if unit is not None and match is not None:
            seconds = time_seconds(match.group(2))
            if seconds is not None:
                found = (unit, seconds * Decimal(match.group(1) or 1))
    return found


def quantity_unit_texts(quantity: dict[str, Any]) -> list[str]:
    """The unit spellings a Quantity offers, best first: its code, then its unit text."""
    texts = []
    code = quantity.get("code")
    if type(code) is str:
        texts.append(code)
    unit = quantity.get("unit")
    if type(unit) is str and unit != code:
        texts.append(unit)
    return texts


def show_value(value: Any) -> str:
    """A short, safe rendering of a JSON value for a reason string."""
    if isinstance(value, str):
        return repr(value[:40])
    if type(value) is int and not -LARGEST <= value <= LARGEST:
        return f"a number of more than {_DIGITS} digits"  # shown whole, it would flood the card
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    return f"a JSON {type(value).__name__}"


#: The largest number read from an order: the largest double. JSON numbers beyond it are
#: not interoperable (RFC 8259 section 6: peers that read numbers as doubles cannot hold
#: them), and a number of thousands of digits carried into the arithmetic and the card texts
#: would only grow; such an order is one whose dose cannot be read. Floats never exceed it.
LARGEST = sys.float_info.max
#: digits before the point of LARGEST, for numbers written in text
_DIGITS = len(str(int(LARGEST)))


#: The largest figure a dose computation accepts, whatever it counts: 10^12 (mg, tablets,
#: doses a day, hours, ...). A thousand tonnes a day, or a dose a trillion times a day, is
#: no order at all, and its figures would fill a card with digits; like a number beyond
#: LARGEST, an input or a daily amount (in mg) above it is one whose dose cannot be computed.
PLAUSIBLE = 10**12


def _out_of_range(what: str) -> UnreadableDose:
    return UnreadableDose(
        f"the {what} is out of range (larger than any JSON number a double holds)"
    )


def implausible(what: str, unit: str = "") -> UnreadableDose:
    """The reason a figure above PLAUSIBLE gives; the figure itself is not shown."""
    return UnreadableDose(
        f"the {what} is an implausible figure (more than 10^12{unit}, beyond any dose)"
    )


def number(value: Any, what: str) -> Decimal:
    """A FHIR JSON number as an exact Decimal; raises UnreadableDose for anything else, and for a
    number out of range (see LARGEST).

    ``repr`` of a float is its shortest round-tripping text, so 0.1 stays 0.1.
    """
    kind = type(value)
    if kind is int:
        if 0 <= value < _WHOLES:
            return _WHOLE[int(value)]
        if -PLAUSIBLE <= value <= PLAUSIBLE:
            return Decimal(value)
        if -LARGEST <= value <= LARGEST:
            raise implausible(what)
        raise _out_of_range(what)
    if kind is float:
        if -PLAUSIBLE <= value <= PLAUSIBLE:
            return Decimal(repr(value))
        if math.isfinite(value):
            raise implausible(what)
        if not math.isnan(value):  # JSON numbers beyond a double read as infinite
            raise _out_of_range(what)
    raise UnreadableDose(f"the {what} {show_value(value)} is not a number")


def figure(text: str, what: str) -> Decimal:
    """A number written in digits (a strength in a product name) as a Decimal; raises
    UnreadableDose when out of range, before a long run of digits is converted."""
    whole, _, fraction = text.partition(".")
    if len(whole.lstrip("0")) > _DIGITS or len(fraction) > _DIGITS:
        raise _out_of_range(what)
    value = Decimal(text)
    if value > LARGEST:
        raise _out_of_range(what)
    if value > PLAUSIBLE:
        raise implausible(what)
    return value


def positive(value: Any, what: str) -> Decimal:
    """Like ``number`` but refuses zero and negatives."""
    kind = type(value)
    # The usual figures, tested as JSON numbers before any Decimal is made.
    if kind is int:
        if 0 < value <= PLAUSIBLE:
            return _WHOLE[value] if value < _WHOLES else Decimal(value)
    elif kind is float and 0 < value <= PLAUSIBLE:
        return Decimal(repr(value))
    result = number(value, what)
    if result <= 0:
        raise UnreadableDose(f"the {what} {show_value(value)} is not positive")
    return result


# Small whole numbers recur everywhere (doses, frequencies, periods): made once.
_WHOLES = 1001
_WHOLE = tuple(Decimal(n) for n in range(_WHOLES))


def ceil_div(numerator: Decimal, denominator: Decimal) -> tuple[Decimal, bool]:
    """The ceiling of numerator/denominator, and whether the division was exact."""
    quotient = UP.divide(numerator, denominator)
    whole = quotient.to_integral_value(rounding=ROUND_CEILING)
    return whole, whole == quotient


# No tables keyed by Decimal here: hashing a Decimal that is not a whole number costs
# more than formatting it.
def fmt(value: Decimal) -> str:
    """A Decimal in plain digits, without exponent or trailing zeros."""
    text = str(value)
    if "E" in text or len(text) > 28:
        return f"{value.normalize():f}"  # (rounded to the context's 28 digits)
    if "." in text:
        return text.rstrip("0").rstrip(".")
    return text


def tidy(value: Decimal) -> Decimal:
    """The same number without trailing zeros (1.0000 -> 1), and without an exponent
    for whole numbers (100, not 1E+2)."""
    text = str(value)
    if "E" not in text and len(text) <= 28 and (text[-1] != "0" or "." not in text):
        return value  # already plain: no exponent, no trailing zero after a point
    if value == value.to_integral_value() and value.adjusted() < 28:
        return value.quantize(ONE)
    return value.normalize()


def mass_unit_for(mg: Decimal) -> str:
    """The mass unit that shows an amount per unit without a leading '0.': ug below 1 mg."""
    return "ug" if mg < 1 else "mg"


def per_words(per: str, count: Decimal | None = None) -> str:
    """A presentation unit in words: 'tablet', 'tablets', 'mL'."""
    if per == "{tbl}":
        return "tablet" if count is None or count == 1 else "tablets"
    return per
