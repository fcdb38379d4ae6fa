"""Administration guidelines of a MedicationKnowledge as computable entries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..ucum import MASS_TO_MG, TIME_SECONDS

AGE_RANGE = "/StructureDefinition/age-range"
INCREMENT = "/StructureDefinition/daily-dose-increment"
SINGLE_INCREMENT = "/StructureDefinition/single-dose-increment"
CITATION = "/StructureDefinition/source-citation"
DAY = TIME_SECONDS["d"]


@dataclass(frozen=True)
class Entry:
    """One dosage entry of a guideline: its daily limits in mg per day, its single-dose
    limits in mg, its administration count per day."""

    role: str
    route: str | None  # route category; None: every route
    age_low: int | None
    age_high: int | None
    band: str  # the age band in words, e.g. "4 to 10 years"
    unit: str | None  # the UCUM mass unit the entry states its figures in
    text: str
    instruction: str | None
    max_daily_mg: Decimal | None
    usual_low_mg: Decimal | None
    usual_high_mg: Decimal | None
    step_mg: Decimal | None
    step_days: Decimal | None
    quotes: tuple[str, ...]
    notes: tuple[str, ...]
    max_single_mg: Decimal | None = None  # Dosage.maxDosePerAdministration
    max_count: Decimal | None = None  # administrations per day, from Dosage.timing.repeat
    single_step_mg: Decimal | None = None  # extension single-dose-increment: the rise ...
    single_step_days: Decimal | None = None  # ... and the interval it is allowed in

    def applies(self, route: str, age_low: int | None, age_high: int | None) -> bool:
        """Whether the entry applies to the route and to any age in the patient's range."""
        if self.route is not None and self.route != route:
            return False
        if self.age_low is None and self.age_high is None:
            return True
        if age_low is None or age_high is None:
            return False
        low = self.age_low if self.age_low is not None else 0
        high = self.age_high if self.age_high is not None else 10**6
        return age_low <= high and age_high >= low


def mass_mg(quantity: Any) -> tuple[Decimal, str]:
    """(mg, mass unit) of a UCUM mass Quantity; ValueError if it is not one."""
    code = quantity.get("code") if isinstance(quantity, Mapping) else None
    if quantity.get("system") != "http://unitsofmeasure.org" or code not in MASS_TO_MG:
        raise ValueError(f"{code!r} is not a UCUM mass unit (g, mg, ug)")
    return Decimal(str(quantity["value"])) * MASS_TO_MG[code], code


def days(quantity: Any) -> Decimal:
    """A UCUM time Quantity in days; ValueError if it is not one."""
    code = quantity.get("code")
    if quantity.get("system") != "http://unitsofmeasure.org" or code not in TIME_SECONDS:
        raise ValueError(f"{code!r} is not a UCUM time unit")
    return Decimal(str(quantity["value"])) * TIME_SECONDS[code] / DAY


def rate_mg_per_day(quantity: Any) -> tuple[Decimal, str]:
    """A UCUM mass-per-time Quantity ('mg/d', 'ug/h') in mg per day."""
    code = str(quantity.get("code"))
    mass, _, per = code.partition("/")
    if not per or per not in TIME_SECONDS:
        raise ValueError(f"{code!r} is not a UCUM mass-per-time unit")
    mg, unit = mass_mg({**quantity, "code": mass})
    return mg * DAY / TIME_SECONDS[per], unit


def per_day(repeat: Any) -> Decimal | None:
    """The most administrations in one day a Timing.repeat gives: `frequencyMax`, else
    `frequency`, per `period` `periodUnit` scaled to one day; None when it gives no
    frequency; ValueError when its period cannot be read."""
    if not isinstance(repeat, Mapping):
        return None
    count = repeat.get("frequencyMax", repeat.get("frequency"))
    if count is None:
        return None
    unit = repeat.get("periodUnit")
    if "period" not in repeat or unit not in TIME_SECONDS:
        raise ValueError("timing.repeat: a frequency needs a period and a UCUM periodUnit")
    period = Decimal(str(repeat["period"])) * TIME_SECONDS[unit]
    if period <= 0:
        raise ValueError("timing.repeat.period: not a positive period")
    return Decimal(str(count)) * DAY / period


def _years(quantity: Mapping[str, Any]) -> int:
    if quantity.get("system") != "http://unitsofmeasure.org" or quantity.get("code") != "a":
        raise ValueError("an age range is in UCUM years ('a')")
    value = Decimal(str(quantity["value"]))
    if value != value.to_integral_value() or value < 0:
        raise ValueError("an age bound is a whole number of completed years")
    return int(value)


def _ext(node: Mapping[str, Any], suffix: str) -> list[Mapping[str, Any]]:
    return [e for e in node.get("extension") or [] if str(e.get("url", "")).endswith(suffix)]


def _citations(node: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    quotes, notes = [], []
    for ext in _ext(node, CITATION):
        for part in ext.get("extension") or []:
            if part.get("url") == "quote":
                quotes.append(part["valueString"])
            elif part.get("url") == "note":
                notes.append(part["valueString"])
    return tuple(quotes), tuple(notes)


def read_guidelines(
    mk: Mapping[str, Any], route_of: Callable[[Any], str | None]
) -> tuple[Entry, ...]:
    """Every dosage entry of every guideline; ValueError('element: problem') on bad data."""
    entries: list[Entry] = []
    for g, guideline in enumerate(mk.get("administrationGuidelines") or []):
        where = f"administrationGuidelines[{g}]"
        low = high = None
        band = "all ages"
        for c, char in enumerate(guideline.get("patientCharacteristics") or []):
            for ext in _ext(char, AGE_RANGE):
                rng = ext.get("valueRange") or {}
                try:
                    low = _years(rng["low"]) if "low" in rng else None
                    high = _years(rng["high"]) if "high" in rng else None
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{where}.patientCharacteristics[{c}]: {exc}") from None
                band = ", ".join(char.get("value") or []) or band
        for d, group in enumerate(guideline.get("dosage") or []):
            role = next(
                (c.get("code") for c in (group.get("type") or {}).get("coding") or []), None
            )
            if not role:
                raise ValueError(f"{where}.dosage[{d}].type: no dosage-role code")
            for k, dosage in enumerate(group.get("dosage") or []):
                path = f"{where}.dosage[{d}].dosage[{k}]"
                try:
                    entries.append(_entry(role, dosage, low, high, band, route_of))
                except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                    raise ValueError(f"{path}: {exc}") from None
    return tuple(entries)


def _entry(
    role: str,
    dosage: Mapping[str, Any],
    low: int | None,
    high: int | None,
    band: str,
    route_of: Callable[[Any], str | None],
) -> Entry:
    route = None
    if dosage.get("route") is not None:
        route = route_of(dosage["route"])
        if route is None:
            raise ValueError("route: not in any route value set of the module")
    unit = None
    max_daily = usual_low = usual_high = step = step_days = None
    if "maxDosePerPeriod" in dosage:
        ratio = dosage["maxDosePerPeriod"]
        mg, unit = mass_mg(ratio["numerator"])
        max_daily = mg / days(ratio["denominator"])
    for dr in dosage.get("doseAndRate") or []:
        if "rateRange" in dr:
            usual_low, unit = rate_mg_per_day(dr["rateRange"]["low"])
            usual_high, _ = rate_mg_per_day(dr["rateRange"]["high"])
        if "doseQuantity" in dr:
            _, unit = mass_mg(dr["doseQuantity"])
    for ext in _ext(dosage, INCREMENT):
        ratio = ext["valueRatio"]
        step, unit = rate_mg_per_day(ratio["numerator"])
        step_days = days(ratio["denominator"])
    max_single = max_count = single_step = single_step_days = None
    if "maxDosePerAdministration" in dosage:
        max_single, unit = mass_mg(dosage["maxDosePerAdministration"])
    if "timing" in dosage:
        max_count = per_day((dosage["timing"] or {}).get("repeat"))
    for ext in _ext(dosage, SINGLE_INCREMENT):
        ratio = ext["valueRatio"]
        single_step, unit = mass_mg(ratio["numerator"])
        single_step_days = days(ratio["denominator"])
    quotes, notes = _citations(dosage)
    return Entry(
        role,
        route,
        low,
        high,
        band,
        unit,
        dosage.get("text", ""),
        dosage.get("patientInstruction"),
        max_daily,
        usual_low,
        usual_high,
        step,
        step_days,
        quotes,
        notes,
        max_single,
        max_count,
        single_step,
        single_step_days,
    )
