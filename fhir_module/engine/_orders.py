"""Draft orders of a hook call: which are orders of a known drug, and their Medications."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..knowledge import Drug, Knowledge, Matches, Pool, named_medication

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class DrugOrder:
    """A MedicationRequest of a known drug, with the Medication it names (if any). An order
    of several known drugs (a combination) is one DrugOrder per drug, each judged by that
    drug's rules."""

    order: Resource
    drug: Drug
    medication: Resource | None

    @property
    def reference(self) -> str | None:
        rid = self.order.get("id")
        return f"MedicationRequest/{rid}" if isinstance(rid, str) and rid else None


def bundle_resources(bundle: Any) -> list[Resource]:
    """The resources of a Bundle's entries, skipping anything malformed."""
    if not isinstance(bundle, Mapping) or not isinstance(bundle.get("entry"), list):
        return []
    return [
        e["resource"]
        for e in bundle["entry"]
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    ]


def medication_pool(
    context: Mapping[str, Any], prefetch: Any = None, medications: Iterable[Resource] = ()
) -> Pool:
    """What the draft orders' references may resolve to: the entries of draftOrders, then the
    entries of any prefetched Bundle and any prefetched Medication, then the Medications of
    the patient's record."""
    values = list(prefetch.values()) if isinstance(prefetch, Mapping) else []
    pool = Pool.of_bundles(context.get("draftOrders"), *values)
    for value in values:  # a Medication prefetched on its own, not in a Bundle
        if isinstance(value, dict) and value.get("resourceType") == "Medication":
            pool.add(value)
    for medication in medications:
        pool.add(medication)
    return pool


def drug_orders_in(
    knowledge: Knowledge,
    resources: list[Resource],
    pool: Pool | None = None,
    matches: Matches | None = None,
) -> list[DrugOrder]:
    """The MedicationRequests among the resources that are orders of a known drug, one
    DrugOrder per drug the order names (in load order).

    References resolve in `pool` (by default, the resources themselves by Type/id); `matches`
    is the call's memo of the drugs orders name (a fresh one by default)."""
    if pool is None:
        pool = Pool((None, r) for r in resources)
    if matches is None:
        matches = knowledge.matches()
    found = []
    for res in resources:
        if res.get("resourceType") != "MedicationRequest":
            continue
        named = named_medication(res, pool)
        for drug in matches.drugs(named):
            found.append(DrugOrder(res, drug, named.medication))
    return found


def own_drug_orders(
    knowledge: Knowledge,
    history: list[Resource],
    medications: Iterable[Resource],
    pool: Pool | None = None,
    matches: Matches | None = None,
) -> list[DrugOrder]:
    """The patient's own MedicationRequests of a known drug: references resolve in the
    call's `pool` (`medication_pool`), then in the record's orders and Medications. The one
    resolution the engine judges them by and the work limits count them by."""
    return drug_orders_in(
        knowledge, history, (pool or Pool()).with_resources([*history, *medications]), matches
    )


def draft_drug_orders(
    knowledge: Knowledge, context: Mapping[str, Any], pool: Pool, matches: Matches | None = None
) -> list[DrugOrder]:
    """The draft orders of a known drug in a hook's context, references resolved in `pool`."""
    return drug_orders_in(knowledge, bundle_resources(context.get("draftOrders")), pool, matches)


def drug_orders(
    knowledge: Knowledge,
    context: Mapping[str, Any],
    prefetch: Any = None,
    medications: Iterable[Resource] = (),
    matches: Matches | None = None,
) -> list[Resource]:
    """The draft MedicationRequests of a known drug in a hook's context (references resolved
    in draftOrders, in the prefetched Bundles, then in `medications`), each once."""
    pool = medication_pool(context, prefetch, medications)
    found: dict[int, Resource] = {}
    for d in draft_drug_orders(knowledge, context, pool, matches):
        found.setdefault(id(d.order), d.order)
    return list(found.values())


#: a relative reference to a Medication (FHIR ids: 1 to 64 of A-Z, a-z, 0-9, '-' and '.')
_MEDICATION_REFERENCE = re.compile(
    r"Medication/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)


def unresolved_medications(
    knowledge: Knowledge,
    context: Mapping[str, Any],
    prefetch: Any = None,
    matches: Matches | None = None,
) -> list[str]:
    """The `Medication/{id}` references of draft orders that name no known drug because the
    call does not carry that Medication: FHIR resolves a relative reference against the
    server, so these are for the fhirServer to answer. Each once, at most one per draft."""
    pool = medication_pool(context, prefetch)
    if matches is None:
        matches = knowledge.matches()
    found: dict[str, None] = {}
    for res in bundle_resources(context.get("draftOrders")):
        if res.get("resourceType") != "MedicationRequest":
            continue
        named = named_medication(res, pool)
        if named.medication is not None or named.reference is None:
            continue
        match = _MEDICATION_REFERENCE.fullmatch(named.reference)
        if match and not matches.drugs(named):
            found.setdefault(f"Medication/{match.group(1)}", None)
    return list(found)


def selected(orders: list[DrugOrder], selections: Any) -> list[DrugOrder]:
    """The orders named in order-select's `selections` ('MedicationRequest/id' references)."""
    wanted = (
        {s for s in selections if isinstance(s, str)} if isinstance(selections, list) else set()
    )
    return [o for o in orders if o.reference in wanted]
