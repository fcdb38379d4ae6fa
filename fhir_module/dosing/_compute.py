"""A whole MedicationRequest -> its route and largest daily dose.

Several dosage instructions: those sharing a ``sequence`` run together and add
up; different sequences follow one another, so the largest sequence counts.
Instructions without a sequence are read as running alongside everything
(added to every sequence), and the answer says so.

Mixed routes: the route is the first one an instruction states that the
knowledge recognises; but a single daily figure summed across routes would
compare with no limit, so an order whose instructions state different routes
gets a DoseUnknown (carrying that first route) rather than a partial sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._dosage import Part, dosage_part, shown
from ._errors import Unknown
from ._order import OrderContext
from ._protocol import DoseKnowledge
from ._result import DailyDose, DoseUnknown, daily
from ._units import show_value, tidy


def daily_dose(order: Mapping[str, Any], knowledge: DoseKnowledge,
               medication: Mapping[str, Any] | None = None) -> DailyDose | DoseUnknown:
    """The largest daily amount of the ingredient a MedicationRequest allows, and its route.

    ``order`` is the MedicationRequest as parsed JSON; ``medication`` is the Medication a
    ``medicationReference`` points to, when the caller resolved it (contained '#id'
    Medications are found here). Returns a DoseUnknown with a reason whenever the amount
    cannot be known; never raises, whatever the JSON holds.
    """
    try:
        return _daily_dose(order, knowledge, medication)
    except Exception as error:  # noqa: BLE001 - a safety check must answer, never crash
        return DoseUnknown("unknown", f"the dose could not be computed ({type(error).__name__})")


def order_route(order: Mapping[str, Any], knowledge: DoseKnowledge,
                medication: Mapping[str, Any] | None = None) -> str:
    """The route of a MedicationRequest, by the same logic as ``daily_dose``; never raises.

    'oral' | 'intrathecal' | 'other-injection' | 'other' | 'unknown'.
    """
    try:
        if not isinstance(order, Mapping):
            return "unknown"
        ctx = OrderContext(order if type(order) is dict else dict(order), knowledge, medication)
        dosages, _ = _dosages(ctx.order)
        return _route(dosages, ctx)[0]
    except Exception:  # noqa: BLE001 - same promise as daily_dose
        return "unknown"


def _daily_dose(order: Mapping[str, Any], knowledge: DoseKnowledge,
                medication: Mapping[str, Any] | None) -> DailyDose | DoseUnknown:
    if type(order) is not dict:
        if not isinstance(order, Mapping):
            return DoseUnknown("unknown", f"the order is {show_value(order)}, not a JSON object")
        order = dict(order)
    ctx = OrderContext(order, knowledge, medication)
    dosages, as_object = _dosages(ctx.order)
    if as_object:
        ctx.notes.append("dosageInstruction sent as an object; read as one entry")
    route, mixed = _route(dosages, ctx)
    if mixed:
        return DoseUnknown(route, mixed, _unique(ctx.notes))
    if not dosages:
        return DoseUnknown(route, "the order has no dosage instructions", _unique(ctx.notes))
    if len(dosages) == 1:
        # One instruction, the usual order: nothing to group or add.
        dosage = dosages[0]
        try:
            if type(dosage) is not dict:
                raise Unknown(f"it is {show_value(dosage)}, not an object")
            part = dosage_part(dosage, ctx)
        except Unknown as failure:
            return DoseUnknown(route, failure.reason, _unique(ctx.notes))
        notes = ctx.notes + part.notes if ctx.notes else part.notes
        return daily(route, tidy(part.mg), part.words,
                         tuple(notes) if len(notes) < 2 else tuple(dict.fromkeys(notes)))
    sequenced: dict[Any, list[Part]] = {}
    loose: list[Part] = []
    for index, dosage in enumerate(dosages):
        try:
            if type(dosage) is not dict:
                raise Unknown(f"it is {show_value(dosage)}, not an object")
            part = dosage_part(dosage, ctx)
        except Unknown as failure:
            reason = f"dosage instruction {index + 1}: {failure.reason}"
            return DoseUnknown(route, reason, _unique(ctx.notes))
        sequence = dosage.get("sequence")
        if type(sequence) is int:
            sequenced.setdefault(sequence, []).append(part)
        else:
            loose.append(part)
    if len(loose) > 1 or (loose and sequenced):
        ctx.notes.append("dosage instructions without a sequence read as taken at the same "
                         "time (added)")
    mg, arithmetic = _combine(sequenced, loose)
    notes = [note for part in loose for note in part.notes]
    for parts in sequenced.values():
        notes.extend(note for part in parts for note in part.notes)
    return DailyDose(route, tidy(mg), arithmetic, _unique(ctx.notes + notes))


def _dosages(order: dict[str, Any]) -> tuple[list[Any], bool]:
    dosages = order.get("dosageInstruction")
    if type(dosages) is list:
        return dosages, False
    if type(dosages) is dict:
        return [dosages], True
    return [], False


def _route(dosages: list[Any], ctx: OrderContext) -> tuple[str, str]:
    """(route, reason the order mixes routes or ''), noting an inferred route."""
    if len(dosages) == 1 and type(dosages[0]) is dict:
        # The usual order: one instruction, its route coded as the knowledge knows it.
        concept = dosages[0].get("route")
        route = ctx.knowledge.route_for(concept) if type(concept) is dict else None
        if route is not None:
            return route, ""
    stated: list[str] = []
    for dosage in dosages:
        concept = dosage.get("route") if type(dosage) is dict else None
        if type(concept) is dict:
            route = ctx.knowledge.route_for(concept)
            if route is None:
                ctx.notes.append(f"the route {_route_text(concept)} was not recognised")
            elif route not in stated:
                stated.append(route)
    if not stated:
        route, note = ctx.inferred_route()
        ctx.notes.append(note)
        return route, ""
    if len(stated) > 1:
        ctx.notes.append(f"the instructions state different routes ({', '.join(stated)}); "
                         f"the first, {stated[0]}, is reported")
        return stated[0], "the dosage instructions give different routes, so no single daily " \
                          "dose applies to one route"
    return stated[0], ""


def _route_text(concept: dict[str, Any]) -> str:
    text = concept.get("text")
    if type(text) is str:
        return repr(text[:40])
    codings = concept.get("coding")
    if type(codings) is list and codings and type(codings[0]) is dict:
        return f"{show_value(codings[0].get('system'))} {show_value(codings[0].get('code'))}"
    return "given"


def _combine(sequenced: dict[Any, list[Part]], loose: list[Part]) -> tuple[Decimal, str]:
    if not sequenced:
        return _sum(loose)
    totals = [_sum(parts + loose) for parts in sequenced.values()]
    if len(totals) == 1:
        return totals[0]
    best = max(total for total, _ in totals)
    listed = "; ".join(f"sequence {key}: {words}"
                       for key, (_, words) in zip(sequenced, totals, strict=True))
    unit = _unit([part for parts in sequenced.values() for part in parts] + loose)
    return best, f"{listed}; the largest: {shown(best, unit)}"


def _sum(parts: list[Part]) -> tuple[Decimal, str]:
    if len(parts) == 1:
        return parts[0].mg, parts[0].words
    total = sum((part.mg for part in parts), Decimal(0))
    words = " + ".join(f"({part.words})" for part in parts)
    return total, f"{words} = {shown(total, _unit(parts))}"


def _unit(parts: list[Part]) -> str:
    units = {part.unit for part in parts}
    return units.pop() if len(units) == 1 else "mg"


def _unique(notes: list[str]) -> tuple[str, ...]:
    return tuple(notes) if len(notes) < 2 else tuple(dict.fromkeys(notes))
