"""Draft orders of a hook call: which are orders of a known drug, and their Medications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..knowledge import Drug, Knowledge

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class DrugOrder:
    """A MedicationRequest of a known drug, with the Medication it names (if any)."""

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


def _medication(order: Resource, pool: list[Resource]) -> Resource | None:
    ref = order.get("medicationReference")
    target = ref.get("reference") if isinstance(ref, Mapping) else None
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        contained = order.get("contained")
        for res in contained if isinstance(contained, list) else []:
            if isinstance(res, Mapping) and res.get("id") == target[1:]:
                return res
        return None
    wanted = target.rstrip("/").split("/")[-2:]
    for res in pool:
        if (
            res.get("resourceType") == "Medication"
            and [res.get("resourceType"), res.get("id")] == wanted
        ):
            return res
    return None


def medication_concept(order: Resource, medication: Resource | None) -> Any:
    """What the order names as its medication: a CodeableConcept."""
    if isinstance(order.get("medicationCodeableConcept"), Mapping):
        return order["medicationCodeableConcept"]
    if medication is not None:
        return medication.get("code")
    ref = order.get("medicationReference")
    return {"text": ref.get("display")} if isinstance(ref, Mapping) else None


def drug_orders_in(knowledge: Knowledge, resources: list[Resource]) -> list[DrugOrder]:
    """The MedicationRequests among the resources that are orders of a known drug."""
    found = []
    for res in resources:
        if res.get("resourceType") != "MedicationRequest":
            continue
        medication = _medication(res, resources)
        drug = knowledge.drug_for(medication_concept(res, medication))
        if drug is not None:
            found.append(DrugOrder(res, drug, medication))
    return found


def drug_orders(knowledge: Knowledge, context: Mapping[str, Any]) -> list[Resource]:
    """The draft MedicationRequests of a known drug in a hook's context."""
    return [
        d.order for d in drug_orders_in(knowledge, bundle_resources(context.get("draftOrders")))
    ]


def selected(orders: list[DrugOrder], selections: Any) -> list[DrugOrder]:
    """The orders named in order-select's `selections` ('MedicationRequest/id' references)."""
    wanted = (
        {s for s in selections if isinstance(s, str)} if isinstance(selections, list) else set()
    )
    return [o for o in orders if o.reference in wanted]
