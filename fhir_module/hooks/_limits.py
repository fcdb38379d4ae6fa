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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import RequestProblem, TooLarge

if TYPE_CHECKING:
    from ..knowledge import Knowledge

__all__ = [
    "DEFAULT_FHIR_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_DOSAGES",
    "DEFAULT_MAX_DOSE_ENTRIES",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_PAGES",
    "HookLimits",
    "Limits",
    "TooLarge",
    "check_bundle",
    "check_depth",
    "check_dose_work",
    "check_feedback_size",
    "check_hook_sizes",
    "dose_work",
]

#: seconds for each read from the EHR's FHIR server, in all: connecting, the whole answer
#: and any redirects
DEFAULT_FHIR_TIMEOUT = 10.0
#: Bundle pages followed per prefetch key before the service stops reading
DEFAULT_MAX_PAGES = 10
#: the largest request body read; a larger one gets 413 (and, by default, the largest
#: answer read from the EHR's FHIR server, since a request may bring as much in its prefetch)
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
#: the most draftOrders entries, prefetch Bundle entries or feedback items one request may hold
DEFAULT_MAX_ENTRIES = 1000
#: the most dosage instructions one hook call's MedicationRequests may hold in all (drafts and
#: the patient's own): each order is judged with the others of its route, so the work of a
#: call grows with its orders times their instructions (see benchmarks/bench_limits.py)
DEFAULT_MAX_DOSAGES = 1000
#: the most dose and timing entries (doseAndRate, timing.event, repeat.timeOfDay, ...) in all
DEFAULT_MAX_DOSE_ENTRIES = 2000


class HookLimits(Protocol):
    """What a hook call reads of its settings: the server's `Settings` is one."""

    @property
    def fhir_timeout(self) -> float: ...
    @property
    def max_pages(self) -> int: ...
    @property
    def max_entries(self) -> int: ...
    @property
    def max_dosages(self) -> int: ...
    @property
    def max_dose_entries(self) -> int: ...
    @property
    def fhir_answer_bytes(self) -> int: ...


@dataclass(frozen=True)
class Limits:
    """The default `HookLimits`, for the library API and the CLI without settings."""

    fhir_timeout: float = DEFAULT_FHIR_TIMEOUT
    max_pages: int = DEFAULT_MAX_PAGES
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_dosages: int = DEFAULT_MAX_DOSAGES
    max_dose_entries: int = DEFAULT_MAX_DOSE_ENTRIES
    fhir_answer_bytes: int = DEFAULT_MAX_BODY_BYTES


#: FHIR resources in CDS Hooks requests nest a dozen levels or so; this leaves ample room
DEFAULT_MAX_DEPTH = 64


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


def check_bundle(knowledge: Knowledge, bundle: Mapping[str, Any], limits: HookLimits) -> None:
    """Refuse (413) a plain Bundle judged as order-sign with more than `limits.max_entries`
    entries, or whose MedicationRequests of a known drug hold more dose work than a hook
    call may (`check_dose_work`): the limits a hook call meets, for the library API and the
    CLI alike."""
    from ..engine import bundle_resources, drug_orders_in

    entries = bundle.get("entry")
    if isinstance(entries, list) and len(entries) > limits.max_entries:
        raise TooLarge(f"Bundle.entry: more than {limits.max_entries} entries", "Bundle.entry")
    orders = [d.order for d in drug_orders_in(knowledge, bundle_resources(bundle))]
    check_dose_work(orders, limits.max_dosages, limits.max_dose_entries)
