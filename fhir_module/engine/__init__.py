"""The rule engine: PlanDefinition actions evaluated against orders and patient facts,
into findings (the cards package renders them)."""

from ._evaluate import evaluate_orders
from ._findings import Action, Finding, Offer
from ._orders import (
    DrugOrder,
    bundle_resources,
    draft_drug_orders,
    drug_orders,
    drug_orders_in,
    medication_pool,
    own_drug_orders,
    selected,
    unresolved_medications,
)

__all__ = [
    "Action",
    "DrugOrder",
    "Finding",
    "Offer",
    "bundle_resources",
    "draft_drug_orders",
    "drug_orders",
    "drug_orders_in",
    "evaluate_orders",
    "medication_pool",
    "own_drug_orders",
    "selected",
    "unresolved_medications",
]
