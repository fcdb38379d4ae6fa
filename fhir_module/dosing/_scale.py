"""A MedicationRequest with every dose scaled down, for "change the order to the limit".

Each dose is multiplied by the factor and rounded *down* to something a
clinician can give: half tablets, hundredths of a mL, three significant digits
of a mass (or of any unit this package does not know). Rounding down keeps the
scaled order's daily dose at or below factor x the original's, because that
dose is linear in every scaled figure. A dose that rounds to nothing (half a
tablet x 0.9) keeps its three significant digits instead, since zero is no dose.

Dosage.text and patientInstruction are dropped from the copy: they restate the
old dose in words, and a suggestion must not carry a dose it does not order.
The copy goes back to the EHR as a FHIR R4 resource, so the untidy shapes an
order may arrive in (doseAndRate as an object, the STU3 dose on the Dosage)
are written as R4's doseAndRate array.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from ..ucum import quantity_unit_texts, rate_unit, unit_named

_STEPS = {"{tbl}": Decimal("0.5"), "mL": Decimal("0.01")}
_ENTRY_QUANTITIES = ("doseQuantity", "rateQuantity")
_ENTRY_RANGES = ("doseRange", "rateRange")


def scaled_order(order: Mapping[str, Any], factor: Decimal) -> dict[str, Any]:
    """A deep copy of ``order`` with every dose, rate and maximum multiplied by ``factor``.

    ``factor`` must lie strictly between 0 and 1 (ValueError otherwise); ``order`` must be a
    mapping (TypeError otherwise), while anything malformed inside it is left as it is. Covers
    doseAndRate (list or object) and the STU3 shape with the dose on the Dosage.
    """
    if not isinstance(order, Mapping):
        raise TypeError(f"order must be a JSON object, not {type(order).__name__}")
    factor = Decimal(factor)
    if not 0 < factor < 1:
        raise ValueError(f"factor must lie strictly between 0 and 1, not {factor}")
    scaled = copy.deepcopy(dict(order))
    dosages = scaled.get("dosageInstruction")
    for dosage in dosages if type(dosages) is list else [dosages]:
        if type(dosage) is not dict:
            continue
        dosage.pop("text", None)
        dosage.pop("patientInstruction", None)
        entries = dosage.get("doseAndRate")
        for entry in [dosage, *(entries if type(entries) is list else [entries])]:
            if type(entry) is dict:
                _scale_entry(entry, factor)
        caps = dosage.get("maxDosePerPeriod")
        for cap in caps if type(caps) is list else [caps]:
            if type(cap) is dict:
                _scale_quantity(cap.get("numerator"), factor)
        _scale_quantity(dosage.get("maxDosePerAdministration"), factor)
        _as_r4(dosage)
    return scaled


def _as_r4(dosage: dict[str, Any]) -> None:
    entries = dosage.get("doseAndRate")
    if type(entries) is dict:
        dosage["doseAndRate"] = entries = [entries]
    moved = {
        k: dosage.pop(k) for k in _ENTRY_QUANTITIES + _ENTRY_RANGES + ("rateRatio",) if k in dosage
    }
    if not moved:
        return
    if type(entries) is list and entries and type(entries[0]) is dict:
        for key, value in moved.items():
            entries[0].setdefault(key, value)
    else:
        dosage["doseAndRate"] = [moved]


def _scale_entry(entry: dict[str, Any], factor: Decimal) -> None:
    for key in _ENTRY_QUANTITIES:
        _scale_quantity(entry.get(key), factor)
    for key in _ENTRY_RANGES:
        found = entry.get(key)
        if type(found) is dict:
            _scale_quantity(found.get("low"), factor)
            _scale_quantity(found.get("high"), factor)
    ratio = entry.get("rateRatio")
    if type(ratio) is dict:
        _scale_quantity(ratio.get("numerator"), factor)


def _scale_quantity(quantity: Any, factor: Decimal) -> None:
    if type(quantity) is not dict:
        return
    value = quantity.get("value")
    if type(value) is int:
        exact = Decimal(value)
    elif type(value) is float and math.isfinite(value):
        exact = Decimal(repr(value))
    else:
        return
    if exact <= 0:
        return
    rounded = round_down(exact * factor, _kind(quantity))
    quantity["value"] = int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


def round_down(value: Decimal, kind: str | None) -> Decimal:
    """``value`` rounded down to the step of its kind ('{tbl}', 'mL'), else to 3 significant
    digits; never to zero."""
    step = _STEPS.get(kind or "")
    if step is not None:
        stepped = (value / step).to_integral_value(rounding=ROUND_FLOOR) * step
        if stepped > 0:
            return stepped
    quantum = Decimal(1).scaleb(value.adjusted() - 2)
    return value.quantize(quantum, rounding=ROUND_FLOOR)


def _kind(quantity: dict[str, Any]) -> str | None:
    for text in quantity_unit_texts(quantity):
        unit = unit_named(text)
        if unit is None:
            parsed = rate_unit(text)
            unit = parsed[0] if parsed is not None else None
        if unit is not None:
            # Litres are not stepped in hundredths: that step is for mL.
            return unit.kind if unit.factor == 1 or unit.kind == "mass" else None
    return None
