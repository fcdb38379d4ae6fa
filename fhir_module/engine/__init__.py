"""The rule engine: PlanDefinition actions evaluated against orders and patient facts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ..cards import cards
from ..knowledge import Knowledge
from ..patient import PatientRecord
from ._evaluate import evaluate_orders
from ._findings import Finding
from ._orders import DrugOrder, draft_drug_orders, drug_orders, medication_pool, selected


def evaluate_hook(
    knowledge: Knowledge,
    hook: str,
    context: Mapping[str, Any],
    record: PatientRecord,
    *,
    today: date | None = None,
    prefetch: Any = None,
) -> dict[str, Any]:
    """The CDS Hooks response for a validated hook context and the patient's record.

    order-sign judges every draft order of a known drug; order-select judges the
    selected ones (the other drafts are judged when selected, or at order-sign). The orders'
    references resolve in draftOrders, the `prefetch` Bundles and the record's Medications,
    as `drug_orders` resolves them.
    """
    pool = medication_pool(context, prefetch, record.medications)
    drafts = draft_drug_orders(knowledge, context, pool)
    scope = selected(drafts, context.get("selections")) if hook == "order-select" else drafts
    if not scope:
        return {"cards": []}
    findings = evaluate_orders(
        knowledge, hook, scope, drafts, record, today or date.today(), pool
    )
    return {"cards": cards(findings)}


__all__ = ["DrugOrder", "Finding", "drug_orders", "evaluate_hook"]
