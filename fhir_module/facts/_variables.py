"""Helpers of the variables rule expressions read (built by _registry.py, declared in
knowledge/_variables.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..dosing import UNRECOGNISED, DailyDose, DoseUnknown
from ..knowledge import Drug, codings, render_value
from ..ucum import MASS_TO_MG
from ._facts import AgeRange

Dose = DailyDose | DoseUnknown
UNKNOWN_ROUTE = (
    "the route is not given and cannot be inferred from the product or dose form, "
    "so no route's dose limits could be applied"
)
UNRECOGNISED_ROUTE = (
    "the route '{}' is not one the module recognises, so no route's dose limits could be applied"
)
#: the longest caller-supplied text (a route, a finding's label) a card variable repeats
TEXT_LIMIT = 80
#: the longest piece of arithmetic, note or reason: figures, words and caller text in them
PIECE_LIMIT = 400


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """The text, cut with an ellipsis when it is longer than `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def route_unit(drug: Drug, route: str) -> str:
    """The mass unit the knowledge states this route's figures in (mg when it states none)."""
    return next((e.unit for e in drug.entries if e.route == route and e.unit), "mg")


def in_unit(mg: Decimal, unit: str) -> int | float:
    """A mass in mg as a number of `unit`; whole numbers stay int so FHIRPath prints '100'."""
    value = mg / MASS_TO_MG[unit]
    return int(value) if value == value.to_integral_value() else float(value)


def show(mg: Decimal, unit: str) -> str:
    return f"{render_value([in_unit(mg, unit)])} {unit}/day"


def guideline_view(drug: Drug, route: str, age: AgeRange | None, unit: str) -> dict[str, Any]:
    """%guideline: per dosage role, the entries that apply to the route and to any age in range.

    Several entries of one role combine: texts and quotes add up, limits take the
    most restrictive (smallest) figure, so a rule fires if it fires for any of them.
    """
    view: dict[str, dict[str, Any]] = {}
    low, high = (age.low, age.high) if age else (None, None)
    for entry in drug.entries:
        if not entry.applies(route, low, high):
            continue
        item = view.setdefault(entry.role, {"text": [], "instruction": [], "quote": [], "note": []})
        item["text"].append(entry.text)
        if entry.instruction:
            item["instruction"].append(entry.instruction)
        item["quote"] += [q for q in entry.quotes if q not in item["quote"]]
        item["note"] += [n for n in entry.notes if n not in item["note"]]
        item.setdefault("band", entry.band)
        for key, mg in (
            ("maxDaily", entry.max_daily_mg),
            ("low", entry.usual_low_mg),
            ("high", entry.usual_high_mg),
            ("step", entry.step_mg),
            ("maxSingle", entry.max_single_mg),
            ("singleStep", entry.single_step_mg),
        ):
            if mg is not None:
                value = in_unit(mg, unit)
                item[key] = min(item.get(key, value), value)
        if entry.max_count is not None:
            count = number(entry.max_count)
            item["maxCount"] = min(item.get("maxCount", count), count)
        for interval in (entry.step_days, entry.single_step_days):
            if interval is not None:
                item["intervalDays"] = float(interval)
    return view


def number(value: Decimal) -> int | float:
    """A Decimal as a JSON number; whole numbers stay int so FHIRPath prints '3'."""
    return int(value) if value == value.to_integral_value() else float(value)


def dose_summary(doses: Iterable[Dose], unit: str) -> tuple[Decimal, str, str]:
    """(mg/day of the computable doses, arithmetic, assumptions text) of a group of orders."""
    computed = [d for d in doses if isinstance(d, DailyDose)]
    total = sum((d.mg_per_day for d in computed), Decimal(0))
    arithmetic = "; ".join(clip(d.arithmetic, PIECE_LIMIT) for d in computed)
    if len(computed) > 1:
        arithmetic += f"; together {show(total, unit)}"
    notes: list[str] = []
    for d in doses:
        notes += [n for n in (clip(a, PIECE_LIMIT) for a in d.assumptions) if n not in notes]
    text = ("\n\nAssumed: " + "; ".join(notes) + ".") if notes else ""
    return total, arithmetic, text


def dose_variable(dose: Dose, route_words: str = "") -> dict[str, Any]:
    if dose.route == UNRECOGNISED:
        # Whatever the amount, no route's limits apply to a route the module cannot classify.
        reason = UNRECOGNISED_ROUTE.format(clip(route_words))
        if isinstance(dose, DoseUnknown):
            reason += f"; nor could the daily dose be computed: {clip(dose.reason, PIECE_LIMIT)}"
        else:
            reason += f"; the dose as ordered: {clip(dose.arithmetic, PIECE_LIMIT)}"
        return {"computed": False, "reason": reason}
    if isinstance(dose, DailyDose) and dose.route != "unknown":
        return {"computed": True}
    reason = dose.reason if isinstance(dose, DoseUnknown) else UNKNOWN_ROUTE
    return {"computed": False, "reason": clip(reason, PIECE_LIMIT)}


def route_text(order: Mapping[str, Any], route: str) -> str:
    """The order's own words for its route, for the card, cut to TEXT_LIMIT."""
    return clip(_route_words(order, route))


def _route_words(order: Mapping[str, Any], route: str) -> str:
    dosages = order.get("dosageInstruction")
    for dosage in dosages if isinstance(dosages, list) else []:
        concept = dosage.get("route") if isinstance(dosage, Mapping) else None
        if isinstance(concept, Mapping):
            if isinstance(concept.get("text"), str):
                return str(concept["text"])
            for c in codings(concept):
                if isinstance(c, Mapping) and isinstance(c.get("display"), str):
                    return str(c["display"])
            for c in codings(concept):
                if isinstance(c.get("code"), str):
                    return f"{c.get('system') or 'no system'} {c['code']}"
    return route.replace("-", " ")
