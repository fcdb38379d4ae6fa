"""Caps on what one request may ask of the service: nesting depth, Bundle sizes, and the
dose work of a hook call.

A body within the byte limit can still be costly: JSON nested thousands deep
(which recursive code downstream would choke on), tens of thousands of tiny
entries, or a thousand orders of thirty dosage instructions each (every order is
judged with the others of its route, so the work grows with orders times
instructions). Each is refused with an OperationOutcome, never a 5xx, before the
work is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._outcome import RequestProblem

#: FHIR resources in CDS Hooks requests nest a dozen levels or so; this leaves ample room
DEFAULT_MAX_DEPTH = 64


class TooLarge(RequestProblem):
    """The request is well-formed but more than the service takes on (HTTP 413)."""

    def __init__(self, message: str, expression: str | None = None) -> None:
        super().__init__(message, expression, "too-costly")


def check_depth(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse (400) JSON nested deeper than `max_depth` arrays and objects."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise RequestProblem(
                f"request: nested deeper than {max_depth} levels", None, "structure"
            )
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def check_hook_sizes(body: Any, max_entries: int) -> None:
    """Refuse (413) draftOrders or prefetch Bundles with more than `max_entries` entries."""
    if not isinstance(body, Mapping):
        return
    context = body.get("context")
    drafts = context.get("draftOrders") if isinstance(context, Mapping) else None
    if isinstance(drafts, Mapping) and _count(drafts.get("entry")) > max_entries:
        raise TooLarge(
            f"context.draftOrders: more than {max_entries} entries", "context.draftOrders.entry"
        )
    prefetch = body.get("prefetch")
    if not isinstance(prefetch, Mapping):
        return
    for key, value in prefetch.items():
        if isinstance(value, Mapping) and _count(value.get("entry")) > max_entries:
            raise TooLarge(f"prefetch.{key}: more than {max_entries} entries", f"prefetch.{key}")


def check_feedback_size(body: Any, max_entries: int) -> None:
    """Refuse (413) a feedback body with more than `max_entries` items, or more than
    `max_entries` accepted suggestions in all."""
    if not isinstance(body, Mapping):
        return
    items = body.get("feedback")
    if _count(items) > max_entries:
        raise TooLarge(f"feedback: more than {max_entries} items", "feedback")
    accepted = 0
    for i, item in enumerate(items if isinstance(items, list) else []):
        accepted += _count(item.get("acceptedSuggestions")) if isinstance(item, Mapping) else 0
        if accepted > max_entries:
            raise TooLarge(
                f"feedback: more than {max_entries} accepted suggestions in all",
                f"feedback[{i}].acceptedSuggestions",
            )


def _length(value: Any) -> int:
    # A list, or one object where FHIR says a list (untidy senders; the dosing reads both).
    if isinstance(value, list):
        return len(value)
    return 1 if isinstance(value, Mapping) else 0


def dose_work(orders: Iterable[Any]) -> tuple[int, int]:
    """The dosage instructions of these MedicationRequests, and their dose and timing
    entries (doseAndRate, maxDosePerPeriod, timing.event, repeat.timeOfDay, .when,
    .dayOfWeek, timing.code.coding): what the daily dose of each reads one by one."""
    dosages = entries = 0
    for order in orders:
        if not isinstance(order, Mapping):
            continue
        given = order.get("dosageInstruction")
        items = given if isinstance(given, list) else [given]
        dosages += _length(given)
        for dosage in items:
            if not isinstance(dosage, Mapping):
                continue
            entries += _length(dosage.get("doseAndRate")) + _length(dosage.get("maxDosePerPeriod"))
            timing = dosage.get("timing")
            if not isinstance(timing, Mapping):
                continue
            entries += _length(timing.get("event"))
            repeat = timing.get("repeat")
            if isinstance(repeat, Mapping):
                entries += sum(_length(repeat.get(k)) for k in ("timeOfDay", "when", "dayOfWeek"))
            code = timing.get("code")
            if isinstance(code, Mapping):
                entries += _length(code.get("coding"))
    return dosages, entries


def check_dose_work(orders: Iterable[Any], max_dosages: int, max_dose_entries: int) -> None:
    """Refuse (413) a hook call whose MedicationRequests (the drafts and the patient's own)
    hold more than `max_dosages` dosage instructions or `max_dose_entries` dose and timing
    entries in all."""
    dosages, entries = dose_work(orders)
    if dosages > max_dosages:
        raise TooLarge(
            f"MedicationRequest.dosageInstruction: more than {max_dosages} in one call",
            "MedicationRequest.dosageInstruction",
        )
    if entries > max_dose_entries:
        raise TooLarge(
            f"MedicationRequest.dosageInstruction: more than {max_dose_entries} dose and timing "
            f"entries in one call",
            "MedicationRequest.dosageInstruction",
        )
